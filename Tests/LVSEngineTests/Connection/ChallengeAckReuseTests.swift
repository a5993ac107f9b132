import LVSPacket
import Testing

@testable import LVSEngine

/// The packet sequence behind the old nat.sh group flake (captured with tcpdump in the director's
/// namespace): the client reuses a source port that an earlier connection to another VIP port
/// used; NAT maps both to the same server 4-tuple, which the server still holds in TIME_WAIT. The
/// server answers the new SYN with a bare ACK, the client resets, and its next SYN hits an entry
/// in CLOSE and is rescheduled (IPVS conn_reuse_mode 1, ipvs-reference.md 2.4 "Connection reuse"), so an rr
/// split over a few requests is off by one. This documents that the engine does what IPVS does
/// (it passed before any change); it is not a regression test of an engine bug.
@Suite struct ChallengeAckReuseTests {
    static let vip = IPAddress("10.0.1.100")!
    static let client = IPAddress("10.0.1.2")!
    static let servers = [IPAddress("192.168.10.2")!, IPAddress("192.168.10.3")!, IPAddress("192.168.10.4")!]
    static let group = ServiceKey(fwmark: 5)

    @Test func aSynAnsweredByAChallengeAckAndResetIsRescheduled() throws {
        let now = Timestamp(milliseconds: 1_000_000)
        let d = Director(DirectorConfiguration(connectionCapacity: 64), now: now)
        try d.addService(ServiceSpec(Self.group, scheduler: "rr", matches: [ServiceMatch(.tcp, Self.vip, ports: 9000...9001)]))
        for rs in Self.servers { try d.addDestination(DestinationSpec(address: rs, port: 8080), to: Self.group) }
        let h = FrameHarness(d)
        let syn = Lab.eth().ipv4(src: Self.client, dst: Self.vip).tcp(src: 45348, dst: 9000, flags: TCPFlag.syn, seq: 2_536_270_677).bytes()

        let (first, _) = h.run(syn, now: now)
        guard case .forward(.realServer, let firstServer) = first else {
            Issue.record("SYN not forwarded: \(first)")
            return
        }
        // The server's TIME_WAIT answer: an ACK for the old connection's sequence space.
        let challenge = Lab.eth().ipv4(src: firstServer, dst: Self.client)
            .tcp(src: 8080, dst: 45348, flags: TCPFlag.ack, seq: 1, ack: 2_604_056_391).bytes()
        #expect(h.run(challenge, now: now).0 == .forward(side: .client, nextHop: Self.client))
        let reset = Lab.eth().ipv4(src: Self.client, dst: Self.vip).tcp(src: 45348, dst: 9000, flags: TCPFlag.rst, seq: 2_604_056_391).bytes()
        #expect(h.run(reset, now: now).0 == .forward(side: .realServer, nextHop: firstServer))
        #expect(d.connections(now: now).map(\.state) == ["CLOSE"])

        // The client's next SYN (12 ms later in the capture) is scheduled afresh: the next server.
        let (second, _) = h.run(syn, now: Timestamp(milliseconds: now.milliseconds + 12))
        guard case .forward(.realServer, let secondServer) = second else {
            Issue.record("second SYN not forwarded: \(second)")
            return
        }
        #expect(secondServer != firstServer)
        #expect(d.counters.connectionsReused == 1)
        #expect(d.connectionCount == 1)
        let dests = d.service(Self.group)!.destinations
        #expect(dests.first { $0.address == firstServer }!.inactiveConns == 0)
        #expect(dests.first { $0.address == secondServer }!.inactiveConns == 1)
    }
}
