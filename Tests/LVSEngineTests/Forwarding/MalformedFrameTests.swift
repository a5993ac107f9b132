import LVSPacket
import Testing

@testable import LVSEngine

/// Frames that are broken, unrelated, or not for a service: each gets a definite verdict and
/// leaves the table and the frame as they were.
struct VerdictFixture: CustomTestStringConvertible, Sendable {
    var description: String
    var input: [UInt8]
    var verdict: Verdict
    var testDescription: String { description }
}

let vipSyn = Lab.eth().ipv4(src: Lab.client, dst: Lab.vip).tcp(src: 40000, dst: 80, flags: TCPFlag.syn)

let verdictFixtures: [VerdictFixture] = [
    VerdictFixture(description: "runt frame", input: [0x02, 0, 0], verdict: .drop(.malformed)),
    VerdictFixture(description: "truncated IPv4 header", input: Array(vipSyn.bytes().prefix(24)), verdict: .drop(.malformed)),
    VerdictFixture(description: "IHL below 5", input: vipSyn.ihl(4).bytes(), verdict: .drop(.malformed)),
    VerdictFixture(description: "total length beyond the frame", input: vipSyn.ipLengthField(400).bytes(), verdict: .drop(.malformed)),
    VerdictFixture(description: "TCP data offset beyond the segment", input: vipSyn.tcpDataOffset(15).bytes(), verdict: .drop(.malformed)),
    VerdictFixture(
        description: "ARP is left to the data plane",
        input: PacketBuilder().ethernet(dst: .broadcast).arp(
            op: ARPView.request, senderMAC: PacketBuilder.defaultClientMAC, senderIP: Lab.client, targetIP: Lab.vip).bytes(),
        verdict: .notOurs),
    VerdictFixture(
        description: "unrelated TCP", input: Lab.eth().ipv4(src: Lab.client, dst: Lab.rs2).tcp(src: 1, dst: 22, flags: TCPFlag.syn).bytes(),
        verdict: .notOurs),
    VerdictFixture(
        description: "ACK with no connection", input: Lab.eth().ipv4(src: Lab.client, dst: Lab.vip).tcp(src: 40000, dst: 80, flags: TCPFlag.ack).bytes(),
        verdict: .drop(.noConnection)),
    VerdictFixture(
        description: "SYN+RST does not create a connection", input: Lab.eth().ipv4(src: Lab.client, dst: Lab.vip).tcp(src: 40000, dst: 80, flags: TCPFlag.syn | TCPFlag.rst).bytes(),
        verdict: .drop(.noConnection)),
    VerdictFixture(
        description: "VIP on a port without a service", input: Lab.eth().ipv4(src: Lab.client, dst: Lab.vip).tcp(src: 40000, dst: 81, flags: TCPFlag.syn).bytes(),
        verdict: .drop(.noService)),
    VerdictFixture(
        description: "VIP with an unhandled protocol", input: Lab.eth().ipv4(src: Lab.client, dst: Lab.vip).rawTransport(proto: 47).payload([1, 2, 3, 4]).bytes(),
        verdict: .drop(.noService)),
    VerdictFixture(
        description: "non-first fragment to the VIP",
        input: Lab.eth().ipv4(src: Lab.client, dst: Lab.vip, moreFragments: false, fragmentOffset: 1480).rawTransport(proto: IPProto.udp).payload([9, 9, 9, 9]).bytes(),
        verdict: .drop(.fragment)),
]

@Suite struct MalformedFrameTests {
    @Test(arguments: verdictFixtures)
    func verdict(_ f: VerdictFixture) {
        let d = Lab.director()
        let (verdict, out) = FrameHarness(d).run(f.input)
        #expect(verdict == f.verdict)
        #expect(out == f.input, "a frame that is not forwarded is not modified")
        #expect(d.connectionCount == 0)
    }

    /// Random corruption of valid frames never crashes, never reads outside the frame (run with
    /// -sanitize=address to check that), and never corrupts the table's invariants.
    @Test func mutatedFramesNeverCrash() {
        var rng = SplitMix64(seed: 42)
        let d = Lab.director(capacity: 256)
        let seeds: [[UInt8]] = [
            vipSyn.bytes(),
            Lab.eth().ipv6(src: Lab.client6, dst: Lab.vip6).tcp(src: 1, dst: 80, flags: TCPFlag.syn).bytes(),
            Lab.eth().ipv4(src: Lab.router, dst: Lab.vip).icmp(type: 3, code: 4)
                .payload(Array(PacketBuilder().ipv4(src: Lab.vip, dst: Lab.client).tcp(src: 80, dst: 1, flags: 0).bytes().prefix(28))).bytes(),
            Lab.eth().ipv4(src: Lab.client, dst: Lab.vip).udp(src: 9, dst: 53).payload("abc").bytes(),
        ]
        for i in 0..<30_000 {
            var f = seeds[i % seeds.count]
            let cut = Int(rng.next() % UInt64(f.count + 1))
            if rng.next() % 4 == 0 { f = Array(f.prefix(cut)) }
            for _ in 0..<(1 + Int(rng.next() % 4)) where !f.isEmpty {
                f[Int(rng.next() % UInt64(f.count))] = UInt8(truncatingIfNeeded: rng.next())
            }
            let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: max(f.count, 1), alignment: 1)
            buf.copyBytes(from: f)
            var frame = Frame(base: buf.baseAddress!, length: f.count)
            _ = d.process(&frame, now: Timestamp(milliseconds: UInt64(i)))
            buf.deallocate()
        }
        #expect(d.connectionCount <= 256)
        let listed = d.connections(now: Timestamp(milliseconds: 30_000)).count
        #expect(listed == d.connectionCount)
    }
}

/// A tiny deterministic generator for property tests.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}
