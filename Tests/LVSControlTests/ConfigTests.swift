import LVSEngine
import LVSPacket
import Testing

@testable import LVSControl

/// The configuration model itself: defaults, conversions to engine types, error text.
@Suite struct ConfigTests {
    @Test func errorDescriptionIsFileLineColumnMessage() {
        let e = ConfigError(file: "/etc/lvsd.yaml", line: 12, column: 7, message: "unknown key 'x'")
        #expect(e.description == "/etc/lvsd.yaml:12:7: unknown key 'x'")
        let whole = ConfigError(file: "/etc/lvsd.yaml", line: nil, column: nil, message: "cannot open: No such file")
        #expect(whole.description == "/etc/lvsd.yaml: cannot open: No such file")
    }

    @Test func defaults() {
        let c = LVSDConfiguration(interfaces: ["d0"])
        #expect(c.controlSocket == "/run/lvsd.sock")
        #expect(c.metricsListen == nil)
        #expect(c.connectionCapacity == 1_048_576)
        #expect(c.gateway == nil)
        #expect(c.timeouts == ConfigTimeouts(tcp: 900, tcpfin: 120, udp: 300))
        #expect(c.services.isEmpty)
    }

    @Test func defaultTimeoutsAreIPVSDefaults() {
        #expect(ConfigTimeouts().engineTimeouts == Timeouts.ipvsDefaults)
        #expect(ConfigTimeouts(Timeouts.ipvsDefaults) == ConfigTimeouts())
    }

    @Test func timeoutsSetOnlyTheirThreeStates() {
        let t = ConfigTimeouts(tcp: 600, tcpfin: 30, udp: 20).engineTimeouts
        #expect(t[.established] == 600_000)
        #expect(t[.finWait] == 30_000)
        #expect(t.udp == 20_000)
        #expect(t[.synRecv] == Timeouts.ipvsDefaults[.synRecv])
        #expect(t[.timeWait] == Timeouts.ipvsDefaults[.timeWait])
        #expect(ConfigTimeouts(t) == ConfigTimeouts(tcp: 600, tcpfin: 30, udp: 20))
    }

    @Test func directorConfigurationCarriesCapacityAndTimeouts() {
        var c = LVSDConfiguration(interfaces: ["d0"])
        c.connectionCapacity = 4096
        c.timeouts.tcp = 60
        let d = c.directorConfiguration()
        #expect(d.connectionCapacity == 4096)
        #expect(d.timeouts[.established] == 60_000)
    }

    @Test func serviceSpecsPairs() {
        let key = ServiceKey(.udp, IPAddress("10.0.0.1")!, 53)
        let dest = DestinationSpec(address: IPAddress("192.168.0.2")!, port: 53)
        let c = LVSDConfiguration(interfaces: ["d0"], services: [ConfiguredService(ServiceSpec(key, scheduler: "rr"), [dest])])
        let pairs = c.serviceSpecs
        #expect(pairs.count == 1)
        #expect(pairs[0].0 == ServiceSpec(key, scheduler: "rr"))
        #expect(pairs[0].1 == [dest])
    }

    @Test(arguments: [
        ("127.0.0.1", true), ("127.255.0.9", true), ("::1", true),
        ("10.0.0.1", false), ("128.0.0.1", false), ("::2", false), ("::ffff:127.0.0.1", true), ("0.0.0.0", false),
    ])
    func loopback(_ text: String, _ expected: Bool) {
        #expect(ListenAddress.isLoopback(IPAddress(text)!) == expected)
    }

    @Test func listenAddressText() {
        #expect(ListenAddress(IPAddress("127.0.0.1")!, 9117).description == "127.0.0.1:9117")
        #expect(ListenAddress(IPAddress("::1")!, 9117).description == "[::1]:9117")
    }
}
