import LVSEngine
import LVSPacket
import Testing

@testable import LVSControl

/// `persistence: {timeout: N, netmask: M}` in the configuration file, and in-place edits on reload.
@Suite struct PersistenceConfigTests {
    func ip(_ s: String) -> IPAddress { IPAddress(s)! }

    func service(_ persistence: String, address: String = "10.0.1.100", port: Int = 443) -> String {
        """
        interfaces: [d0]
        services:
          - address: \(address)
            port: \(port)
            scheduler: rr
            persistence: \(persistence)
            real_servers:
              - address: \(address.contains(":") ? "fd00::2" : "192.168.10.2")
        """
    }

    func parsed(_ text: String) throws -> Persistence? {
        try LVSDConfiguration.parse(text: text, file: "lvsd.yaml").services[0].spec.persistence
    }

    func failure(_ text: String) -> String? {
        do {
            _ = try LVSDConfiguration.parse(text: text, file: "lvsd.yaml")
            return nil
        } catch {
            return error.description
        }
    }

    @Test func parses() throws {
        #expect(try parsed(service("{timeout: 360, netmask: 255.255.255.0}"))
            == Persistence(timeout: 360_000, netmask: 0xffff_ff00))
        #expect(try parsed(service("{}")) == Persistence())
        #expect(try parsed(service("{timeout: 60}")) == Persistence(timeout: 60_000))
        #expect(try parsed(service("{timeout: 60, netmask: 48}", address: "2001:db8::1"))
            == Persistence(timeout: 60_000, prefixLength: 48))
        #expect(try parsed(service("null")) == nil)
    }

    @Test func errorsPointAtTheNode() {
        #expect(failure(service("{timeout: 0}")) == "lvsd.yaml:6:28: 'timeout' must be 1..2678400, got '0'"
            || failure(service("{timeout: 0}"))?.hasPrefix("lvsd.yaml:6:28: 'timeout'") == true)
        #expect(failure(service("{netmask: 255.255.255.x}"))
            == "lvsd.yaml:6:28: 'netmask' must be a dotted IPv4 netmask such as 255.255.255.0, got '255.255.255.x'")
        let unknown = failure(service("{timeout: 60, mask: 24}"))
        #expect(unknown?.hasPrefix("lvsd.yaml:6:") == true && unknown?.contains("unknown key 'mask'") == true, "\(unknown ?? "")")
        #expect(failure(service("yes")) == "lvsd.yaml:6:18: 'persistence' must be a mapping, got 'yes'")
        #expect(failure(service("{netmask: 129}", address: "2001:db8::1"))?.hasPrefix("lvsd.yaml:6:28: 'netmask'") == true)
        #expect(failure(service("{}", port: 21))
            == "lvsd.yaml:6:18: persistent FTP services (port 21) are not supported: SwiftLVS has no FTP helper")
    }

    /// Ignores the restart notice for connection_capacity (the test director is small).
    static func isServiceEdit(_ c: ConfigChange) -> Bool {
        if case .needsRestart = c { return false }
        return true
    }

    @Test func reloadEditsPersistenceInPlace() throws {
        let d = Director(DirectorConfiguration(connectionCapacity: 64))
        let first = try LVSDConfiguration.parse(text: service("{timeout: 360}"))
        try ConfigApplier.apply(first, to: d)
        let key = ServiceKey(.tcp, ip("10.0.1.100"), 443)
        #expect(d.service(key)?.persistence == Persistence(timeout: 360_000))
        let next = try LVSDConfiguration.parse(text: service("{timeout: 600, netmask: 255.255.255.0}"))
        let changes = try ConfigApplier.changes(next, for: d).filter(Self.isServiceEdit)
        #expect(changes.map(\.description) == [
            "edit service TCP 10.0.1.100:443: persistence {timeout: 360, netmask: 255.255.255.255} -> "
                + "{timeout: 600, netmask: 255.255.255.0}",
        ])
        try ConfigApplier.apply(next, to: d)
        #expect(d.service(key)?.persistence == Persistence(timeout: 600_000, netmask: 0xffff_ff00))
        #expect(try ConfigApplier.changes(next, for: d).filter(Self.isServiceEdit).isEmpty)
        let off = try LVSDConfiguration.parse(text: service("null"))
        #expect(try ConfigApplier.changes(off, for: d).filter(Self.isServiceEdit).map(\.description) == [
            "edit service TCP 10.0.1.100:443: persistence {timeout: 600, netmask: 255.255.255.0} -> none",
        ])
    }
}
