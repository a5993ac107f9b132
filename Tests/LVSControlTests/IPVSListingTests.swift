import LVSEngine
import LVSPacket
import Testing

@testable import LVSControl

/// Golden output from ipvsadm 1.31's formats (spec 7.2 and 7.3 examples).
@Suite struct IPVSListingTests {
    func dest(_ a: String, _ port: UInt16, _ m: ForwardingMethod, _ w: Int32, _ act: UInt32, _ inact: UInt32,
              _ stats: TrafficCounters = TrafficCounters()) -> DestinationSnapshot {
        DestinationSnapshot(address: IPAddress(a)!, port: port, method: m, weight: w, upperThreshold: 0,
                            lowerThreshold: 0, activeConns: act, inactiveConns: inact, persistConns: 0,
                            overloaded: false, stats: stats)
    }

    func counters(_ c: UInt64, _ ip: UInt64, _ op: UInt64, _ ib: UInt64, _ ob: UInt64) -> TrafficCounters {
        var t = TrafficCounters()
        (t.connections, t.inPackets, t.outPackets, t.inBytes, t.outBytes) = (c, ip, op, ib, ob)
        return t
    }

    @Test func defaultListing() {
        let svc = ServiceSnapshot(
            key: ServiceKey(.tcp, IPAddress("10.0.0.100")!, 80), scheduler: "wlc", stats: TrafficCounters(),
            destinations: [dest("192.168.100.3", 80, .masquerade, 2, 25, 160), dest("192.168.100.2", 80, .masquerade, 1, 12, 87)])
        let expected = """
            IP Virtual Server version 1.2.1 (size=4096)
            Prot LocalAddress:Port Scheduler Flags
              -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
            TCP  10.0.0.100:80 wlc
              -> 192.168.100.2:80             Masq    1      12         87        
              -> 192.168.100.3:80             Masq    2      25         160       

            """
        #expect(IPVSListing.table([svc], size: 4096) == expected)
    }

    @Test func statsListing() {
        let tcp = ServiceSnapshot(
            key: ServiceKey(.tcp, IPAddress("10.0.0.100")!, 80), scheduler: "wlc",
            stats: counters(15151, 280923, 264544, 18_600_465, 361_449_000),
            destinations: [
                dest("192.168.100.2", 80, .masquerade, 1, 0, 0, counters(5120, 93811, 88012, 6_201_344, 120_338_000)),
                dest("192.168.100.3", 80, .masquerade, 2, 0, 0, counters(10031, 187112, 176532, 12_399_121, 241_110_000)),
            ])
        let udp = ServiceSnapshot(
            key: ServiceKey(.udp, IPAddress("10.0.0.53")!, 53), scheduler: "rr",
            stats: counters(401233, 401233, 0, 28_888_776, 0),
            destinations: [dest("192.168.100.10", 53, .masquerade, 1, 0, 0, counters(401233, 401233, 0, 28_888_776, 0))])
        let expected = """
            IP Virtual Server version 1.2.1 (size=4096)
            Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes
              -> RemoteAddress:Port
            TCP  10.0.0.100:80                   15151   280923   264544 18600465  361449K
              -> 192.168.100.2:80                 5120    93811    88012  6201344  120338K
              -> 192.168.100.3:80                10031   187112   176532 12399121  241110K
            UDP  10.0.0.53:53                   401233   401233        0 28888776        0
              -> 192.168.100.10:53              401233   401233        0 28888776        0

            """
        #expect(IPVSListing.stats([udp, tcp], size: 4096) == expected)
    }

    @Test(arguments: [
        (UInt64(99_999_999), " 99999999"), (100_000_000, "  100000K"), (999_999_999, "  999999K"),
        (1_000_000_000, "    1000M"), (99_999_999_999, "   99999M"), (100_000_000_000, "     100G"),
        (100_000_000_000_000, "     100T"),
    ])
    func largenum(_ value: UInt64, _ text: String) {
        #expect(text.count == 9)
        #expect(IPVSListing.largenum(value) == text)
    }

    @Test func exactWidensToTheNumber() {
        #expect(IPVSListing.largenum(12, exact: true) == "       12")
        #expect(IPVSListing.largenum(123_456_789_012, exact: true) == " 123456789012")
    }
}
