import LVSEngine
import LVSPacket
import Testing

@testable import LVSControl

/// Double-NAT's control surface: `--double-nat` and `--vdport-range` on the lvsadm command line,
/// `method: doublenat` and `vdport_range` in the configuration file, listings and `-S`.
@Suite struct DoubleNATAdminTests {
    let vip = IPAddress("10.0.0.100")!
    let rip = IPAddress("192.168.10.2")!
    var web: ServiceKey { ServiceKey(.tcp, vip, 80) }

    func parse(_ line: String) throws(IPVSCommandError) -> IPVSCommand {
        try IPVSCommand.parse(line.split(separator: " ").map(String.init))
    }

    func failure(_ line: String) -> IPVSCommandError? {
        do {
            _ = try parse(line)
            return nil
        } catch {
            return error
        }
    }

    @Test func lvsadmFlags() throws {
        #expect(try parse("-a -t 10.0.0.100:80 -r 192.168.10.2:8080 --double-nat -w 2")
            == .addServer(DestinationSpec(address: rip, port: 8080, weight: 2, method: .doubleNAT), to: web))
        #expect(try parse("-A -t 10.0.0.100:80 -s rr --vdport-range 2000-2999")
            == .addService(ServiceSpec(web, scheduler: "rr", virtualPortRange: 2000...2999)))
        #expect(failure("-a -t 10.0.0.100:80 -r 192.168.10.2:8080 --double-nat -m")
            == IPVSCommandError(.usage, "multiple 'forwarding-method' options specified"))
        #expect(failure("-A -t 10.0.0.100:80 --vdport-range 3000-2000")
            == IPVSCommandError(.usage, "illegal vdport range specified (want LOW-HIGH within 1-65535, LOW <= HIGH)"))
        #expect(failure("-a -t 10.0.0.100:80 -r 192.168.10.2 --vdport-range 1-2")
            == IPVSCommandError(.usage, "Illegal 'vdport-range' option with the 'add-server' command"))
    }

    @Test func listingAndSave() throws {
        let d = Director(DirectorConfiguration(connectionCapacity: 64))
        try d.addService(ServiceSpec(web, scheduler: "rr", virtualPortRange: 2000...2999))
        try d.addDestination(DestinationSpec(address: rip, port: 8080, method: .doubleNAT), to: web)
        let rules = IPVSListing.rules(d.services())
        #expect(rules == """
            -A -t 10.0.0.100:80 -s rr --vdport-range 2000-2999
            -a -t 10.0.0.100:80 -r 192.168.10.2:8080 --double-nat -w 1

            """)
        let table = IPVSListing.service(d.service(web)!, format: .numeric)
        let line = table.split(separator: "\n").first { $0.hasPrefix("  -> 192.168.10.2:8080") }
        #expect(line?.contains(" DblNat  1 ") == true)
    }

    @Test func configFile() throws {
        let c = try LVSDConfiguration.parse(text: """
            interfaces: [d0]
            services:
              - address: 10.0.0.100
                port: 80
                vdport_range: 2000-2999
                real_servers:
                  - {address: 192.168.10.2, port: 8080, method: doublenat}
            """)
        #expect(c.services[0].spec.virtualPortRange == 2000...2999)
        #expect(c.services[0].destinations == [DestinationSpec(address: rip, port: 8080, method: .doubleNAT)])
        #expect(throws: ConfigError.self) {
            try LVSDConfiguration.parse(text: """
                interfaces: [d0]
                services:
                  - {address: 10.0.0.100, port: 80, vdport_range: 0-10}
                """, file: "lvsd.yaml")
        }
        do {
            _ = try LVSDConfiguration.parse(text: """
                interfaces: [d0]
                services:
                  - {address: 10.0.0.100, port: 80, vdport_range: 9-8}
                """, file: "lvsd.yaml")
        } catch {
            #expect(error.description
                == "lvsd.yaml:3:51: 'vdport_range' must be LOW-HIGH with 1 <= LOW <= HIGH <= 65535, got '9-8'")
        }
    }
}

/// FULLNAT's control surface: `--fullnat`, `--laddr`, `method: fullnat`, `local_addresses`.
@Suite struct FullNATAdminTests {
    let vip = IPAddress("10.0.0.100")!
    let rip = IPAddress("192.168.10.2")!
    let lip = IPAddress("172.16.40.10")!
    var web: ServiceKey { ServiceKey(.tcp, vip, 80) }

    func parse(_ line: String) throws(IPVSCommandError) -> IPVSCommand {
        try IPVSCommand.parse(line.split(separator: " ").map(String.init))
    }

    @Test func lvsadmFlagsListingAndSave() throws {
        #expect(try parse("-A -t 10.0.0.100:80 -s rr --laddr 172.16.40.10,172.16.40.11")
            == .addService(ServiceSpec(web, scheduler: "rr", localAddresses: [lip, IPAddress("172.16.40.11")!])))
        #expect(try parse("-a -t 10.0.0.100:80 -r 192.168.10.2:8080 --fullnat")
            == .addServer(DestinationSpec(address: rip, port: 8080, method: .fullNAT), to: web))
        #expect(throws: IPVSCommandError.self) { try parse("-A -t 10.0.0.100:80 --laddr 172.16.40.300") }
        let d = Director(DirectorConfiguration(connectionCapacity: 64))
        try d.addService(ServiceSpec(web, scheduler: "rr", localAddresses: [lip]))
        try d.addDestination(DestinationSpec(address: rip, port: 8080, method: .fullNAT), to: web)
        #expect(IPVSListing.rules(d.services()) == """
            -A -t 10.0.0.100:80 -s rr --laddr 172.16.40.10
            -a -t 10.0.0.100:80 -r 192.168.10.2:8080 --fullnat -w 1

            """)
        let line = IPVSListing.service(d.service(web)!, format: .numeric).split(separator: "\n")
            .first { $0.hasPrefix("  -> 192.168.10.2:8080") }
        #expect(line?.contains(" FullNat 1 ") == true)
    }

    @Test func configFile() throws {
        let c = try LVSDConfiguration.parse(text: """
            interfaces: [d0]
            services:
              - address: 10.0.0.100
                port: 80
                local_addresses: [172.16.40.10]
                real_servers:
                  - {address: 192.168.10.2, port: 8080, method: fullnat}
            """)
        #expect(c.services[0].spec.localAddresses == [lip])
        #expect(c.services[0].destinations == [DestinationSpec(address: rip, port: 8080, method: .fullNAT)])
        do {
            _ = try LVSDConfiguration.parse(text: """
                interfaces: [d0]
                services:
                  - address: 10.0.0.100
                    port: 80
                    real_servers:
                      - {address: 192.168.10.2, port: 8080, method: fullnat}
                """, file: "lvsd.yaml")
            Issue.record("accepted a fullnat server without local_addresses")
        } catch {
            #expect(error.description
                == "lvsd.yaml:6:9: real server 192.168.10.2:8080 is fullnat, so service TCP 10.0.0.100:80 needs 'local_addresses'")
        }
    }
}

/// FULLNAT's client-address delivery on the command line and in the configuration file.
@Suite struct ClientAddressAdminTests {
    let web = ServiceKey(.tcp, IPAddress("10.0.0.100")!, 80)
    let lip = IPAddress("172.16.40.10")!

    @Test func lvsadm() throws {
        #expect(try IPVSCommand.parse("-A -t 10.0.0.100:80 -s rr --laddr 172.16.40.10 --client-address proxy_v2".split(separator: " ").map(String.init))
            == .addService(ServiceSpec(web, scheduler: "rr", localAddresses: [lip], clientAddress: .proxyV2)))
        #expect(try IPVSCommand.parse("-E -t 10.0.0.100:80 -s rr --laddr 172.16.40.10 --client-address toa".split(separator: " ").map(String.init))
            == .editService(ServiceSpec(web, scheduler: "rr", localAddresses: [lip], clientAddress: .toa),
                            keep: ServiceExtensions(matches: true, udpTimeout: true, virtualPortRange: true)))
        #expect(throws: IPVSCommandError(.usage, "illegal client-address method `uoa' (want none, proxy_v2 or toa)")) {
            try IPVSCommand.parse("-A -t 10.0.0.100:80 --client-address uoa".split(separator: " ").map(String.init))
        }
    }

    @Test func configFile() throws {
        let c = try LVSDConfiguration.parse(text: """
            interfaces: [d0]
            services:
              - {address: 10.0.0.100, port: 80, local_addresses: [172.16.40.10], client_address: proxy_v2}
              - {address: 10.0.0.100, port: 81, local_addresses: [172.16.40.10], client_address: toa}
            """)
        #expect(c.services.map(\.spec.clientAddress) == [.proxyV2, .toa])
        do {
            _ = try LVSDConfiguration.parse(text: """
                interfaces: [d0]
                services:
                  - {protocol: udp, address: 10.0.0.100, port: 53, client_address: toa}
                """, file: "lvsd.yaml")
            Issue.record("accepted TOA on a UDP service")
        } catch {
            #expect(error.description == "lvsd.yaml:3:68: 'client_address: toa' is for TCP services only")
        }
        #expect(throws: DirectorError.invalid("client addresses (PROXY protocol v2, TOA) are for TCP services only")) {
            try Director(DirectorConfiguration(connectionCapacity: 64)).addService(
                ServiceSpec(ServiceKey(.udp, IPAddress("10.0.0.100")!, 53), clientAddress: .proxyV2))
        }
    }
}
