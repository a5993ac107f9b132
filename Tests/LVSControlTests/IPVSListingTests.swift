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

/// The other `-L` layouts, `-S`, `-c` and `--timeout`, from ipvsadm 1.31's format strings.
@Suite struct IPVSListingLayoutTests {
    func dest(_ a: String, _ port: UInt16, _ m: ForwardingMethod, _ w: Int32, act: UInt32 = 0, inact: UInt32 = 0,
              upper: UInt32 = 0, lower: UInt32 = 0, persist: UInt32 = 0) -> DestinationSnapshot {
        DestinationSnapshot(address: IPAddress(a)!, port: port, method: m, weight: w, upperThreshold: upper,
                            lowerThreshold: lower, activeConns: act, inactiveConns: inact, persistConns: persist,
                            overloaded: false, stats: TrafficCounters())
    }

    func service(_ p: TransportProtocol, _ a: String, _ port: UInt16, _ sched: String, _ d: [DestinationSnapshot])
        -> ServiceSnapshot {
        ServiceSnapshot(key: ServiceKey(p, IPAddress(a)!, port), scheduler: sched, stats: TrafficCounters(), destinations: d)
    }

    var web: ServiceSnapshot {
        service(.tcp, "10.0.0.100", 80, "wlc", [
            dest("192.168.100.3", 80, .masquerade, 2, act: 25, inact: 160, upper: 500, lower: 400, persist: 3),
            dest("192.168.100.2", 80, .directRoute, 1, act: 12, inact: 87),
        ])
    }

    @Test func thresholds() {
        let expected = """
            IP Virtual Server version 1.2.1 (size=4096)
            Prot LocalAddress:Port            Uthreshold Lthreshold ActiveConn InActConn 
              -> RemoteAddress:Port
            TCP  10.0.0.100:80 wlc
              -> 192.168.100.2:80             0          0          12         87        
              -> 192.168.100.3:80             500        400        25         160       

            """
        #expect(IPVSListing.list([web], size: 4096, format: [.numeric, .thresholds]) == expected)
    }

    @Test func persistentConnections() {
        let expected = """
            IP Virtual Server version 1.2.1 (size=4096)
            Prot LocalAddress:Port            Weight    PersistConn ActiveConn InActConn 
              -> RemoteAddress:Port
            TCP  10.0.0.100:80 wlc
              -> 192.168.100.2:80             1         0           12         87        
              -> 192.168.100.3:80             2         3           25         160       

            """
        #expect(IPVSListing.list([web], size: 4096, format: [.numeric, .persistentConn]) == expected)
    }

    @Test func tunnelInfo() {
        let expected = """
            IP Virtual Server version 1.2.1 (size=4096)
            Prot LocalAddress:Port Scheduler Flags
              -> RemoteAddress:Port           Forward TunnelInfo    Weight ActiveConn InActConn
            TCP  10.0.0.100:80 wlc
              -> 192.168.100.2:80             Route   n/a           1      12         87        
              -> 192.168.100.3:80             Masq    n/a           2      25         160       

            """
        #expect(IPVSListing.list([web], size: 4096, format: [.numeric, .tunInfo]) == expected)
    }

    @Test func noSortKeepsTableOrder() {
        let udp = service(.udp, "10.0.0.53", 53, "rr", [])
        let out = IPVSListing.list([udp, web], size: 16, format: [.numeric, .noSort])
        let lines = out.split(separator: "\n")
        #expect(lines[3] == "UDP  10.0.0.53:53 rr")
        #expect(lines[4] == "TCP  10.0.0.100:80 wlc")
        #expect(lines[5].hasPrefix("  -> 192.168.100.3:80"))
        let sorted = IPVSListing.list([udp, web], size: 16, format: [.numeric]).split(separator: "\n")
        #expect(sorted[3] == "TCP  10.0.0.100:80 wlc")
        #expect(sorted[4].hasPrefix("  -> 192.168.100.2:80"))
    }

    /// Spec 7.3's `--rate` example (the TCP and UDP services): the service line uses largenum for
    /// all five columns, the server line plain `%8llu` for the first three.
    @Test func rateLayout() {
        let tcp = service(.tcp, "10.0.0.100", 80, "wlc", [
            dest("192.168.100.2", 80, .masquerade, 1), dest("192.168.100.3", 80, .masquerade, 2),
        ])
        let udp = service(.udp, "10.0.0.53", 53, "rr", [dest("192.168.100.10", 53, .masquerade, 1)])
        let table: [String: TrafficRates] = [
            "TCP  10.0.0.100:80": TrafficRates(cps: 9, inPPS: 121, outPPS: 116, inBPS: 8678, outBPS: 158242),
            "192.168.100.2:80": TrafficRates(cps: 3, inPPS: 41, outPPS: 39, inBPS: 2890, outBPS: 53021),
            "192.168.100.3:80": TrafficRates(cps: 6, inPPS: 80, outPPS: 77, inBPS: 5788, outBPS: 105221),
            "UDP  10.0.0.53:53": TrafficRates(cps: 210, inPPS: 210, outPPS: 0, inBPS: 15120, outBPS: 0),
            "192.168.100.10:53": TrafficRates(cps: 210, inPPS: 210, outPPS: 0, inBPS: 15120, outBPS: 0),
        ]
        let expected = """
            IP Virtual Server version 1.2.1 (size=4096)
            Prot LocalAddress:Port                 CPS    InPPS   OutPPS    InBPS   OutBPS
              -> RemoteAddress:Port
            TCP  10.0.0.100:80                       9      121      116     8678   158242
              -> 192.168.100.2:80                    3       41       39     2890    53021
              -> 192.168.100.3:80                    6       80       77     5788   105221
            UDP  10.0.0.53:53                      210      210        0    15120        0
              -> 192.168.100.10:53                 210      210        0    15120        0

            """
        let out = IPVSListing.list([udp, tcp], size: 4096, format: [.numeric, .rate]) { key, d in
            table[d.map { "\($0.address):\($0.port)" } ?? IPVSListing.serviceName(key)]!
        }
        #expect(out == expected)
    }

    @Test func rateServerColumnsIgnoreLargenumUnits() {
        let tcp = service(.tcp, "10.0.0.1", 80, "rr", [dest("10.0.1.1", 80, .masquerade, 1)])
        let big = TrafficRates(cps: 123_456_789, inPPS: 1, outPPS: 2, inBPS: 999_999_999, outBPS: 5)
        let out = IPVSListing.list([tcp], size: 1, format: [.rate]) { _, _ in big }
        let lines = out.split(separator: "\n")
        #expect(lines[3] == "TCP  10.0.0.1:80                   123456K        1        2  999999K        5")
        #expect(lines[4] == "  -> 10.0.1.1:80                  123456789        1        2  999999K        5")
        let exact = IPVSListing.list([tcp], size: 1, format: [.rate, .exact]) { _, _ in big }
        #expect(exact.split(separator: "\n")[3]
            == "TCP  10.0.0.1:80                  123456789        1        2 999999999        5")
    }

    var persistentWeb: ServiceSnapshot {
        var s = service(.tcp, "10.0.0.100", 443, "sh", [
            dest("192.168.100.3", 443, .directRoute, 0, act: 2, inact: 9, persist: 4),
            dest("192.168.100.2", 443, .directRoute, 1, act: 7, inact: 3, persist: 5),
        ])
        s.schedulerFlags = SchedulerFlags.sched1 | SchedulerFlags.sched2
        s.persistence = Persistence(timeout: 360_000, netmask: 0xffff_ff00)
        return s
    }

    /// Spec 7.2's persistent example line, 7.5's -A line, --persistent-conn (sorted by protocol, then address).
    @Test func persistentServiceGolden() {
        var full = service(.udp, "10.0.0.53", 53, "rr", [dest("192.168.100.10", 53, .masquerade, 1)])
        full.persistence = Persistence(timeout: 600_000)
        var v6 = service(.tcp, "2001:db8::80", 80, "wlc", [])
        v6.persistence = Persistence(timeout: 60_000, prefixLength: 64)
        let listing = """
            IP Virtual Server version 1.2.1 (size=4096)
            Prot LocalAddress:Port Scheduler Flags
              -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
            TCP  10.0.0.100:443 sh (sh-fallback,sh-port) persistent 360 mask 255.255.255.0
              -> 192.168.100.2:443            Route   1      7          3         
              -> 192.168.100.3:443            Route   0      2          9         
            UDP  10.0.0.53:53 rr persistent 600
              -> 192.168.100.10:53            Masq    1      0          0         
            TCP  [2001:db8::80]:80 wlc persistent 60 mask 64

            """
        #expect(IPVSListing.table([persistentWeb, full, v6], size: 4096) == listing)
        let rules = """
            -A -t 10.0.0.100:443 -s sh -p 360 -M 255.255.255.0 -b sh-fallback,sh-port
            -a -t 10.0.0.100:443 -r 192.168.100.2:443 -g -w 1
            -a -t 10.0.0.100:443 -r 192.168.100.3:443 -g -w 0
            -A -u 10.0.0.53:53 -s rr -p 600
            -a -u 10.0.0.53:53 -r 192.168.100.10:53 -m -w 1
            -A -t [2001:db8::80]:80 -s wlc -p 60 -M 64

            """
        #expect(IPVSListing.rules([persistentWeb, full, v6]) == rules)
        let persist = """
            IP Virtual Server version 1.2.1 (size=4096)
            Prot LocalAddress:Port            Weight    PersistConn ActiveConn InActConn 
              -> RemoteAddress:Port
            TCP  10.0.0.100:443 sh (sh-fallback,sh-port) persistent 360 mask 255.255.255.0
              -> 192.168.100.2:443            1         5           7          3         
              -> 192.168.100.3:443            0         4           2          9         

            """
        #expect(IPVSListing.list([persistentWeb], size: 4096, format: [.numeric, .persistentConn]) == persist)
    }

    /// Templates from a real Director listed by -c: state NONE, client network with port 0.
    @Test func templatesInConnectionListing() throws {
        let d = Director(DirectorConfiguration(connectionCapacity: 64), now: Timestamp(milliseconds: 0))
        let key = ServiceKey(.tcp, IPAddress("10.0.0.100")!, 443)
        try d.addService(ServiceSpec(key, scheduler: "rr", persistence: Persistence(netmask: 0xffff_ff00)))
        try d.addDestination(DestinationSpec(address: IPAddress("192.168.100.2")!, port: 443), to: key)
        let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: 2048, alignment: 16)
        defer { buf.deallocate() }
        let bytes = PacketBuilder().ethernet().ipv4(src: IPAddress("203.0.113.7")!, dst: IPAddress("10.0.0.100")!)
            .tcp(src: 51514, dst: 443, flags: TCPFlag.syn).bytes()
        buf.copyBytes(from: bytes)
        var frame = Frame(base: buf.baseAddress!, length: bytes.count, capacity: buf.count)
        _ = d.process(&frame, now: Timestamp(milliseconds: 0))
        let conns = d.connections(now: Timestamp(milliseconds: 2000)).sorted { $0.isTemplate && !$1.isTemplate }
        let expected = """
            IPVS connection entries
            pro expire state       source             virtual            destination
            TCP 05:58  NONE        203.0.113.0:0      10.0.0.100:443     192.168.100.2:443
            TCP 00:58  SYN_RECV    203.0.113.7:51514  10.0.0.100:443     192.168.100.2:443

            """
        #expect(IPVSListing.connections(conns) == expected)
    }


    @Test func ruleFormat() {
        let tcp = service(.tcp, "10.0.0.100", 80, "wlc", [
            dest("192.168.100.3", 80, .masquerade, 2), dest("192.168.100.2", 80, .masquerade, 1),
        ])
        let dr = service(.tcp, "10.0.0.100", 443, "rr", [dest("192.168.100.2", 443, .directRoute, 0)])
        let v6 = service(.udp, "2001:db8::53", 53, "wrr", [dest("fd00::10", 5353, .masquerade, 3)])
        let expected = """
            -A -t 10.0.0.100:80 -s wlc
            -a -t 10.0.0.100:80 -r 192.168.100.2:80 -m -w 1
            -a -t 10.0.0.100:80 -r 192.168.100.3:80 -m -w 2
            -A -t 10.0.0.100:443 -s rr
            -a -t 10.0.0.100:443 -r 192.168.100.2:443 -g -w 0
            -A -u [2001:db8::53]:53 -s wrr
            -a -u [2001:db8::53]:53 -r [fd00::10]:5353 -m -w 3

            """
        #expect(IPVSListing.rules([v6, dr, tcp]) == expected)
    }

    @Test func ipv6ListingIsNotTruncated() {
        let v6 = service(.tcp, "2001:db8:1234:5678:9abc:def0:1234:5678", 8080, "rr",
                         [dest("2001:db8:1234:5678:9abc:def0:1234:9999", 8080, .masquerade, 1)])
        let lines = IPVSListing.table([v6], size: 1).split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines[3] == "TCP  [2001:db8:1234:5678:9abc:def0:1234:5678]:8080 rr")
        #expect(lines[4] == "  -> [2001:db8:1234:5678:9abc:def0:1234:9999]:8080 Masq    1      0          0         ")
    }

    /// Spec 7.4's example rows that TCP/UDP connections can produce.
    @Test func connectionListing() {
        func ep(_ s: String) -> Endpoint {
            let i = s.lastIndex(of: ":")!
            return Endpoint(IPAddress(s[..<i])!, UInt16(s[s.index(after: i)...])!)
        }
        let rows = [
            ConnectionSnapshot(.tcp, state: "ESTABLISHED", expiresIn: 897_400, client: ep("203.0.113.7:51514"),
                               virtual: ep("10.0.0.100:80"), destination: ep("192.168.100.3:80")),
            ConnectionSnapshot(.tcp, state: "SYN_RECV", expiresIn: 42_999, client: ep("198.51.100.23:40022"),
                               virtual: ep("10.0.0.100:80"), destination: ep("192.168.100.2:80")),
            ConnectionSnapshot(.tcp, state: "TIME_WAIT", expiresIn: 118_000, client: ep("203.0.113.7:51498"),
                               virtual: ep("10.0.0.100:80"), destination: ep("192.168.100.2:80")),
            ConnectionSnapshot(.udp, state: "UDP", expiresIn: 287_000, client: ep("198.51.100.40:33001"),
                               virtual: ep("10.0.0.53:53"), destination: ep("192.168.100.10:53")),
            ConnectionSnapshot(.tcp, state: "NONE", expiresIn: 358_000, client: ep("203.0.113.0:0"),
                               virtual: ep("10.0.0.100:443"), destination: ep("192.168.100.2:443")),
        ]
        let expected = """
            IPVS connection entries
            pro expire state       source             virtual            destination
            TCP 14:57  ESTABLISHED 203.0.113.7:51514  10.0.0.100:80      192.168.100.3:80
            TCP 00:42  SYN_RECV    198.51.100.23:40022 10.0.0.100:80      192.168.100.2:80
            TCP 01:58  TIME_WAIT   203.0.113.7:51498  10.0.0.100:80      192.168.100.2:80
            UDP 04:47  UDP         198.51.100.40:33001 10.0.0.53:53       192.168.100.10:53
            TCP 05:58  NONE        203.0.113.0:0      10.0.0.100:443     192.168.100.2:443

            """
        #expect(IPVSListing.connections(rows) == expected)
        let persistent = IPVSListing.connections([], format: [.persistentConn])
        #expect(persistent == """
            IPVS connection entries
            pro expire state       source             virtual            destination        pe name          pe_data

            """)
    }

    @Test func longExpiryAndIPv6Connections() {
        let row = ConnectionSnapshot(.tcp, state: "ESTABLISHED", expiresIn: 7_205_000,
                                     client: Endpoint(IPAddress("2001:db8::7")!, 40000),
                                     virtual: Endpoint(IPAddress("2001:db8::100")!, 80),
                                     destination: Endpoint(IPAddress("fd00::2")!, 8080))
        #expect(IPVSListing.connections([row]).split(separator: "\n")[2]
            == "TCP 120:05 ESTABLISHED [2001:db8::7]:40000 [2001:db8::100]:80 [fd00::2]:8080")
    }

    @Test func timeoutLine() {
        #expect(IPVSListing.timeouts(.ipvsDefaults) == "Timeout (tcp tcpfin udp): 900 120 300\n")
        var t = Timeouts.ipvsDefaults
        t.set(tcp: 3600, tcpfin: 0, udp: 5)
        #expect(IPVSListing.timeouts(t) == "Timeout (tcp tcpfin udp): 3600 120 5\n")
    }
}
