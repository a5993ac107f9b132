import LVSPacket

// ICMP on the packet path (spec section 4; ip_vs_in_icmp, ip_vs_out_icmp, ip_vs_nat_icmp):
// errors related to a connection are translated like the connection's packets; echo requests to
// a VIP are answered (the VIP belongs to the data plane, not to a kernel interface).
extension Director {
    @inlinable
    func icmp(_ frame: inout Frame, _ p: PacketInfo, _ now: Timestamp) -> Verdict {
        let v4 = p.isIPv4
        let type = p.icmpType
        let isError = v4
            ? (type == ICMPv4Type.destinationUnreachable || type == ICMPv4Type.sourceQuench
                || type == ICMPv4Type.timeExceeded)
            : type < 128
        // Neighbour discovery (router/neighbour solicitations and advertisements, redirects) is the
        // data plane's business, like ARP: it answers for VIPs and learns neighbours from it.
        if !v4 && type >= ICMPv6Type.routerSolicitation && type <= ICMPv6Type.redirect { return notOurs() }
        let toVIP = index.isVIP(p.dst)
        guard isError else {
            guard toVIP else { return notOurs() }
            if ICMPMessages.echoReply(frame.base, p) {
                hot[Counter.replies] &+= 1
                return .reply
            }
            return drop(.noService)
        }
        // VS/TUN: an error about our own tunnel packet (addressed to the tunnel source).
        if !toVIP, let v = tunnelError(&frame, p) { return v }
        guard let q = PacketParser.parseQuoted(frame.base, offset: p.l4Offset &+ HeaderSize.icmp, end: p.l3End, ipv4: v4),
            q.proto == IPProto.tcp || q.proto == IPProto.udp
        else { return toVIP ? drop(.icmpUnusable) : notOurs() }

        if toVIP {
            // From the client side, about a reply we sent (VIP:vport -> client:cport).
            let ci = table.lookupIn(q.proto, client: q.dst, cport: q.dstPort, virtual: q.src, vport: q.srcPort)
            guard ci != nilIndex else { return doubleNATServerError(&frame, p, q) }
            guard icmpChecksumVerifies(frame, p) else { return drop(.badICMPChecksum) }
            let c = table.entries + Int(ci)
            if c.pointee.method == ForwardingMethod.masquerade.rawValue {
                translateError(&frame, p, q, outerIsSource: false, address: c.pointee.dest, port: c.pointee.destPort)
            } else if c.pointee.method == ForwardingMethod.tunnel.rawValue,
                let refused = encapsulate(&frame, p, dest: c.pointee.dest, slot: c.pointee.destSlot, answerTooBig: false)
            {
                // VS/TUN: the error travels encapsulated, unchanged, like the connection's packets.
                return refused
            } else if c.pointee.flags & Connection.flagLocalOut != 0 {
                translateDoubleNATError(&frame, p, q, ci, fromServer: false)
            }
            let bytes = p.ipLength
            dests[Int(c.pointee.destSlot)].stats.countIn(bytes: bytes)
            serviceStats[Int(c.pointee.service)].countIn(bytes: bytes)
            hot[Counter.toRealServer] &+= 1
            return .forward(side: .realServer, nextHop: c.pointee.dest)
        }
        // From the server side (NAT only), about a client packet we forwarded (client -> RIP:rport).
        let ci = table.lookupOut(q.proto, dest: q.dst, dport: q.dstPort, client: q.src, cport: q.srcPort)
        guard ci != nilIndex else { return notOurs() }
        let c = table.entries + Int(ci)
        if c.pointee.flags & Connection.flagLocalOut != 0 {
            // FULLNAT: the server side addresses errors to the LIP.
            guard icmpChecksumVerifies(frame, p) else { return drop(.badICMPChecksum) }
            translateDoubleNATError(&frame, p, q, ci, fromServer: true)
        } else {
            guard c.pointee.method == ForwardingMethod.masquerade.rawValue else { return notOurs() }
            guard icmpChecksumVerifies(frame, p) else { return drop(.badICMPChecksum) }
            translateError(&frame, p, q, outerIsSource: true, address: c.pointee.virtual, port: c.pointee.virtualPort)
        }
        let bytes = p.ipLength
        dests[Int(c.pointee.destSlot)].stats.countOut(bytes: bytes)
        serviceStats[Int(c.pointee.service)].countOut(bytes: bytes)
        hot[Counter.toClient] &+= 1
        return .forward(side: .client, nextHop: c.pointee.client)
    }

    /// An error addressed to the VIP that matches no IN key: from the server side of a Double-NAT
    /// connection (the server sent to VIP:vdport, so its errors come to the VIP), else a drop.
    @inlinable
    func doubleNATServerError(_ frame: inout Frame, _ p: PacketInfo, _ q: QuotedPacket) -> Verdict {
        let ci = table.lookupOut(q.proto, dest: q.dst, dport: q.dstPort, client: q.src, cport: q.srcPort)
        guard ci != nilIndex, table.entries[Int(ci)].flags & Connection.flagLocalOut != 0 else {
            return drop(.noConnection)
        }
        guard icmpChecksumVerifies(frame, p) else { return drop(.badICMPChecksum) }
        translateDoubleNATError(&frame, p, q, ci, fromServer: true)
        let c = table.entries + Int(ci)
        let bytes = p.ipLength
        dests[Int(c.pointee.destSlot)].stats.countOut(bytes: bytes)
        serviceStats[Int(c.pointee.service)].countOut(bytes: bytes)
        hot[Counter.toClient] &+= 1
        return .forward(side: .client, nextHop: c.pointee.client)
    }

    @inlinable
    func icmpChecksumVerifies(_ frame: Frame, _ p: PacketInfo) -> Bool {
        let initial = p.isIPv4 ? 0 : Checksum.pseudoHeader(src: p.src, dst: p.dst, protocol: IPProto.icmpv6, length: p.l4Length)
        return Checksum.verifies(UnsafeRawPointer(frame.base + p.l4Offset), count: p.l4Length, initial: initial)
    }

    /// ip_vs_nat_icmp. Inbound (`outerIsSource` false): outer dst VIP -> RIP, quoted src -> RIP and
    /// quoted sport -> rport. Outbound (true): outer src -> VIP, quoted dst -> VIP, quoted dport ->
    /// vport. IP header checksums are patched and the ICMP checksum recomputed in full; the quoted
    /// transport checksum is left alone, as IPVS leaves it (receivers do not verify it).
    @inlinable
    func translateError(_ frame: inout Frame, _ p: PacketInfo, _ q: QuotedPacket, outerIsSource: Bool,
                        address: IPAddress, port: UInt16) {
        let base = frame.base
        let outer = base + p.l3Offset
        let quoted = base + q.l3Offset
        var src = p.src
        var dst = p.dst
        if p.isIPv4 {
            let o = IPv4View(unchecked: outer)
            let qv = IPv4View(unchecked: quoted)
            if outerIsSource {
                o.rewriteSource(address)
                qv.rewriteDestination(address)
            } else {
                o.rewriteDestination(address)
                qv.rewriteSource(address)
            }
        } else {
            if outerIsSource {
                outer.setAddress16(address, 8)
                quoted.setAddress16(address, 24)
                src = address
            } else {
                outer.setAddress16(address, 24)
                quoted.setAddress16(address, 8)
                dst = address
            }
        }
        base.setBE16(port, q.l4Offset &+ (outerIsSource ? 2 : 0))
        let icmp = ICMPView(unchecked: base + p.l4Offset)
        icmp.checksum = 0
        let initial = p.isIPv4 ? 0 : Checksum.pseudoHeader(src: src, dst: dst, protocol: IPProto.icmpv6, length: p.l4Length)
        icmp.checksum = Checksum.compute(UnsafeRawPointer(icmp.base), count: p.l4Length, initial: initial)
    }
}
