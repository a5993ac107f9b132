// Persistence templates (spec 2.4): a client network sticks to one real server across new
// connections for the persistence timeout, templates outlive their connections by that timeout,
// invalid templates are replaced, and the table never exceeds its capacity. Fake clock throughout.
import LVSPacket
import Testing

@testable import LVSEngine

@Suite("persistence templates")
struct PersistenceTests {
    static let vip = IPAddress("10.0.0.100")!
    static let rsA = IPAddress("192.168.1.10")!
    static let rsB = IPAddress("192.168.1.11")!
    static let rsC = IPAddress("192.168.1.12")!
    static let dns = ServiceKey(.udp, vip, 53)
    static let web = ServiceKey(.tcp, vip, 80)
    static let t0: UInt64 = 1_000_000

    static func at(_ ms: UInt64) -> Timestamp { Timestamp(milliseconds: t0 + ms) }
    static func client(_ n: UInt8) -> IPAddress { IPAddress(192, 0, 2, n) }

    /// A persistent rr UDP service (port 53) and TCP service (port 80) on rsA, rsB(, rsC).
    func lab(capacity: Int = 1024, timeout: UInt64 = 60_000, netmask: UInt32 = .max, servers: Int = 2,
             expireQuiescent: Bool = false) throws -> (Director, PacketPump) {
        let d = Director(DirectorConfiguration(connectionCapacity: capacity, expireQuiescentTemplate: expireQuiescent),
                         now: Self.at(0))
        let p = Persistence(timeout: timeout, netmask: netmask)
        for key in [Self.dns, Self.web] {
            try d.addService(ServiceSpec(key, scheduler: "rr", persistence: p))
            for rs in [Self.rsA, Self.rsB, Self.rsC].prefix(servers) {
                try d.addDestination(DestinationSpec(address: rs, port: key.port), to: key)
            }
        }
        return (d, PacketPump(d))
    }

    func udp(_ p: PacketPump, _ c: IPAddress, _ cport: UInt16, _ now: Timestamp) -> IPAddress? {
        if case .forward(.realServer, let hop) = p.udp(c, cport, Self.vip, 53, now: now) { return hop }
        return nil
    }

    func dest(_ d: Director, _ key: ServiceKey, _ rs: IPAddress) -> DestinationSnapshot {
        d.service(key)!.destinations.first { $0.address == rs }!
    }

    func templates(_ d: Director, _ now: Timestamp) -> [ConnectionSnapshot] {
        d.connections(now: now).filter(\.isTemplate)
    }

    /// 96 bytes of NAT/DR/persistence state plus Double-NAT/FULLNAT's local port and LIP index
    /// and PROXY v2's sequence shift (the budget is 128 B per connection of capacity, buckets
    /// included).
    @Test func connectionStaysWithin112Bytes() {
        #expect(MemoryLayout<Connection>.stride == 112)
    }

    @Test func aClientSticksWhileOthersAreSpread() throws {
        let (d, p) = try lab(servers: 3)
        let first = udp(p, Self.client(10), 1000, Self.at(0))
        #expect(first == Self.rsA)
        var others: [IPAddress] = []
        for i in 0..<30 {
            // The sticky client opens a new connection between every other client's.
            #expect(udp(p, Self.client(10), UInt16(2000 + i), Self.at(UInt64(i) * 100)) == first)
            others.append(udp(p, Self.client(UInt8(20 + i)), 3000, Self.at(UInt64(i) * 100))!)
        }
        // rr over the other clients only: the sticky client's connections never consumed a turn.
        #expect(others.prefix(3) == [Self.rsB, Self.rsC, Self.rsA])
        #expect(Set(others).count == 3)
        #expect(dest(d, Self.dns, Self.rsA).persistConns == 11)
        #expect(dest(d, Self.dns, Self.rsB).persistConns == 10)
        #expect(dest(d, Self.dns, Self.rsA).inactiveConns == 31 + 10)
        #expect(templates(d, Self.at(3000)).count == 31)
        #expect(d.connectionCount == 31 + 61)
    }

    @Test func netmaskGroupsAClientNetwork() throws {
        let (d, p) = try lab(netmask: 0xffff_ff00)
        #expect(udp(p, IPAddress(192, 0, 2, 10), 1000, Self.at(0)) == Self.rsA)
        #expect(udp(p, IPAddress(192, 0, 2, 77), 1000, Self.at(10)) == Self.rsA)
        #expect(udp(p, IPAddress(192, 0, 2, 200), 1001, Self.at(20)) == Self.rsA)
        #expect(udp(p, IPAddress(198, 51, 100, 5), 1000, Self.at(30)) == Self.rsB)
        #expect(udp(p, IPAddress(198, 51, 100, 9), 1000, Self.at(40)) == Self.rsB)
        let t = templates(d, Self.at(50))
        #expect(t.count == 2)
        #expect(t.contains { $0.client == Endpoint(IPAddress(192, 0, 2, 0), 0) && $0.state == "NONE" })
        #expect(dest(d, Self.dns, Self.rsA).persistConns == 1)
        #expect(dest(d, Self.dns, Self.rsA).inactiveConns == 3)
    }

    @Test func ipv6PrefixGroupsClients() throws {
        let d = Director(DirectorConfiguration(connectionCapacity: 64), now: Self.at(0))
        let vip6 = IPAddress("2001:db8::100")!
        let key = ServiceKey(.udp, vip6, 53)
        try d.addService(ServiceSpec(key, scheduler: "rr", persistence: Persistence(prefixLength: 64)))
        try d.addDestination(DestinationSpec(address: IPAddress("fd00::2")!, port: 53), to: key)
        try d.addDestination(DestinationSpec(address: IPAddress("fd00::3")!, port: 53), to: key)
        let p = PacketPump(d)
        func send(_ c: String) -> Verdict {
            p.send(PacketBuilder().ethernet().ipv6(src: IPAddress(c)!, dst: vip6).udp(src: 999, dst: 53).payload("q")
                .bytes(), now: Self.at(0))
        }
        let a = send("2001:db8:1:1::10")
        #expect(send("2001:db8:1:1::99") == a)
        #expect(send("2001:db8:1:2::10") != a)
    }

    @Test func templateOutlivesItsConnectionsByTheTimeout() throws {
        let (d, p) = try lab(timeout: 60_000)
        d.setTimeouts(tcp: 0, tcpfin: 0, udp: 10)
        #expect(udp(p, Self.client(10), 1000, Self.at(0)) == Self.rsA)
        // The connection expires at 10 s; the template then lives 60 s more.
        for s in stride(from: UInt64(1), through: 69, by: 1) { d.advance(to: Self.at(s * 1000)) }
        #expect(d.connectionCount == 1)
        #expect(templates(d, Self.at(69_000)).count == 1)
        #expect(dest(d, Self.dns, Self.rsA).persistConns == 1)
        #expect(dest(d, Self.dns, Self.rsA).inactiveConns == 0)
        d.advance(to: Self.at(70_100))
        #expect(d.connectionCount == 0)
        #expect(dest(d, Self.dns, Self.rsA).persistConns == 0)
        // Scheduled afresh: rr moves on to rsB.
        #expect(udp(p, Self.client(10), 1001, Self.at(71_000)) == Self.rsB)
    }

    @Test func useWithinTheTimeoutKeepsTheServer() throws {
        let (_, p) = try lab(timeout: 60_000)
        #expect(udp(p, Self.client(10), 1000, Self.at(0)) == Self.rsA)
        #expect(udp(p, Self.client(11), 1000, Self.at(0)) == Self.rsB)
        #expect(udp(p, Self.client(10), 1001, Self.at(59_000)) == Self.rsA)
    }

    @Test func aLongConnectionKeepsItsTemplateAlive() throws {
        let (d, p) = try lab(timeout: 60_000)
        d.setTimeouts(tcp: 0, tcpfin: 0, udp: 10)
        // One flow, refreshed every 5 s until 100 s: the template's timer fires at 60 s with a
        // controlled connection and is re-armed.
        for s in stride(from: UInt64(0), through: 100, by: 5) {
            #expect(udp(p, Self.client(10), 1000, Self.at(s * 1000)) == Self.rsA)
            d.advance(to: Self.at(s * 1000 + 1))
        }
        for s in stride(from: UInt64(101), through: 160, by: 1) { d.advance(to: Self.at(s * 1000)) }
        #expect(d.connectionCount == 1)  // the flow ended at 110 s; the template lasts until 170 s
        #expect(udp(p, Self.client(10), 2000, Self.at(165_000)) == Self.rsA)
    }

    @Test func removedDestinationInvalidatesTheTemplate() throws {
        let (d, p) = try lab()
        #expect(udp(p, Self.client(10), 1000, Self.at(0)) == Self.rsA)
        try d.removeDestination(address: Self.rsA, port: 53, from: Self.dns)
        #expect(udp(p, Self.client(10), 1001, Self.at(100)) == Self.rsB)
        #expect(udp(p, Self.client(10), 1002, Self.at(200)) == Self.rsB)
        #expect(dest(d, Self.dns, Self.rsB).persistConns == 1)
        // The old connection still holds the dead template until it goes.
        let live = templates(d, Self.at(300))
        #expect(live.count == 2)
    }

    @Test func quiescedServerKeepsPersistenceByDefault() throws {
        let (d, p) = try lab()
        #expect(udp(p, Self.client(10), 1000, Self.at(0)) == Self.rsA)
        try d.editDestination(DestinationSpec(address: Self.rsA, port: 53, weight: 0), in: Self.dns)
        #expect(udp(p, Self.client(10), 1001, Self.at(100)) == Self.rsA)
        #expect(udp(p, Self.client(11), 1000, Self.at(100)) == Self.rsB)
    }

    @Test func expireQuiescentTemplateMovesTheClient() throws {
        let (d, p) = try lab(expireQuiescent: true)
        #expect(udp(p, Self.client(10), 1000, Self.at(0)) == Self.rsA)
        try d.editDestination(DestinationSpec(address: Self.rsA, port: 53, weight: 0), in: Self.dns)
        #expect(udp(p, Self.client(10), 1001, Self.at(100)) == Self.rsB)
        #expect(udp(p, Self.client(10), 1002, Self.at(200)) == Self.rsB)
        #expect(dest(d, Self.dns, Self.rsB).persistConns == 1)
    }

    @Test func tableNeverExceedsCapacity() throws {
        let (d, p) = try lab(capacity: 5)
        #expect(udp(p, Self.client(10), 1000, Self.at(0)) != nil)  // template + connection
        #expect(udp(p, Self.client(11), 1000, Self.at(0)) != nil)  // 4 entries
        #expect(udp(p, Self.client(12), 1000, Self.at(0)) == nil)  // needs 2, 1 left: no template either
        #expect(d.connectionCount == 4)
        #expect(udp(p, Self.client(10), 1001, Self.at(0)) == Self.rsA)  // existing template: 1 entry
        #expect(d.connectionCount == 5)
        #expect(udp(p, Self.client(10), 1002, Self.at(0)) == nil)
        #expect(d.connectionCount == 5)
        #expect(d.counters[.tableFull] == 2)
        #expect(dest(d, Self.dns, Self.rsA).persistConns + dest(d, Self.dns, Self.rsB).persistConns == 2)
    }

    @Test func tcpConnectionsShareTheTemplateAndRepliesNeverHitIt() throws {
        let (d, p) = try lab()
        let c = Self.client(10)
        #expect(p.tcp(c, 40000, Self.vip, 80, TCPFlag.syn, now: Self.at(0)) == .forward(side: .realServer, nextHop: Self.rsA))
        #expect(p.tcp(c, 40001, Self.vip, 80, TCPFlag.syn, now: Self.at(1)) == .forward(side: .realServer, nextHop: Self.rsA))
        // A "reply" to the template's key (client port 0) is not a connection's reply.
        #expect(p.tcp(Self.rsA, 80, c, 0, TCPFlag.syn | TCPFlag.ack, now: Self.at(2)) == .notOurs)
        // A client packet from port 0 does not match the template either.
        #expect(p.tcp(c, 0, Self.vip, 80, TCPFlag.ack, now: Self.at(3)) == .drop(.noConnection))
        #expect(templates(d, Self.at(4)).map(\.proto) == [.tcp])
    }

    @Test func removingTheServiceFreesTemplates() throws {
        let (d, p) = try lab()
        for i in 0..<10 { _ = udp(p, Self.client(UInt8(10 + i)), 1000, Self.at(0)) }
        #expect(d.connectionCount == 20)
        try d.removeService(Self.dns)
        #expect(d.connectionCount == 0)
    }

    @Test func persistenceIsEditedInPlaceAndValidated() throws {
        let (d, p) = try lab()
        #expect(udp(p, Self.client(10), 1000, Self.at(0)) == Self.rsA)
        try d.editService(ServiceSpec(Self.dns, scheduler: "rr", persistence: Persistence(timeout: 120_000)))
        #expect(d.service(Self.dns)?.persistence == Persistence(timeout: 120_000))
        #expect(udp(p, Self.client(10), 1001, Self.at(100)) == Self.rsA)
        try d.editService(ServiceSpec(Self.dns, scheduler: "rr"))
        #expect(d.service(Self.dns)?.persistence == nil)
        #expect(udp(p, Self.client(10), 1002, Self.at(200)) == Self.rsB)
        #expect(throws: DirectorError.self) {
            try d.addService(ServiceSpec(ServiceKey(.tcp, Self.vip, 21), persistence: Persistence()))
        }
        #expect(throws: DirectorError.self) {
            try d.addService(ServiceSpec(ServiceKey(.tcp, Self.vip, 443), persistence: Persistence(timeout: 10)))
        }
    }
}

@Suite("persistence and connection reuse")
struct PersistenceReuseTests {
    @Test func aReusedTupleFollowsANewTemplate() throws {
        let vip = IPAddress("10.0.0.100")!, a = IPAddress("192.168.1.10")!, b = IPAddress("192.168.1.11")!
        let c = IPAddress("192.0.2.10")!
        let web = ServiceKey(.tcp, vip, 80)
        let d = Director(DirectorConfiguration(connectionCapacity: 64), now: Timestamp(milliseconds: 0))
        try d.addService(ServiceSpec(web, scheduler: "rr", persistence: Persistence(timeout: 60_000)))
        try d.addDestination(DestinationSpec(address: a, port: 80), to: web)
        try d.addDestination(DestinationSpec(address: b, port: 80), to: web)
        let p = PacketPump(d)
        let t = Timestamp(milliseconds: 10)
        #expect(p.tcp(c, 40000, vip, 80, TCPFlag.syn, now: t) == .forward(side: .realServer, nextHop: a))
        try d.removeDestination(address: a, port: 80, from: web)
        // A new SYN on the orphaned tuple is rescheduled: the old template is dropped, a new one made.
        #expect(p.tcp(c, 40000, vip, 80, TCPFlag.syn, now: t) == .forward(side: .realServer, nextHop: b))
        #expect(p.tcp(c, 40001, vip, 80, TCPFlag.syn, now: t) == .forward(side: .realServer, nextHop: b))
        let snaps = d.connections(now: t)
        #expect(snaps.filter(\.isTemplate).count == 1)
        #expect(snaps.count == 3)
        #expect(d.service(web)?.destinations.map(\.persistConns) == [1])
    }

    @Test func tableBytesPerConnection() {
        let d = Director(DirectorConfiguration(connectionCapacity: 1 << 16))
        // 112-byte entries + 8 bytes of buckets + the wheel's 32 KiB spread over the capacity.
        #expect(d.tableBytesPerConnection < 121)
        #expect(d.tableBytesPerConnection >= 120)
    }
}
