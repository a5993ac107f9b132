import LVSPacket

// ICMP errors about the director's own tunnel packets (IPVS ip_vs_in_icmp's "IPIP special case",
// spec section 4): a router between the director and a real server cannot forward an encapsulated
// packet and answers the tunnel's outer source, quoting the outer header, then the client's packet.
// For fragmentation-needed / packet-too-big the director relays the news to the client with the
// MTU reduced by the encapsulation, so the client's PMTU discovery shrinks its packets.
extension Director {
    /// nil when the error is not about a VS/TUN packet of ours (the caller goes on as usual).
    @inlinable
    func tunnelError(_ frame: inout Frame, _ p: PacketInfo) -> Verdict? {
        let source = p.isIPv4 ? tunnelPath.source4 : tunnelPath.source6
        guard source != .zero, p.dst == source else { return nil }
        let tooBig = p.isIPv4
            ? p.icmpType == ICMPv4Type.destinationUnreachable && p.icmpCode == ICMPv4Type.codeFragmentationNeeded
            : p.icmpType == ICMPv6Type.packetTooBig
        guard tooBig else { return nil }
        let base = frame.base
        let end = p.l3End
        // The quoted outer packet: ours (source = our tunnel source) and a tunnel protocol.
        guard let outer = PacketParser.parseQuoted(base, offset: p.l4Offset &+ HeaderSize.icmp, end: end, ipv4: p.isIPv4),
            outer.src == source
        else { return nil }
        var inner = outer.l4Offset
        var innerProto = outer.proto
        if outer.proto == IPProto.udp {
            // GUE: UDP + a version-0 data header whose proto names the inner family.
            guard inner &+ HeaderSize.udp &+ TunnelHeader.gueSize <= end, base.u8(inner &+ 8) & 0xe0 == 0 else { return nil }
            innerProto = base.u8(inner &+ 9)
            inner &+= HeaderSize.udp &+ Int(TunnelHeader.gueSize) &+ Int(base.u8(inner &+ 8) & 0x1f) &* 4
        }
        guard innerProto == IPProto.ipip || innerProto == IPProto.ipv6 else { return nil }
        let inner4 = innerProto == IPProto.ipip
        guard let q = PacketParser.parseQuoted(base, offset: inner, end: end, ipv4: inner4),
            q.proto == IPProto.tcp || q.proto == IPProto.udp
        else { return drop(.icmpUnusable) }
        let ci = table.lookupIn(q.proto, client: q.src, cport: q.srcPort, virtual: q.dst, vport: q.dstPort)
        guard ci != nilIndex else { return drop(.noConnection) }
        let c = table.entries + Int(ci)
        guard c.pointee.method == ForwardingMethod.tunnel.rawValue else { return drop(.noConnection) }
        guard icmpChecksumVerifies(frame, p) else { return drop(.badICMPChecksum) }
        // The MTU the router reported, less our encapsulation.
        let reported = p.isIPv4 ? Int(base.be16(p.l4Offset &+ 6)) : Int(base.be32(p.l4Offset &+ 4))
        let overhead = TunnelHeader.overhead(outerIPv4: p.isIPv4, type: dests[Int(c.pointee.destSlot)].tunnel.type)
        // Move the client's (quoted) packet to the frame's IP position and answer it from the VIP.
        let quoted = end &- inner
        (base + p.l3Offset).copyMemory(from: base + inner, byteCount: quoted)
        if p.l3Offset >= 2 { base.setBE16(inner4 ? EtherType.ipv4 : EtherType.ipv6, p.l3Offset &- 2) }
        var client = PacketInfo()
        client.network = inner4 ? .ipv4 : .ipv6
        client.l3Offset = p.l3Offset
        client.l3End = p.l3Offset &+ quoted
        client.l4Offset = p.l3Offset &+ (q.l4Offset &- inner)
        client.l4Protocol = q.proto
        client.src = q.src
        client.dst = q.dst
        frame.length = client.l3End
        guard ICMPMessages.fragmentationNeeded(&frame, client, mtu: reported &- overhead) else {
            return drop(.icmpUnusable)
        }
        hot[Counter.fragmentationNeeded] &+= 1
        hot[Counter.replies] &+= 1
        // The client may be on another interface than the router: route it as a forward.
        return .forward(side: .client, nextHop: q.src)
    }
}
