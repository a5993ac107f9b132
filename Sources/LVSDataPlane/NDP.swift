import LVSPacket

/// IPv6 neighbour discovery (RFC 4861) for the data plane, the IPv6 counterpart of `ARP`:
/// answering Neighbor Solicitations for the VIPs it owns, soliciting real servers and gateways,
/// and reading the link-layer address options it learns from.
public enum NDP {
    static let nsFixed = 24  // type, code, checksum, reserved, target
    static let sourceLinkLayer: UInt8 = 1
    static let targetLinkLayer: UInt8 = 2

    /// The target of a well-formed Neighbor Solicitation (hop limit 255, code 0), else nil.
    public static func solicitationTarget(_ frame: UnsafeMutableRawPointer, _ p: PacketInfo) -> IPAddress? {
        guard p.network == .ipv6, p.l4Protocol == IPProto.icmpv6, p.icmpType == ICMPv6Type.neighborSolicitation,
            p.icmpCode == 0, p.l4Length >= nsFixed, frame.u8(p.l3Offset + 7) == 255
        else { return nil }
        return frame.address16(p.l4Offset + 8)
    }

    /// The target of a well-formed Neighbor Advertisement, else nil.
    public static func advertisementTarget(_ frame: UnsafeMutableRawPointer, _ p: PacketInfo) -> IPAddress? {
        guard p.network == .ipv6, p.l4Protocol == IPProto.icmpv6, p.icmpType == ICMPv6Type.neighborAdvertisement,
            p.icmpCode == 0, p.l4Length >= nsFixed, frame.u8(p.l3Offset + 7) == 255
        else { return nil }
        return frame.address16(p.l4Offset + 8)
    }

    /// The link-layer address in an option of `type` (1 source, 2 target), walking the options
    /// with their lengths checked.
    public static func linkLayerOption(_ frame: UnsafeMutableRawPointer, _ p: PacketInfo, type: UInt8) -> MACAddress? {
        var off = p.l4Offset + nsFixed
        while off + 8 <= p.l3End {
            let len = Int(frame.u8(off + 1)) * 8
            guard len > 0, off + len <= p.l3End else { return nil }
            if frame.u8(off) == type && len >= 8 { return MACAddress(at: frame, off + 2) }
            off += len
        }
        return nil
    }

    /// Replaces a Neighbor Solicitation with the solicited advertisement "target is at `mac`"
    /// (flags Solicited + Override), in place. False when the buffer has no room.
    public static func advertise(_ frame: inout Frame, _ p: PacketInfo, mac: MACAddress) -> Bool {
        let base = frame.base
        let l3 = p.l3Offset
        let total = l3 + HeaderSize.ipv6 + 32
        guard total <= frame.capacity, let target = solicitationTarget(base, p) else { return false }
        let requesterMAC = linkLayerOption(base, p, type: sourceLinkLayer) ?? MACAddress(at: base, 6)
        let unspecified = p.src == .zero
        // From an unspecified source (DAD) the answer goes to all nodes (RFC 4861 7.2.4).
        let dst = unspecified ? IPAddress("ff02::1")! : p.src
        let ip = base + l3
        ip.setBE32(0x6000_0000, 0)
        ip.setBE16(32, 4)
        ip.setU8(IPProto.icmpv6, 6)
        ip.setU8(255, 7)
        ip.setAddress16(target, 8)
        ip.setAddress16(dst, 24)
        let icmp = ip + HeaderSize.ipv6
        icmp.setU8(ICMPv6Type.neighborAdvertisement, 0)
        icmp.setU8(0, 1)
        icmp.setRaw16(0, 2)
        icmp.setBE32(unspecified ? 0x2000_0000 : 0x6000_0000, 4)  // (S)olicited unless DAD, (O)verride
        icmp.setAddress16(target, 8)
        icmp.setU8(targetLinkLayer, 24)
        icmp.setU8(1, 25)
        mac.store(to: icmp, 26)
        let pseudo = Checksum.pseudoHeader(src: target, dst: dst, protocol: IPProto.icmpv6, length: 32)
        icmp.setRaw16(Checksum.compute(UnsafeRawPointer(icmp), count: 32, initial: pseudo), 2)
        (unspecified ? MACAddress(0x33, 0x33, 0, 0, 0, 1) : requesterMAC).store(to: base, 0)
        mac.store(to: base, 6)
        frame.length = total
        return true
    }

    /// Writes a Neighbor Solicitation for `target` to its solicited-node multicast group
    /// (86 bytes) at `buffer`. Returns the length.
    public static func solicit(_ buffer: UnsafeMutableRawPointer, senderMAC: MACAddress, senderIP: IPAddress,
                               target: IPAddress) -> Int {
        let t = target.bytes
        let group = IPAddress(bytes: [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, t[13], t[14], t[15]])!
        MACAddress(0x33, 0x33, 0xff, t[13], t[14], t[15]).store(to: buffer, 0)
        senderMAC.store(to: buffer, 6)
        buffer.setBE16(EtherType.ipv6, 12)
        let ip = buffer + HeaderSize.ethernet
        ip.setBE32(0x6000_0000, 0)
        ip.setBE16(32, 4)
        ip.setU8(IPProto.icmpv6, 6)
        ip.setU8(255, 7)
        ip.setAddress16(senderIP, 8)
        ip.setAddress16(group, 24)
        let icmp = ip + HeaderSize.ipv6
        icmp.setU8(ICMPv6Type.neighborSolicitation, 0)
        icmp.setU8(0, 1)
        icmp.setRaw16(0, 2)
        icmp.setRaw32(0, 4)
        icmp.setAddress16(target, 8)
        icmp.setU8(sourceLinkLayer, 24)
        icmp.setU8(1, 25)
        senderMAC.store(to: icmp, 26)
        let pseudo = Checksum.pseudoHeader(src: senderIP, dst: group, protocol: IPProto.icmpv6, length: 32)
        icmp.setRaw16(Checksum.compute(UnsafeRawPointer(icmp), count: 32, initial: pseudo), 2)
        return HeaderSize.ethernet + HeaderSize.ipv6 + 32
    }
}
