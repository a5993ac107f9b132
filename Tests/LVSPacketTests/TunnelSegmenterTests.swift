import LVSPacket
import Testing

/// Software segmentation of an encapsulated TCP super-frame: each segment must be exactly what the
/// kernel's GSO would have produced before encapsulation, wrapped in its own outer headers.
@Suite struct TunnelSegmenterTests {
    static let client = IPAddress("192.0.2.10")!, vip = IPAddress("10.0.0.100")!
    static let dip = IPAddress("192.168.10.1")!, rs = IPAddress("192.168.10.2")!
    static let client6 = IPAddress("2001:db8:c::10")!, vip6 = IPAddress("2001:db8::100")!
    static let dip6 = IPAddress("fd00:10::1")!, rs6 = IPAddress("fd00:10::2")!

    /// Encapsulates `inner` (an IP packet) as the engine does and segments it at `gso`; returns
    /// the segment frames.
    func segments(_ inner: [UInt8], gso: Int, type: TunnelType, outer6: Bool, udpChecksum: Bool = false) -> [[UInt8]] {
        let frame = PacketBuilder().ethernet().bytes().prefix(12) + [0x08, 0x00] + inner
        let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: frame.count + 128, alignment: 16)
        defer { buf.deallocate() }
        buf.copyBytes(from: frame)
        var f = Frame(base: buf.baseAddress!, length: frame.count, capacity: buf.count, checksumPartial: true,
                      gsoSize: UInt16(gso))
        let ok = TunnelHeader.encapsulate(&f, l3Offset: 14, l3End: frame.count, source: outer6 ? Self.dip6 : Self.dip,
                                          destination: outer6 ? Self.rs6 : Self.rs, type: type, port: 6080,
                                          udpChecksum: udpChecksum)
        #expect(ok)
        guard let seg = TunnelSegmenter(f, l3Offset: 14, gsoSize: gso) else {
            Issue.record("not segmentable")
            return []
        }
        let out = UnsafeMutableRawPointer.allocate(byteCount: 16384, alignment: 16)
        defer { out.deallocate() }
        return (0..<seg.count).map { k in
            let n = seg.write(f, segment: k, to: out)
            return Array(UnsafeRawBufferPointer(start: out, count: n))
        }
    }

    func payload(_ n: Int) -> [UInt8] { (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 7) } }

    @Test func ipv4InGUEIsCutIntoSegmentsWithTheirOwnHeaders() {
        let data = payload(2500)
        let inner = PacketBuilder().ipv4(src: Self.client, dst: Self.vip, id: 100)
            .tcp(src: 40000, dst: 80, flags: TCPFlag.ack | TCPFlag.psh | TCPFlag.fin | TCPFlag.cwr, seq: 5000, ack: 77)
            .l4Checksum(.partial).payload(data).bytes()
        let segs = segments(inner, gso: 1000, type: .gue, outer6: false, udpChecksum: true)
        #expect(segs.count == 3)
        for (k, s) in segs.enumerated() {
            let chunk = Array(data[k * 1000..<min(data.count, (k + 1) * 1000)])
            var flags = TCPFlag.ack
            if k == 0 { flags |= TCPFlag.cwr }
            if k == 2 { flags |= TCPFlag.psh | TCPFlag.fin }
            let expectedInner = PacketBuilder().ipv4(src: Self.client, dst: Self.vip, id: UInt16(100 + k))
                .tcp(src: 40000, dst: 80, flags: flags, seq: UInt32(5000 + k * 1000), ack: 77).payload(chunk).bytes()
            // Outer: 14 Ethernet + 20 IPv4 + 8 UDP + 4 GUE.
            #expect(Array(s[46...]) == expectedInner, "segment \(k) inner")
            let outerIP = Array(s[14..<34])
            #expect(Int(outerIP[2]) << 8 | Int(outerIP[3]) == s.count - 14)
            #expect(s.withUnsafeBytes { Checksum.verifies($0.baseAddress! + 14, count: 20) })
            let udpLength = s.count - 34
            #expect(Int(s[38]) << 8 | Int(s[39]) == udpLength)
            let pseudo = Checksum.pseudoHeader(src: Self.dip, dst: Self.rs, protocol: IPProto.udp, length: udpLength)
            #expect(s.withUnsafeBytes { Checksum.verifies($0.baseAddress! + 34, count: udpLength, initial: pseudo) })
        }
    }

    @Test func ipv6InIPv6SegmentsKeepZeroIDsAndFixPayloadLengths() {
        let data = payload(3000)
        let inner = PacketBuilder().ipv6(src: Self.client6, dst: Self.vip6)
            .tcp(src: 41000, dst: 80, flags: TCPFlag.ack, seq: 1).l4Checksum(.partial).payload(data).bytes()
        let segs = segments(inner, gso: 1400, type: .ipip, outer6: true)
        #expect(segs.count == 3)
        for (k, s) in segs.enumerated() {
            let chunk = Array(data[k * 1400..<min(data.count, (k + 1) * 1400)])
            let expectedInner = PacketBuilder().ipv6(src: Self.client6, dst: Self.vip6)
                .tcp(src: 41000, dst: 80, flags: TCPFlag.ack, seq: UInt32(1 + k * 1400)).payload(chunk).bytes()
            #expect(Array(s[54...]) == expectedInner, "segment \(k) inner")
            #expect(Int(s[18]) << 8 | Int(s[19]) == s.count - 54)  // outer payload length
            #expect(s[20] == IPProto.ipv6)
        }
    }

    @Test func aSuperFrameThatIsNotTCPIsRefused() {
        let inner = PacketBuilder().ipv4(src: Self.client, dst: Self.vip).udp(src: 1, dst: 2).payload(payload(3000)).bytes()
        let frame = PacketBuilder().ethernet().bytes().prefix(12) + [0x08, 0x00] + inner
        let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: frame.count + 64, alignment: 16)
        defer { buf.deallocate() }
        buf.copyBytes(from: frame)
        var f = Frame(base: buf.baseAddress!, length: frame.count, capacity: buf.count, gsoSize: 1000)
        _ = TunnelHeader.encapsulate(&f, l3Offset: 14, l3End: frame.count, source: Self.dip, destination: Self.rs,
                                     type: .ipip, port: 0, udpChecksum: false)
        #expect(TunnelSegmenter(f, l3Offset: 14, gsoSize: 1000) == nil)
    }

    @Test func encapsulationNeedsRoom() {
        let inner = PacketBuilder().ipv4(src: Self.client, dst: Self.vip).tcp(src: 1, dst: 2, flags: 0).bytes()
        let frame = PacketBuilder().ethernet().bytes().prefix(12) + [0x08, 0x00] + inner
        let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: frame.count + 10, alignment: 16)
        defer { buf.deallocate() }
        buf.copyBytes(from: frame)
        var f = Frame(base: buf.baseAddress!, length: frame.count, capacity: buf.count)
        #expect(!TunnelHeader.encapsulate(&f, l3Offset: 14, l3End: frame.count, source: Self.dip, destination: Self.rs,
                                          type: .ipip, port: 0, udpChecksum: false))
        #expect(f.length == frame.count)
        #expect(f.encapsulation == 0)
    }
}
