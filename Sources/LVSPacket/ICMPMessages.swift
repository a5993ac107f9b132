/// Writes ICMP answers into a frame in place: echo replies and destination-unreachable errors.
///
/// The frame's own buffer is reused (the quoted packet is moved behind the new headers), so
/// answering costs no allocation. Ethernet addresses are swapped: the answer leaves through the
/// interface the question came in on.
public enum ICMPMessages {
    /// TTL / hop limit of packets the director originates.
    public static let ttl: UInt8 = 64

    /// Turns an ICMP/ICMPv6 echo request into its reply (addresses swapped, type changed).
    /// Returns false when `p` is not an echo request.
    @inlinable
    public static func echoReply(_ base: UnsafeMutableRawPointer, _ p: PacketInfo) -> Bool {
        let l3 = base + p.l3Offset
        let icmp = ICMPView(unchecked: base + p.l4Offset)
        let oldWord = icmp.base.raw16(0)
        if p.isIPv4 {
            guard p.icmpType == ICMPv4Type.echoRequest else { return false }
            let ip = IPv4View(unchecked: l3)
            ip.base.setRaw32(p.dst.v4Raw, 12)
            ip.base.setRaw32(p.src.v4Raw, 16)
            let oldTTL = ip.base.raw16(8)
            ip.ttl = ttl
            ip.checksum = Checksum.update(ip.checksum, delta: Checksum.delta16(old: oldTTL, new: ip.base.raw16(8)))
            icmp.type = ICMPv4Type.echoReply
        } else {
            guard p.icmpType == ICMPv6Type.echoRequest else { return false }
            let ip = IPv6View(unchecked: l3)
            ip.source = p.dst
            ip.destination = p.src
            ip.hopLimit = ttl
            icmp.type = ICMPv6Type.echoReply
        }
        icmp.checksum = Checksum.update(icmp.checksum, delta: Checksum.delta16(old: oldWord, new: icmp.base.raw16(0)))
        EthernetView(base, length: p.l3Offset)?.swapAddresses()
        return true
    }

    /// Replaces the frame with an ICMP port-unreachable (v4 type 3 code 3, v6 type 1 code 4) from
    /// the packet's destination to its source, quoting the IP header and the first 8 payload bytes
    /// (IPv4, RFC 792) or as much as fits in the minimum MTU (IPv6, RFC 4443). Returns false when
    /// the buffer has no room or the packet must not be answered (RFC 1122 3.2.2).
    @inlinable
    public static func portUnreachable(_ frame: inout Frame, _ p: PacketInfo) -> Bool {
        destinationUnreachable(&frame, p, v4Code: ICMPv4Type.codePortUnreachable, v6Code: ICMPv6Type.codePortUnreachable)
    }

    @inlinable
    public static func destinationUnreachable(_ frame: inout Frame, _ p: PacketInfo, v4Code: UInt8, v6Code: UInt8) -> Bool {
        guard p.fragment != .subsequent else { return false }
        let base = frame.base
        let l3 = p.l3Offset
        if p.isIPv4 {
            let ihl = IPv4View(unchecked: base + l3).headerLength
            let quote = min(p.ipLength, ihl + 8)
            let total = HeaderSize.ipv4 + HeaderSize.icmp + quote
            guard l3 + total <= frame.capacity else { return false }
            (base + l3 + HeaderSize.ipv4 + HeaderSize.icmp).copyMemory(from: base + l3, byteCount: quote)
            let ip = base + l3
            ip.setU8(0x45, 0)
            ip.setU8(0xc0, 1)
            ip.setBE16(UInt16(total), 2)
            ip.setRaw32(0, 4)  // id 0, no flags
            ip.setU8(ttl, 8)
            ip.setU8(IPProto.icmp, 9)
            ip.setRaw32(p.dst.v4Raw, 12)
            ip.setRaw32(p.src.v4Raw, 16)
            IPv4View(unchecked: ip).updateChecksum()
            let icmp = ICMPView(unchecked: ip + HeaderSize.ipv4)
            icmp.type = ICMPv4Type.destinationUnreachable
            icmp.code = v4Code
            icmp.rest = 0
            icmp.checksum = 0
            icmp.checksum = Checksum.compute(UnsafeRawPointer(icmp.base), count: HeaderSize.icmp + quote)
            frame.length = l3 + total
        } else {
            let room = frame.capacity - l3 - HeaderSize.ipv6 - HeaderSize.icmp
            let quote = min(p.ipLength, 1280 - HeaderSize.ipv6 - HeaderSize.icmp, room)
            guard quote >= HeaderSize.ipv6 else { return false }
            let total = HeaderSize.ipv6 + HeaderSize.icmp + quote
            (base + l3 + HeaderSize.ipv6 + HeaderSize.icmp).copyMemory(from: base + l3, byteCount: quote)
            let ip = base + l3
            ip.setBE32(0x6000_0000, 0)  // version 6, traffic class 0, flow label 0
            ip.setBE16(UInt16(HeaderSize.icmp + quote), 4)
            ip.setU8(IPProto.icmpv6, 6)
            ip.setU8(ttl, 7)
            ip.setAddress16(p.dst, 8)
            ip.setAddress16(p.src, 24)
            let icmp = ICMPView(unchecked: ip + HeaderSize.ipv6)
            icmp.type = ICMPv6Type.destinationUnreachable
            icmp.code = v6Code
            icmp.rest = 0
            icmp.checksum = 0
            let pseudo = Checksum.pseudoHeader(src: p.dst, dst: p.src, protocol: IPProto.icmpv6, length: HeaderSize.icmp + quote)
            icmp.checksum = Checksum.compute(UnsafeRawPointer(icmp.base), count: HeaderSize.icmp + quote, initial: pseudo)
            frame.length = l3 + total
        }
        EthernetView(base, length: l3)?.swapAddresses()
        return true
    }
}

