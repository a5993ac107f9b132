/// Software segmentation of an encapsulated TCP super-frame.
///
/// With PACKET_VNET_HDR the director receives GSO/GRO super-frames (up to 64 KB of TCP payload
/// with one header). A virtio_net_hdr cannot describe an IPIP or GUE encapsulated GSO packet, so
/// the kernel cannot segment it on transmit. The VS/TUN path therefore cuts the inner TCP
/// super-frame into `gsoSize` segments, each with its own inner IP/TCP header (lengths, IPv4 id,
/// sequence number, flags, full checksums) and its own copy of the outer headers (lengths, IPv4
/// header checksum, UDP checksum), as the kernel's GSO would before encapsulating.
public struct TunnelSegmenter {
    /// Offset of the outer IP header (after Ethernet and any VLAN tag).
    public let l3Offset: Int
    public let encapsulation: Int
    /// Offset of the inner IP header and of the inner TCP header.
    public let innerOffset: Int
    public let tcpOffset: Int
    /// Headers copied into every segment: Ethernet, outer, inner IP, TCP.
    public let headerLength: Int
    public let payloadLength: Int
    public let segmentSize: Int

    /// Reads the layout of `frame` (as left by `TunnelHeader.encapsulate`); nil when the inner
    /// packet is not TCP over IPv4 or IPv6 without extension headers, or the sizes are unusable.
    @inlinable
    public init?(_ frame: Frame, l3Offset: Int, gsoSize: Int) {
        let encapsulation = Int(frame.encapsulation)
        guard gsoSize > 0, encapsulation > 0 else { return nil }
        let inner = l3Offset &+ encapsulation
        guard frame.length >= inner &+ HeaderSize.ipv6 &+ HeaderSize.tcp else { return nil }
        let b = frame.base
        let inner4 = b.u8(inner) >> 4 == 4
        let tcp: Int
        let end: Int
        if inner4 {
            guard b.u8(inner &+ 9) == IPProto.tcp else { return nil }
            tcp = inner &+ Int(b.u8(inner) & 0x0f) &* 4
            end = inner &+ Int(b.be16(inner &+ 2))
        } else {
            guard b.u8(inner &+ 6) == IPProto.tcp else { return nil }
            tcp = inner &+ HeaderSize.ipv6
            end = tcp &+ Int(b.be16(inner &+ 4))
        }
        let header = tcp &+ Int(b.u8(tcp &+ 12) >> 4) &* 4
        guard end <= frame.length, header <= end, tcp &+ HeaderSize.tcp <= header else { return nil }
        self.l3Offset = l3Offset
        self.encapsulation = encapsulation
        innerOffset = inner
        tcpOffset = tcp
        headerLength = header
        payloadLength = end &- header
        segmentSize = gsoSize
    }

    /// Segments the super-frame becomes.
    @inlinable public var count: Int { max(1, (payloadLength &+ segmentSize &- 1) / segmentSize) }

    /// Bytes of the largest segment frame.
    @inlinable public var maxSegmentLength: Int { headerLength &+ min(segmentSize, payloadLength) }

    /// Writes segment `k` (0-based) of `frame` to `out` and returns its length in bytes.
    @inlinable
    public func write(_ frame: Frame, segment k: Int, to out: UnsafeMutableRawPointer) -> Int {
        let b = frame.base
        let offset = k &* segmentSize
        let chunk = min(segmentSize, payloadLength &- offset)
        out.copyMemory(from: b, byteCount: headerLength)
        (out + headerLength).copyMemory(from: b + (headerLength &+ offset), byteCount: chunk)
        let last = k == count &- 1
        let length = headerLength &+ chunk
        // Inner IP header.
        let inner = out + innerOffset
        let inner4 = inner.u8(0) >> 4 == 4
        let tcpLength = length &- tcpOffset
        if inner4 {
            inner.setBE16(UInt16(length &- innerOffset), 2)
            inner.setBE16(inner.be16(4) &+ UInt16(truncatingIfNeeded: k), 4)
            IPv4View(unchecked: inner).updateChecksum()
        } else {
            inner.setBE16(UInt16(tcpLength), 4)
        }
        // TCP: sequence, flags (FIN/PSH only on the last segment, CWR only on the first), checksum.
        let tcp = out + tcpOffset
        tcp.setBE32(tcp.be32(4) &+ UInt32(truncatingIfNeeded: offset), 4)
        var flags = tcp.u8(13)
        if !last { flags &= ~(TCPFlag.fin | TCPFlag.psh) }
        if k != 0 { flags &= ~TCPFlag.cwr }
        tcp.setU8(flags, 13)
        tcp.setRaw16(0, 16)
        let src = inner4 ? inner.address4(12) : inner.address16(8)
        let dst = inner4 ? inner.address4(16) : inner.address16(24)
        let pseudo = Checksum.pseudoHeader(src: src, dst: dst, protocol: IPProto.tcp, length: tcpLength)
        tcp.setRaw16(Checksum.compute(UnsafeRawPointer(tcp), count: tcpLength, initial: pseudo), 16)
        // Outer headers.
        let outer = out + l3Offset
        let outer4 = outer.u8(0) >> 4 == 4
        let outerHeader = outer4 ? HeaderSize.ipv4 : HeaderSize.ipv6
        let outerLength = length &- l3Offset
        let udpPresent = outer.u8(outer4 ? 9 : 6) == IPProto.udp
        if outer4 {
            outer.setBE16(UInt16(outerLength), 2)
            outer.setBE16(outer.be16(4) &+ UInt16(truncatingIfNeeded: k), 4)
            IPv4View(unchecked: outer).updateChecksum()
        } else {
            outer.setBE16(UInt16(outerLength &- HeaderSize.ipv6), 4)
        }
        if udpPresent {
            let udp = outer + outerHeader
            let udpLength = outerLength &- outerHeader
            udp.setBE16(UInt16(udpLength), 4)
            if udp.raw16(6) != 0 || !outer4 {
                udp.setRaw16(0, 6)
                let osrc = outer4 ? outer.address4(12) : outer.address16(8)
                let odst = outer4 ? outer.address4(16) : outer.address16(24)
                let opseudo = Checksum.pseudoHeader(src: osrc, dst: odst, protocol: IPProto.udp, length: udpLength)
                var c = Checksum.compute(UnsafeRawPointer(udp), count: udpLength, initial: opseudo)
                if c == 0 { c = 0xffff }
                udp.setRaw16(c, 6)
            }
        }
        return length
    }
}
