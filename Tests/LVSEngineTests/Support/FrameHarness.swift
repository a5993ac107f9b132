import LVSPacket
@testable import LVSEngine

/// Runs frames through a Director from byte arrays, the way a data plane would hand them over.
struct FrameHarness {
    let director: Director
    /// Spare bytes after the frame, so the engine can write answers (ICMP errors) in place.
    var headroom = 256

    init(_ director: Director) { self.director = director }

    /// Processes `bytes`; returns the verdict and the frame as it is afterwards.
    func run(_ bytes: [UInt8], partial: Bool = false, now: Timestamp = Timestamp(milliseconds: 1000))
        -> (Verdict, [UInt8])
    {
        let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count + headroom, alignment: 16)
        defer { buf.deallocate() }
        buf.initializeMemory(as: UInt8.self, repeating: 0xee)
        buf.copyBytes(from: bytes)
        var frame = Frame(base: buf.baseAddress!, length: bytes.count, capacity: buf.count, checksumPartial: partial)
        let v = director.process(&frame, now: now)
        return (v, Array(buf[0..<frame.length]))
    }
}

enum Lab {
    static let vip = IPAddress("10.0.0.100")!
    static let client = IPAddress("192.0.2.10")!
    static let rs1 = IPAddress("192.168.10.2")!
    static let rs2 = IPAddress("192.168.10.3")!
    static let vip6 = IPAddress("2001:db8::100")!
    static let client6 = IPAddress("2001:db8:c::10")!
    static let rs6 = IPAddress("fd00:10::2")!
    static let router = IPAddress("203.0.113.1")!

    static let web = ServiceKey(.tcp, vip, 80)
    static let dns = ServiceKey(.udp, vip, 53)
    static let web6 = ServiceKey(.tcp, vip6, 80)

    /// One NAT service per key above, each with one real server (port 8080 / 5353).
    static func director(capacity: Int = 1024) -> Director {
        let d = Director(DirectorConfiguration(connectionCapacity: capacity))
        try! d.addService(ServiceSpec(web, scheduler: "rr"))
        try! d.addDestination(DestinationSpec(address: rs1, port: 8080), to: web)
        try! d.addService(ServiceSpec(dns, scheduler: "rr"))
        try! d.addDestination(DestinationSpec(address: rs1, port: 5353), to: dns)
        try! d.addService(ServiceSpec(web6, scheduler: "rr"))
        try! d.addDestination(DestinationSpec(address: rs6, port: 8080), to: web6)
        return d
    }

    static func eth() -> PacketBuilder { PacketBuilder().ethernet() }
}

/// Checks every checksum a rewritten frame carries: IPv4 header, TCP/UDP (full, not partial),
/// ICMP (with the IPv6 pseudo-header for ICMPv6).
func checksumsVerify(_ bytes: [UInt8]) -> Bool {
    var copy = bytes
    return copy.withUnsafeMutableBytes { buf -> Bool in
        guard case .ok(let p) = PacketParser.parse(buf) else { return false }
        guard p.isIP else { return true }
        let base = buf.baseAddress!
        if p.isIPv4 && !IPv4View(unchecked: base + p.l3Offset).checksumIsValid { return false }
        let l4 = UnsafeRawPointer(base + p.l4Offset)
        switch p.l4Protocol {
        case IPProto.tcp, IPProto.udp, IPProto.icmpv6:
            if p.l4Protocol == IPProto.udp && p.isIPv4 && base.raw16(p.l4Offset + 6) == 0 { return true }
            let pseudo = Checksum.pseudoHeader(src: p.src, dst: p.dst, protocol: p.l4Protocol, length: p.l4Length)
            return Checksum.verifies(l4, count: p.l4Length, initial: pseudo)
        case IPProto.icmp:
            return Checksum.verifies(l4, count: p.l4Length)
        default:
            return true
        }
    }
}
