// Connection life cycle through the Director with a fake clock: TCP states and their timeouts
// (spec 2.2), active/inactive counting (2.3), expiry on the timer wheel (16 ms ticks, so checks
// are made 50 ms either side of a deadline), --set timeouts, UDP, connection reuse after
// TIME_WAIT/CLOSE, expire_nodest_conn, and a full table.
import LVSPacket
import Testing

@testable import LVSEngine

@Suite("connection timeouts and life cycle")
struct ConnectionTimeoutTests {
    static let vip = IPAddress("10.0.0.100")!
    static let client = IPAddress("192.0.2.10")!
    static let rsA = IPAddress("192.168.1.10")!
    static let rsB = IPAddress("192.168.1.11")!
    static let web = ServiceKey(.tcp, vip, 80)
    static let dns = ServiceKey(.udp, vip, 53)
    static let t0: UInt64 = 1_000_000

    static func at(_ ms: UInt64) -> Timestamp { Timestamp(milliseconds: t0 + ms) }

    /// A NAT web service (rr) with rsA:8080 and optionally rsB:8080.
    func lab(capacity: Int = 1024, twoServers: Bool = false, icmp: Bool = true) throws -> (Director, PacketPump) {
        let d = Director(DirectorConfiguration(connectionCapacity: capacity, icmpOnNoDestination: icmp),
                         now: Self.at(0))
        try d.addService(ServiceSpec(Self.web, scheduler: "rr"))
        try d.addDestination(DestinationSpec(address: Self.rsA, port: 8080), to: Self.web)
        if twoServers { try d.addDestination(DestinationSpec(address: Self.rsB, port: 8080), to: Self.web) }
        return (d, PacketPump(d))
    }

    // Frames of one flow.
    func fromClient(_ p: PacketPump, _ cport: UInt16, _ flags: UInt8, _ now: Timestamp) -> Verdict {
        p.tcp(Self.client, cport, Self.vip, 80, flags, now: now)
    }

    func fromServer(_ p: PacketPump, _ rs: IPAddress, _ cport: UInt16, _ flags: UInt8, _ now: Timestamp) -> Verdict {
        p.tcp(rs, 8080, Self.client, cport, flags, now: now)
    }

    func only(_ d: Director, _ now: Timestamp) throws -> ConnectionSnapshot {
        let all = d.connections(now: now)
        try #require(all.count == 1)
        return all[0]
    }

    func dest(_ d: Director, _ rs: IPAddress) -> DestinationSnapshot? {
        d.service(Self.web)?.destinations.first { $0.address == rs }
    }

    static let toA = Verdict.forward(side: .realServer, nextHop: rsA)
    static let toB = Verdict.forward(side: .realServer, nextHop: rsB)
    static let toClient = Verdict.forward(side: .client, nextHop: client)

    // MARK: NAT TCP life cycle

    @Test func natHandshakeAndCloseWalkTheStatesWithTheirTimeouts() throws {
        let (d, p) = try lab()
        let cport: UInt16 = 40000

        #expect(fromClient(p, cport, TCPFlag.syn, Self.at(0)) == Self.toA)
        var c = try only(d, Self.at(0))
        #expect(c.state == "SYN_RECV")
        #expect(c.expiresIn == 60_000)
        #expect(c.proto == .tcp)
        #expect(c.client == Endpoint(Self.client, cport))
        #expect(c.virtual == Endpoint(Self.vip, 80))
        #expect(c.destination == Endpoint(Self.rsA, 8080))
        #expect(dest(d, Self.rsA)?.inactiveConns == 1)
        #expect(dest(d, Self.rsA)?.activeConns == 0)

        // SYN-ACK reply: OUTPUT syn in SR -> SR; the timer restarts.
        #expect(fromServer(p, Self.rsA, cport, TCPFlag.syn | TCPFlag.ack, Self.at(10)) == Self.toClient)
        c = try only(d, Self.at(10))
        #expect(c.state == "SYN_RECV")
        #expect(c.expiresIn == 60_000)
        #expect(dest(d, Self.rsA)?.inactiveConns == 1)

        // ACK: INPUT ack in SR -> ES; inactive -> active.
        #expect(fromClient(p, cport, TCPFlag.ack, Self.at(20)) == Self.toA)
        c = try only(d, Self.at(20))
        #expect(c.state == "ESTABLISHED")
        #expect(c.expiresIn == 900_000)
        #expect(dest(d, Self.rsA)?.activeConns == 1)
        #expect(dest(d, Self.rsA)?.inactiveConns == 0)

        // Data both ways keeps it established and restarts the timer.
        #expect(fromClient(p, cport, TCPFlag.ack | TCPFlag.psh, Self.at(25)) == Self.toA)
        #expect(fromServer(p, Self.rsA, cport, TCPFlag.ack | TCPFlag.psh, Self.at(26)) == Self.toClient)
        #expect(try only(d, Self.at(26)).expiresIn == 900_000)

        // FIN from the client: INPUT fin in ES -> CLOSE_WAIT; active -> inactive.
        #expect(fromClient(p, cport, TCPFlag.fin | TCPFlag.ack, Self.at(30)) == Self.toA)
        c = try only(d, Self.at(30))
        #expect(c.state == "CLOSE_WAIT")
        #expect(c.expiresIn == 60_000)
        #expect(dest(d, Self.rsA)?.activeConns == 0)
        #expect(dest(d, Self.rsA)?.inactiveConns == 1)

        // Expiry 60 s after the FIN, not 900 s after the ACK.
        #expect(d.advance(to: Self.at(30 + 60_000 - 50)) == 0)
        #expect(d.connectionCount == 1)
        #expect(try only(d, Self.at(30 + 60_000 - 50)).expiresIn == 50)
        #expect(d.advance(to: Self.at(30 + 60_000 + 50)) == 1)
        #expect(d.connectionCount == 0)
        #expect(d.connections(now: Self.at(30 + 60_000 + 50)).isEmpty)
        #expect(dest(d, Self.rsA)?.inactiveConns == 0)
        #expect(dest(d, Self.rsA)?.activeConns == 0)
        #expect(dest(d, Self.rsA)?.stats.connections == 1)
        #expect(d.counters.connectionsCreated == 1)
        #expect(d.counters.connectionsExpired == 1)

        // After expiry the flow is unknown: a late ACK is dropped, not forwarded.
        #expect(fromClient(p, cport, TCPFlag.ack, Self.at(30 + 60_000 + 60)) == .drop(.noConnection))
    }

    @Test func serverCloseWalksFinWaitAndTimeWait() throws {
        let (d, p) = try lab()
        _ = fromClient(p, 40001, TCPFlag.syn, Self.at(0))
        _ = fromServer(p, Self.rsA, 40001, TCPFlag.syn | TCPFlag.ack, Self.at(1))
        _ = fromClient(p, 40001, TCPFlag.ack, Self.at(2))
        // OUTPUT fin in ES -> FIN_WAIT (120 s).
        #expect(fromServer(p, Self.rsA, 40001, TCPFlag.fin | TCPFlag.ack, Self.at(3)) == Self.toClient)
        var c = try only(d, Self.at(3))
        #expect(c.state == "FIN_WAIT")
        #expect(c.expiresIn == 120_000)
        #expect(dest(d, Self.rsA)?.activeConns == 0)
        #expect(dest(d, Self.rsA)?.inactiveConns == 1)
        // INPUT ack in FW -> FW; INPUT fin in FW -> TIME_WAIT (120 s).
        _ = fromClient(p, 40001, TCPFlag.ack, Self.at(4))
        #expect(try only(d, Self.at(4)).state == "FIN_WAIT")
        _ = fromClient(p, 40001, TCPFlag.fin | TCPFlag.ack, Self.at(5))
        c = try only(d, Self.at(5))
        #expect(c.state == "TIME_WAIT")
        #expect(c.expiresIn == 120_000)
        #expect(d.advance(to: Self.at(5 + 120_000 - 50)) == 0)
        #expect(d.connectionCount == 1)
        #expect(d.advance(to: Self.at(5 + 120_000 + 50)) == 1)
        #expect(d.connectionCount == 0)
    }

    @Test func establishedLivesItsFull900Seconds() throws {
        let (d, p) = try lab()
        _ = fromClient(p, 40002, TCPFlag.syn, Self.at(0))
        _ = fromServer(p, Self.rsA, 40002, TCPFlag.syn | TCPFlag.ack, Self.at(0))
        _ = fromClient(p, 40002, TCPFlag.ack, Self.at(100))
        #expect(try only(d, Self.at(100)).state == "ESTABLISHED")
        // Step the clock in several jumps, some longer than the wheel's span.
        #expect(d.advance(to: Self.at(100 + 3_000)) == 0)  // past the provisional 3 s timeout
        #expect(d.advance(to: Self.at(100 + 60_050)) == 0)  // past SYN_RECV's 60 s
        #expect(d.advance(to: Self.at(100 + 500_000)) == 0)
        #expect(d.advance(to: Self.at(100 + 900_000 - 50)) == 0)
        #expect(d.connectionCount == 1)
        #expect(dest(d, Self.rsA)?.activeConns == 1)
        #expect(d.advance(to: Self.at(100 + 900_000 + 50)) == 1)
        #expect(d.connectionCount == 0)
        #expect(dest(d, Self.rsA)?.activeConns == 0)
    }

    @Test func synRecvExpiresAfter60SecondsInOneJump() throws {
        let (d, p) = try lab()
        _ = fromClient(p, 40003, TCPFlag.syn, Self.at(0))
        #expect(d.advance(to: Self.at(60_000 - 50)) == 0)
        #expect(d.connectionCount == 1)
        #expect(d.advance(to: Self.at(60_000 + 50)) == 1)
        #expect(d.connectionCount == 0)
        #expect(dest(d, Self.rsA)?.inactiveConns == 0)
    }

    @Test func rstClosesAndCloseLastsTenSeconds() throws {
        let (d, p) = try lab()
        _ = fromClient(p, 40004, TCPFlag.syn, Self.at(0))
        _ = fromServer(p, Self.rsA, 40004, TCPFlag.syn | TCPFlag.ack, Self.at(0))
        _ = fromClient(p, 40004, TCPFlag.ack, Self.at(0))
        #expect(fromClient(p, 40004, TCPFlag.rst, Self.at(1_000)) == Self.toA)
        let c = try only(d, Self.at(1_000))
        #expect(c.state == "CLOSE")
        #expect(c.expiresIn == 10_000)
        #expect(dest(d, Self.rsA)?.activeConns == 0)
        #expect(dest(d, Self.rsA)?.inactiveConns == 1)
        #expect(d.advance(to: Self.at(11_000 - 50)) == 0)
        #expect(d.advance(to: Self.at(11_000 + 50)) == 1)
    }

    // MARK: --set

    @Test func setTimeoutsTakesEffectForLaterPackets() throws {
        let (d, p) = try lab()
        // An established connection before the change keeps its deadline until its next packet.
        _ = fromClient(p, 41000, TCPFlag.syn, Self.at(0))
        _ = fromServer(p, Self.rsA, 41000, TCPFlag.syn | TCPFlag.ack, Self.at(0))
        _ = fromClient(p, 41000, TCPFlag.ack, Self.at(0))

        d.setTimeouts(tcp: 5, tcpfin: 3, udp: 7)
        var expected = Timeouts.ipvsDefaults
        expected[.established] = 5_000
        expected[.finWait] = 3_000
        expected.udp = 7_000
        #expect(d.currentTimeouts == expected)
        d.setTimeouts(tcp: 0, tcpfin: 0, udp: 0)  // 0 = unchanged
        #expect(d.currentTimeouts == expected)

        #expect(try only(d, Self.at(1_000)).expiresIn == 899_000)
        _ = fromClient(p, 41000, TCPFlag.ack, Self.at(1_000))
        #expect(try only(d, Self.at(1_000)).expiresIn == 5_000)
        #expect(d.advance(to: Self.at(6_000 - 50)) == 0)
        #expect(d.advance(to: Self.at(6_000 + 50)) == 1)

        // A new connection: SYN_RECV keeps its 60 s, ESTABLISHED gets 5 s, FIN_WAIT 3 s.
        _ = fromClient(p, 41001, TCPFlag.syn, Self.at(10_000))
        #expect(try only(d, Self.at(10_000)).expiresIn == 60_000)
        _ = fromServer(p, Self.rsA, 41001, TCPFlag.syn | TCPFlag.ack, Self.at(10_000))
        _ = fromClient(p, 41001, TCPFlag.ack, Self.at(10_000))
        var c = try only(d, Self.at(10_000))
        #expect(c.state == "ESTABLISHED")
        #expect(c.expiresIn == 5_000)
        _ = fromServer(p, Self.rsA, 41001, TCPFlag.fin | TCPFlag.ack, Self.at(11_000))
        c = try only(d, Self.at(11_000))
        #expect(c.state == "FIN_WAIT")
        #expect(c.expiresIn == 3_000)
        #expect(d.advance(to: Self.at(14_000 - 50)) == 0)
        #expect(d.advance(to: Self.at(14_000 + 50)) == 1)
        #expect(d.connectionCount == 0)
    }

    /// Spec 2.1: "Each packet restarts the timer with the current timeout." After --set lowers the
    /// ESTABLISHED timeout, the next packet of an established connection (no state change) must
    /// make it expire at now + the new timeout, also when the wheel has already re-filed the entry
    /// under its old 900 s deadline.
    @Test func shorterTimeoutAppliesOnTheNextSameStatePacket() throws {
        let (d, p) = try lab()
        _ = fromClient(p, 41100, TCPFlag.syn, Self.at(0))
        _ = fromServer(p, Self.rsA, 41100, TCPFlag.syn | TCPFlag.ack, Self.at(0))
        _ = fromClient(p, 41100, TCPFlag.ack, Self.at(0))
        #expect(d.advance(to: Self.at(4_000)) == 0)  // the wheel re-files the entry under ~900 s
        d.setTimeouts(tcp: 5, tcpfin: 0, udp: 0)
        _ = fromClient(p, 41100, TCPFlag.ack | TCPFlag.psh, Self.at(4_000))  // ES -> ES
        #expect(try only(d, Self.at(4_000)).expiresIn == 5_000)
        #expect(d.advance(to: Self.at(9_000 - 50)) == 0)
        #expect(d.advance(to: Self.at(9_000 + 50)) == 1)
        #expect(d.connectionCount == 0)
        #expect(dest(d, Self.rsA)?.activeConns == 0)
    }

    /// The same for a UDP flow: its next datagram after --set udp must use the new, shorter value.
    @Test func shorterUDPTimeoutAppliesOnTheNextDatagram() throws {
        let (d, p) = try lab()
        try d.addService(ServiceSpec(Self.dns, scheduler: "rr"))
        try d.addDestination(DestinationSpec(address: Self.rsB, port: 53), to: Self.dns)
        _ = p.udp(Self.client, 5354, Self.vip, 53, now: Self.at(0))
        #expect(d.advance(to: Self.at(4_000)) == 0)  // re-filed under the 300 s deadline
        d.setTimeouts(tcp: 0, tcpfin: 0, udp: 7)
        _ = p.udp(Self.client, 5354, Self.vip, 53, now: Self.at(4_000))
        #expect(try only(d, Self.at(4_000)).expiresIn == 7_000)
        #expect(d.advance(to: Self.at(11_000 - 50)) == 0)
        #expect(d.advance(to: Self.at(11_000 + 50)) == 1)
        #expect(d.connectionCount == 0)
    }

    /// A UDP timeout below the provisional 3 s: the first datagram must still give the flow
    /// exactly the UDP timeout, not 3 s.
    @Test func udpTimeoutBelowTheProvisionalThreeSeconds() throws {
        let (d, p) = try lab()
        try d.addService(ServiceSpec(Self.dns, scheduler: "rr"))
        try d.addDestination(DestinationSpec(address: Self.rsB, port: 53), to: Self.dns)
        d.setTimeouts(tcp: 0, tcpfin: 0, udp: 1)
        _ = p.udp(Self.client, 5355, Self.vip, 53, now: Self.at(0))
        #expect(try only(d, Self.at(0)).expiresIn == 1_000)
        #expect(d.advance(to: Self.at(1_000 - 50)) == 0)
        #expect(d.advance(to: Self.at(1_000 + 50)) == 1)
        #expect(d.connectionCount == 0)
    }

    @Test func setTimeoutsShortensUDP() throws {
        let (d, p) = try lab()
        try d.addService(ServiceSpec(Self.dns, scheduler: "rr"))
        try d.addDestination(DestinationSpec(address: Self.rsB, port: 53), to: Self.dns)
        d.setTimeouts(tcp: 0, tcpfin: 0, udp: 7)
        #expect(p.udp(Self.client, 5353, Self.vip, 53, now: Self.at(0)) == Self.toB)
        let c = try only(d, Self.at(0))
        #expect(c.state == "UDP")
        #expect(c.expiresIn == 7_000)
        #expect(d.advance(to: Self.at(7_000 - 50)) == 0)
        #expect(d.advance(to: Self.at(7_000 + 50)) == 1)
    }

    // MARK: UDP

    @Test func udpFlowUsesTheUDPTimeoutAndCountsAsInactive() throws {
        let (d, p) = try lab()
        try d.addService(ServiceSpec(Self.dns, scheduler: "wlc"))
        try d.addDestination(DestinationSpec(address: Self.rsB, port: 53), to: Self.dns)

        #expect(p.udp(Self.client, 5353, Self.vip, 53, now: Self.at(0)) == Self.toB)
        var c = try only(d, Self.at(0))
        #expect(c.proto == .udp)
        #expect(c.state == "UDP")
        #expect(c.expiresIn == 300_000)
        #expect(c.destination == Endpoint(Self.rsB, 53))
        var rs = d.service(Self.dns)?.destinations.first
        #expect(rs?.inactiveConns == 1)
        #expect(rs?.activeConns == 0)

        // The reply restarts the timer; still inactive.
        #expect(p.udp(Self.rsB, 53, Self.client, 5353, now: Self.at(1_000)) == Self.toClient)
        c = try only(d, Self.at(1_000))
        #expect(c.expiresIn == 300_000)
        rs = d.service(Self.dns)?.destinations.first
        #expect(rs?.inactiveConns == 1)
        #expect(rs?.activeConns == 0)

        #expect(d.advance(to: Self.at(301_000 - 50)) == 0)
        #expect(d.connectionCount == 1)
        #expect(d.advance(to: Self.at(301_000 + 50)) == 1)
        #expect(d.connectionCount == 0)
        rs = d.service(Self.dns)?.destinations.first
        #expect(rs?.inactiveConns == 0)
    }

    // MARK: Reuse

    enum Finish: String, CaseIterable, Sendable { case timeWait, close }

    @Test(arguments: Finish.allCases)
    func synOnAFinishedConnectionIsRescheduled(_ finish: Finish) throws {
        let (d, p) = try lab(twoServers: true)
        let cport: UInt16 = 42000
        #expect(fromClient(p, cport, TCPFlag.syn, Self.at(0)) == Self.toA)
        _ = fromServer(p, Self.rsA, cport, TCPFlag.syn | TCPFlag.ack, Self.at(1))
        _ = fromClient(p, cport, TCPFlag.ack, Self.at(2))
        switch finish {
        case .timeWait:
            _ = fromClient(p, cport, TCPFlag.fin | TCPFlag.ack, Self.at(3))  // CLOSE_WAIT
            _ = fromServer(p, Self.rsA, cport, TCPFlag.fin | TCPFlag.ack, Self.at(4))  // OUTPUT fin in CW -> TW
            #expect(try only(d, Self.at(4)).state == "TIME_WAIT")
        case .close:
            _ = fromClient(p, cport, TCPFlag.rst, Self.at(4))
            #expect(try only(d, Self.at(4)).state == "CLOSE")
        }
        #expect(dest(d, Self.rsA)?.inactiveConns == 1)

        // The same tuple opens again: rescheduled (rr moves on to B), not dropped.
        #expect(fromClient(p, cport, TCPFlag.syn, Self.at(5)) == Self.toB)
        #expect(d.counters.connectionsReused == 1)
        #expect(d.connectionCount == 1)
        let c = try only(d, Self.at(5))
        #expect(c.state == "SYN_RECV")
        #expect(c.expiresIn == 60_000)
        #expect(c.destination == Endpoint(Self.rsB, 8080))
        #expect(dest(d, Self.rsA)?.inactiveConns == 0)
        #expect(dest(d, Self.rsA)?.activeConns == 0)
        #expect(dest(d, Self.rsB)?.inactiveConns == 1)
        #expect(dest(d, Self.rsA)?.stats.connections == 1)
        #expect(dest(d, Self.rsB)?.stats.connections == 1)
        #expect(d.service(Self.web)?.stats.connections == 2)

        // Replies now come from B; the old OUT key (from A) is gone.
        #expect(fromServer(p, Self.rsB, cport, TCPFlag.syn | TCPFlag.ack, Self.at(6)) == Self.toClient)
        #expect(fromServer(p, Self.rsA, cport, TCPFlag.ack, Self.at(6)) == .notOurs)
        #expect(fromClient(p, cport, TCPFlag.ack, Self.at(7)) == Self.toB)
        #expect(try only(d, Self.at(7)).state == "ESTABLISHED")
        #expect(dest(d, Self.rsB)?.activeConns == 1)
    }

    @Test func synOnALiveConnectionIsNotRescheduled() throws {
        let (d, p) = try lab(twoServers: true)
        _ = fromClient(p, 42100, TCPFlag.syn, Self.at(0))
        // Retransmitted SYN in SYN_RECV: same connection, same server.
        #expect(fromClient(p, 42100, TCPFlag.syn, Self.at(1_000)) == Self.toA)
        _ = fromServer(p, Self.rsA, 42100, TCPFlag.syn | TCPFlag.ack, Self.at(1_001))
        _ = fromClient(p, 42100, TCPFlag.ack, Self.at(1_002))
        // SYN on ESTABLISHED: INPUT syn in ES -> ES.
        #expect(fromClient(p, 42100, TCPFlag.syn, Self.at(1_003)) == Self.toA)
        #expect(try only(d, Self.at(1_003)).state == "ESTABLISHED")
        #expect(d.counters.connectionsReused == 0)
        #expect(dest(d, Self.rsA)?.stats.connections == 1)
    }

    // MARK: expire_nodest_conn

    @Test func packetOnARemovedDestinationsConnectionDropsAndExpiresIt() throws {
        let (d, p) = try lab(twoServers: true)
        #expect(fromClient(p, 43000, TCPFlag.syn, Self.at(0)) == Self.toA)
        #expect(fromClient(p, 43001, TCPFlag.syn, Self.at(0)) == Self.toB)
        _ = fromServer(p, Self.rsA, 43000, TCPFlag.syn | TCPFlag.ack, Self.at(1))
        _ = fromClient(p, 43000, TCPFlag.ack, Self.at(2))
        #expect(d.connectionCount == 2)

        try d.removeDestination(address: Self.rsA, port: 8080, from: Self.web)
        #expect(d.service(Self.web)?.destinations.map(\.address) == [Self.rsB])

        #expect(fromClient(p, 43000, TCPFlag.ack | TCPFlag.psh, Self.at(10)) == .drop(.destinationRemoved))
        #expect(d.counters[.destinationRemoved] == 1)
        #expect(d.connectionCount == 1)
        let left = try only(d, Self.at(10))
        #expect(left.client == Endpoint(Self.client, 43001))
        // A second packet on the vanished flow is just an unknown segment now.
        #expect(fromClient(p, 43000, TCPFlag.ack, Self.at(11)) == .drop(.noConnection))
        // The other server's connection is untouched.
        #expect(fromClient(p, 43001, TCPFlag.ack, Self.at(12)) == Self.toB)
        #expect(dest(d, Self.rsB)?.activeConns == 1)
    }

    @Test func synOnARemovedDestinationsConnectionIsRescheduled() throws {
        let (d, p) = try lab(twoServers: true)
        #expect(fromClient(p, 43100, TCPFlag.syn, Self.at(0)) == Self.toA)
        try d.removeDestination(address: Self.rsA, port: 8080, from: Self.web)
        #expect(fromClient(p, 43100, TCPFlag.syn, Self.at(1)) == Self.toB)
        #expect(d.counters.connectionsReused == 1)
        #expect(try only(d, Self.at(1)).destination == Endpoint(Self.rsB, 8080))
    }

    // MARK: Full table

    @Test(arguments: [true, false])
    func fullTableRefusesNewConnectionsAndKeepsOldOnes(_ icmp: Bool) throws {
        let (d, p) = try lab(capacity: 4, twoServers: true, icmp: icmp)
        for port in UInt16(44001)...44004 {
            if case .forward(side: .realServer, _) = fromClient(p, port, TCPFlag.syn, Self.at(0)) {} else {
                Issue.record("SYN from \(port) not forwarded")
            }
        }
        #expect(d.connectionCount == 4)
        #expect(fromClient(p, 44005, TCPFlag.syn, Self.at(1)) == .drop(.tableFull))
        #expect(d.counters[.tableFull] == 1)
        #expect(d.counters.replies == 0)
        #expect(d.connectionCount == 4)
        #expect(d.connections(now: Self.at(1)).allSatisfy { $0.client.port != 44005 })

        // The first four carry on: handshake completes for each.
        for port in UInt16(44001)...44004 {
            let rs = try #require(d.connections(now: Self.at(2)).first { $0.client.port == port }).destination.address
            #expect(fromServer(p, rs, port, TCPFlag.syn | TCPFlag.ack, Self.at(2)) == Self.toClient)
            #expect(fromClient(p, port, TCPFlag.ack, Self.at(3)) == .forward(side: .realServer, nextHop: rs))
        }
        #expect(d.connections(now: Self.at(3)).allSatisfy { $0.state == "ESTABLISHED" })
        let active = d.service(Self.web)?.destinations.map(\.activeConns).reduce(0, +)
        #expect(active == 4)

        // Once one is gone, a new SYN fits again.
        _ = fromClient(p, 44001, TCPFlag.rst, Self.at(4))  // CLOSE, 10 s
        #expect(d.advance(to: Self.at(4 + 10_000 + 50)) == 1)
        #expect(d.connectionCount == 3)
        if case .forward(side: .realServer, _) = fromClient(p, 44005, TCPFlag.syn, Self.at(10_100)) {} else {
            Issue.record("SYN after expiry not forwarded")
        }
        #expect(d.connectionCount == 4)
    }
}
