import LVSPacket
import Testing

@testable import LVSEngine

/// TOA on FULLNAT: option 254 with the client's port and address goes into the first ACK after
/// the handshake (not the SYN), only when the TCP header has room; the SYN-ACK's MSS shrinks by
/// the option length.
@Suite struct TOATests {
    let c = Lab.client, v = Lab.vip, r1 = Lab.rs1
    let lip = IPAddress("172.16.40.10")!
    let syn = TCPFlag.syn, ack = TCPFlag.ack, psh = TCPFlag.psh
    /// kind 254, len 8, port 40000, 192.0.2.10
    let toa4: [UInt8] = [254, 8, 0x9C, 0x40, 192, 0, 2, 10]

    func director() -> FrameHarness {
        let d = Director(DirectorConfiguration(connectionCapacity: 64))
        try! d.addService(ServiceSpec(Lab.web, scheduler: "rr", localAddresses: [lip], clientAddress: .toa))
        try! d.addDestination(DestinationSpec(address: r1, port: 8080, method: .fullNAT), to: Lab.web)
        return FrameHarness(d)
    }

    @Test func optionBytes() {
        var buf = [UInt8](repeating: 0, count: 20)
        buf.withUnsafeMutableBytes { TOAOption.write($0.baseAddress!, address: c, port: 40000) }
        #expect(Array(buf.prefix(8)) == toa4)
        buf.withUnsafeMutableBytes { TOAOption.write($0.baseAddress!, address: IPAddress("2001:db8::1")!, port: 443) }
        #expect(buf == [254, 20, 0x01, 0xbb, 0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [1])
    }

    @Test func firstAckAfterTheHandshakeCarriesIt() {
        let h = director()
        let mss: [UInt8] = [2, 4, 0x05, 0xb4]  // 1460
        let (_, s) = h.run(Lab.eth().ipv4(src: c, dst: v).tcp(src: 40000, dst: 80, flags: syn, seq: 100, options: mss).bytes())
        #expect(s == Lab.eth().ipv4(src: lip, dst: r1).tcp(src: 1024, dst: 8080, flags: syn, seq: 100, options: mss).bytes())
        // The server's SYN-ACK advertises 1460; the client is told 1452.
        let (_, sa) = h.run(Lab.eth().ipv4(src: r1, dst: lip)
            .tcp(src: 8080, dst: 1024, flags: syn | ack, seq: 5000, ack: 101, options: mss).bytes())
        #expect(sa == Lab.eth().ipv4(src: v, dst: c)
            .tcp(src: 80, dst: 40000, flags: syn | ack, seq: 5000, ack: 101, options: [2, 4, 0x05, 0xac]).bytes())
        #expect(checksumsVerify(sa))
        let (_, a) = h.run(Lab.eth().ipv4(src: c, dst: v).tcp(src: 40000, dst: 80, flags: ack, seq: 101, ack: 5001).bytes())
        #expect(a == Lab.eth().ipv4(src: lip, dst: r1).tcp(src: 1024, dst: 8080, flags: ack, seq: 101, ack: 5001, options: toa4).bytes())
        #expect(checksumsVerify(a))
        // Only once: the next segment is unchanged (and keeps its sequence numbers).
        let (_, d) = h.run(Lab.eth().ipv4(src: c, dst: v).tcp(src: 40000, dst: 80, flags: ack | psh, seq: 101, ack: 5001).payload("GET /").bytes())
        #expect(d == Lab.eth().ipv4(src: lip, dst: r1).tcp(src: 1024, dst: 8080, flags: ack | psh, seq: 101, ack: 5001).payload("GET /").bytes())
    }

    @Test func noRoomInTheHeaderMeansTheNextSegmentTries() {
        let h = director()
        _ = h.run(Lab.eth().ipv4(src: c, dst: v).tcp(src: 40000, dst: 80, flags: syn, seq: 100).bytes())
        // 36 bytes of options: 20 + 36 + 8 > 60.
        let full = [UInt8](repeating: 1, count: 36)
        let (_, a) = h.run(Lab.eth().ipv4(src: c, dst: v).tcp(src: 40000, dst: 80, flags: ack, seq: 101, ack: 5001, options: full).bytes())
        #expect(a == Lab.eth().ipv4(src: lip, dst: r1).tcp(src: 1024, dst: 8080, flags: ack, seq: 101, ack: 5001, options: full).bytes())
        let ts: [UInt8] = [1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2]
        let (_, b) = h.run(Lab.eth().ipv4(src: c, dst: v).tcp(src: 40000, dst: 80, flags: ack | psh, seq: 101, ack: 5001, options: ts)
            .payload("GET /").bytes())
        #expect(b == Lab.eth().ipv4(src: lip, dst: r1).tcp(src: 1024, dst: 8080, flags: ack | psh, seq: 101, ack: 5001, options: ts + toa4)
            .payload("GET /").bytes())
        #expect(checksumsVerify(b))
    }

    @Test func ipv6Option() {
        let l6 = IPAddress("fd00:40::10")!
        let d = Director(DirectorConfiguration(connectionCapacity: 64))
        try! d.addService(ServiceSpec(Lab.web6, scheduler: "rr", localAddresses: [l6], clientAddress: .toa))
        try! d.addDestination(DestinationSpec(address: Lab.rs6, port: 8080, method: .fullNAT), to: Lab.web6)
        let h = FrameHarness(d)
        _ = h.run(Lab.eth().ipv6(src: Lab.client6, dst: Lab.vip6).tcp(src: 41000, dst: 80, flags: syn, seq: 1).bytes())
        let (_, a) = h.run(Lab.eth().ipv6(src: Lab.client6, dst: Lab.vip6).tcp(src: 41000, dst: 80, flags: ack, seq: 2, ack: 9).bytes())
        var opt = [UInt8](repeating: 0, count: 20)
        opt.withUnsafeMutableBytes { TOAOption.write($0.baseAddress!, address: Lab.client6, port: 41000) }
        #expect(a == Lab.eth().ipv6(src: l6, dst: Lab.rs6).tcp(src: 1024, dst: 8080, flags: ack, seq: 2, ack: 9, options: opt).bytes())
        #expect(checksumsVerify(a))
    }
}
