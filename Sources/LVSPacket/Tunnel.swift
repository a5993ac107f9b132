/// VS/TUN encapsulations, numbered as IPVS numbers them (IP_VS_CONN_F_TUNNEL_TYPE_*).
public enum TunnelType: UInt8, Sendable, Hashable, CustomStringConvertible {
    /// IP-in-IP: IPv4 in IPv4 (protocol 4) or IPv6 in IPv6 (next header 41).
    case ipip = 0
    /// Generic UDP Encapsulation (draft-ietf-intarea-gue) version 0, no optional fields.
    case gue = 1

    /// "ipip" / "gue", as ipvsadm's --tun-type spells them.
    public var description: String { self == .ipip ? "ipip" : "gue" }
}

/// Building the outer headers of a VS/TUN packet in place (ip_vs_tunnel_xmit, ipvs_gue_encap).
public enum TunnelHeader {
    /// GUE header size without optional fields.
    public static let gueSize = 4

    /// Bytes the encapsulation adds in front of the inner IP packet.
    @inlinable @inline(__always)
    public static func overhead(outerIPv4: Bool, type: TunnelType) -> Int {
        (outerIPv4 ? HeaderSize.ipv4 : HeaderSize.ipv6) &+ (type == .gue ? HeaderSize.udp &+ gueSize : 0)
    }

    /// Moves the IP packet at `l3Offset..<l3End` forward by the encapsulation's overhead and
    /// writes the outer IP header (and UDP + GUE headers for `.gue`) in front of it; the frame's
    /// Ethernet type follows the outer family. The inner packet is not changed: its TTL, addresses
    /// and checksums stay as the client sent them (the real server sees the client's packet).
    ///
    /// Outer fields, as ip_vs_tunnel_xmit sets them: TTL / hop limit copied from the inner header;
    /// TOS / traffic class copied with ECN encapsulated as RFC 6040 says (CE becomes ECT(0));
    /// DF copied from an IPv4 inner header (always set for IPv6 inner packets, which routers
    /// never fragment); the IPv4 identification copied from the inner header. The GUE source port is a hash
    /// of the inner addresses and ports (flow entropy for ECMP/RSS, as udp_flow_src_port). The
    /// outer UDP checksum is computed when `udpChecksum` is set or the outer family is IPv6 (a zero
    /// UDP checksum is not valid over IPv6), and is 0 otherwise.
    ///
    /// Returns false, leaving the frame untouched, when the frame has no room.
    @inlinable
    public static func encapsulate(_ frame: inout Frame, l3Offset: Int, l3End: Int, source: IPAddress,
                                   destination: IPAddress, type: TunnelType, port: UInt16, udpChecksum: Bool) -> Bool {
        let outer4 = destination.isIPv4
        let overhead = overhead(outerIPv4: outer4, type: type)
        let innerLength = l3End &- l3Offset
        guard l3End &+ overhead <= frame.capacity, innerLength &+ overhead <= 65535 else { return false }
        let base = frame.base
        let inner = base + l3Offset + overhead
        inner.copyMemory(from: base + l3Offset, byteCount: innerLength)
        let inner4 = inner.u8(0) >> 4 == 4
        let innerProto = inner4 ? IPProto.ipip : IPProto.ipv6
        var tos: UInt8 = inner4 ? inner.u8(1) : UInt8(truncatingIfNeeded: inner.be16(0) >> 4)
        if tos & 3 == 3 { tos = tos & ~3 | 2 }
        let hopLimit = inner4 ? inner.u8(8) : inner.u8(7)
        let outer = base + l3Offset
        let total = innerLength &+ overhead
        let nextProto = type == .gue ? IPProto.udp : innerProto
        if outer4 {
            outer.setU8(0x45, 0)
            outer.setU8(tos, 1)
            outer.setBE16(UInt16(total), 2)
            outer.setRaw16(inner4 ? inner.raw16(4) : 0, 4)
            outer.setU8(!inner4 || inner.u8(6) & 0x40 != 0 ? 0x40 : 0, 6)
            outer.setU8(0, 7)
            outer.setU8(hopLimit, 8)
            outer.setU8(nextProto, 9)
            outer.setRaw32(source.v4Raw, 12)
            outer.setRaw32(destination.v4Raw, 16)
            IPv4View(unchecked: outer).updateChecksum()
        } else {
            outer.setBE32(0x6000_0000 | UInt32(tos) << 20, 0)
            outer.setBE16(UInt16(total &- HeaderSize.ipv6), 4)
            outer.setU8(nextProto, 6)
            outer.setU8(hopLimit, 7)
            outer.setAddress16(source, 8)
            outer.setAddress16(destination, 24)
        }
        if l3Offset >= 2 { base.setBE16(outer4 ? EtherType.ipv4 : EtherType.ipv6, l3Offset &- 2) }
        if type == .gue {
            let udp = outer + (outer4 ? HeaderSize.ipv4 : HeaderSize.ipv6)
            let udpLength = total &- (outer4 ? HeaderSize.ipv4 : HeaderSize.ipv6)
            udp.setBE16(flowPort(inner, inner4), 0)
            udp.setBE16(port, 2)
            udp.setBE16(UInt16(udpLength), 4)
            udp.setRaw16(0, 6)
            // GUE version 0, C = 0, Hlen = 0, Proto/ctype = the inner protocol, flags 0.
            udp.setU8(0, 8)
            udp.setU8(innerProto, 9)
            udp.setRaw16(0, 10)
            if udpChecksum || !outer4 {
                let pseudo = Checksum.pseudoHeader(src: source, dst: destination, protocol: IPProto.udp, length: udpLength)
                var c = Checksum.compute(UnsafeRawPointer(udp), count: udpLength, initial: pseudo)
                if c == 0 { c = 0xffff }
                udp.setRaw16(c, 6)
            }
        }
        frame.length = l3End &+ overhead
        frame.encapsulation = UInt16(truncatingIfNeeded: overhead)
        return true
    }

    /// A source port in 32768...60999 (Linux's default ephemeral range) derived from the inner
    /// flow, so one flow keeps one outer 5-tuple and different flows spread.
    @inlinable
    public static func flowPort(_ inner: UnsafeMutableRawPointer, _ inner4: Bool) -> UInt16 {
        var h: UInt64
        if inner4 {
            let ihl = Int(inner.u8(0) & 0x0f) &* 4
            h = UInt64(inner.raw32(12)) &+ UInt64(inner.raw32(16)) << 32 ^ UInt64(inner.raw32(ihl)) &* 0x9e37_79b9
        } else {
            h = inner.raw64(8) ^ inner.raw64(16) &* 3 ^ inner.raw64(24) &* 5 ^ inner.raw64(32) &* 7
            h ^= UInt64(inner.raw32(40)) &* 0x9e37_79b9
        }
        h = (h ^ h >> 31) &* 0xbf58_476d_1ce4_e5b9
        h ^= h >> 29
        return UInt16(32768 &+ (h % 28232))
    }
}

extension ICMPMessages {
    /// Answers a packet too big for the tunnel path: ICMP destination unreachable, fragmentation
    /// needed (type 3 code 4, RFC 1191) with the next-hop MTU for IPv4, packet too big (type 2,
    /// RFC 4443) with the MTU for IPv6. `mtu` is the room the inner packet has (path MTU minus the
    /// encapsulation), so the client's PMTU discovery lowers its segment size to fit.
    @inlinable
    public static func fragmentationNeeded(_ frame: inout Frame, _ p: PacketInfo, mtu: Int) -> Bool {
        guard destinationUnreachable(&frame, p, v4Code: ICMPv4Type.codeFragmentationNeeded, v6Code: 0) else { return false }
        let ip = frame.base + p.l3Offset
        let v4 = p.isIPv4
        let icmp = ICMPView(unchecked: ip + (v4 ? HeaderSize.ipv4 : HeaderSize.ipv6))
        let length = frame.length &- p.l3Offset &- (v4 ? HeaderSize.ipv4 : HeaderSize.ipv6)
        if v4 {
            icmp.rest = UInt32(UInt16(clamping: mtu))
        } else {
            icmp.type = ICMPv6Type.packetTooBig
            icmp.rest = UInt32(clamping: max(mtu, 1280))
        }
        icmp.checksum = 0
        let initial = v4 ? 0 : Checksum.pseudoHeader(src: p.dst, dst: p.src, protocol: IPProto.icmpv6, length: length)
        icmp.checksum = Checksum.compute(UnsafeRawPointer(icmp.base), count: length, initial: initial)
        return true
    }
}
