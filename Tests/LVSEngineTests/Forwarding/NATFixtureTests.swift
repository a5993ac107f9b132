import LVSPacket
import Testing

@testable import LVSEngine

/// Katran-style fixtures: input frame -> expected output frame + verdict, for VS/NAT.
/// Expected frames are built independently (full checksums from PacketBuilder), so an incremental
/// update that is off by one bit fails byte-for-byte.
struct NATFixture: CustomTestStringConvertible, Sendable {
    var description: String
    /// Frames sent first (to create the connection), outputs ignored.
    var setup: [[UInt8]] = []
    var input: [UInt8]
    var partial = false
    var expected: [UInt8]?
    var verdict: Verdict

    var testDescription: String { description }
}

let c = Lab.client, v = Lab.vip, r = Lab.rs1
let syn = TCPFlag.syn, ack = TCPFlag.ack

let natFixtures: [NATFixture] = [
    NATFixture(
        description: "TCP SYN to the VIP: dst becomes RIP:rport",
        input: Lab.eth().ipv4(src: c, dst: v).tcp(src: 40000, dst: 80, flags: syn, seq: 7).bytes(),
        expected: Lab.eth().ipv4(src: c, dst: r).tcp(src: 40000, dst: 8080, flags: syn, seq: 7).bytes(),
        verdict: .forward(side: .realServer, nextHop: r)),
    NATFixture(
        description: "TCP SYN-ACK from the real server: src becomes VIP:vport",
        setup: [Lab.eth().ipv4(src: c, dst: v).tcp(src: 40000, dst: 80, flags: syn).bytes()],
        input: PacketBuilder().ethernet(src: .zero, dst: .broadcast).ipv4(src: r, dst: c)
            .tcp(src: 8080, dst: 40000, flags: syn | ack, seq: 99, ack: 1001).bytes(),
        expected: PacketBuilder().ethernet(src: .zero, dst: .broadcast).ipv4(src: v, dst: c)
            .tcp(src: 80, dst: 40000, flags: syn | ack, seq: 99, ack: 1001).bytes(),
        verdict: .forward(side: .client, nextHop: c)),
    NATFixture(
        description: "TCP data with payload, IPv4 options and a VLAN tag",
        setup: [Lab.eth().ipv4(src: c, dst: v).tcp(src: 40001, dst: 80, flags: syn).bytes()],
        input: PacketBuilder().ethernet(vlan: 42).ipv4(src: c, dst: v, options: [1, 1, 1, 0])
            .tcp(src: 40001, dst: 80, flags: ack, options: [1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2])
            .payload("GET / HTTP/1.1\r\nHost: x\r\n\r\n").bytes(),
        expected: PacketBuilder().ethernet(vlan: 42).ipv4(src: c, dst: r, options: [1, 1, 1, 0])
            .tcp(src: 40001, dst: 8080, flags: ack, options: [1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2])
            .payload("GET / HTTP/1.1\r\nHost: x\r\n\r\n").bytes(),
        verdict: .forward(side: .realServer, nextHop: r)),
    NATFixture(
        description: "UDP query and its reply",
        setup: [Lab.eth().ipv4(src: c, dst: v).udp(src: 5000, dst: 53).payload("q1").bytes()],
        input: Lab.eth().ipv4(src: r, dst: c).udp(src: 5353, dst: 5000).payload("answer").bytes(),
        expected: Lab.eth().ipv4(src: v, dst: c).udp(src: 53, dst: 5000).payload("answer").bytes(),
        verdict: .forward(side: .client, nextHop: c)),
    NATFixture(
        description: "UDP over IPv4 without a checksum keeps checksum 0",
        input: Lab.eth().ipv4(src: c, dst: v).udp(src: 5001, dst: 53).payload("q").l4Checksum(.value(0)).bytes(),
        expected: Lab.eth().ipv4(src: c, dst: r).udp(src: 5001, dst: 5353).payload("q").l4Checksum(.value(0)).bytes(),
        verdict: .forward(side: .realServer, nextHop: r)),
    NATFixture(
        description: "partial (offloaded) TCP checksum: only the pseudo-header part moves",
        input: Lab.eth().ipv4(src: c, dst: v).tcp(src: 40002, dst: 80, flags: syn).payload("x").l4Checksum(.partial).bytes(),
        partial: true,
        expected: Lab.eth().ipv4(src: c, dst: r).tcp(src: 40002, dst: 8080, flags: syn).payload("x").l4Checksum(.partial).bytes(),
        verdict: .forward(side: .realServer, nextHop: r)),
    NATFixture(
        description: "IPv6 TCP SYN",
        input: Lab.eth().ipv6(src: Lab.client6, dst: Lab.vip6).tcp(src: 41000, dst: 80, flags: syn).bytes(),
        expected: Lab.eth().ipv6(src: Lab.client6, dst: Lab.rs6).tcp(src: 41000, dst: 8080, flags: syn).bytes(),
        verdict: .forward(side: .realServer, nextHop: Lab.rs6)),
    NATFixture(
        description: "IPv6 reply",
        setup: [Lab.eth().ipv6(src: Lab.client6, dst: Lab.vip6).tcp(src: 41001, dst: 80, flags: syn).bytes()],
        input: Lab.eth().ipv6(src: Lab.rs6, dst: Lab.client6).tcp(src: 8080, dst: 41001, flags: syn | ack).payload("hi").bytes(),
        expected: Lab.eth().ipv6(src: Lab.vip6, dst: Lab.client6).tcp(src: 80, dst: 41001, flags: syn | ack).payload("hi").bytes(),
        verdict: .forward(side: .client, nextHop: Lab.client6)),
    NATFixture(
        description: "Ethernet padding after a short packet is carried along untouched",
        input: Lab.eth().ipv4(src: c, dst: v).tcp(src: 40003, dst: 80, flags: syn).trailer([0, 0, 0, 0, 0, 0]).bytes(),
        expected: Lab.eth().ipv4(src: c, dst: r).tcp(src: 40003, dst: 8080, flags: syn).trailer([0, 0, 0, 0, 0, 0]).bytes(),
        verdict: .forward(side: .realServer, nextHop: r)),
]

@Suite struct NATFixtureTests {
    @Test(arguments: natFixtures)
    func fixture(_ f: NATFixture) {
        let h = FrameHarness(Lab.director())
        for s in f.setup { _ = h.run(s) }
        let (verdict, out) = h.run(f.input, partial: f.partial)
        #expect(verdict == f.verdict)
        if let expected = f.expected { #expect(out == expected) }
        if !f.partial { #expect(checksumsVerify(out)) }
    }

    @Test func repliesWithoutAConnectionAreNotOurs() {
        let h = FrameHarness(Lab.director())
        let reply = Lab.eth().ipv4(src: r, dst: c).tcp(src: 8080, dst: 40000, flags: syn | ack).bytes()
        let (verdict, out) = h.run(reply)
        #expect(verdict == .notOurs)
        #expect(out == reply)
    }

    @Test func bothDirectionsAreCountedPerServiceAndServer() throws {
        let d = Lab.director()
        let h = FrameHarness(d)
        let synFrame = Lab.eth().ipv4(src: c, dst: v).tcp(src: 40000, dst: 80, flags: syn).bytes()
        let reply = Lab.eth().ipv4(src: r, dst: c).tcp(src: 8080, dst: 40000, flags: syn | ack).payload("abc").bytes()
        _ = h.run(synFrame)
        _ = h.run(reply)
        let svc = try #require(d.service(Lab.web))
        #expect(svc.stats.connections == 1)
        #expect(svc.stats.inPackets == 1 && svc.stats.inBytes == 40)
        #expect(svc.stats.outPackets == 1 && svc.stats.outBytes == 43)
        #expect(svc.destinations[0].stats == svc.stats)
        #expect(d.counters.forwardedToRealServer == 1 && d.counters.forwardedToClient == 1)
    }
}
