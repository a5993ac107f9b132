import LVSPacket

// VS/NAT (masquerade) and VS/DR on the packet path: ip_vs_nat_xmit / ip_vs_dr_xmit and the
// reply half of ip_vs_out, with incremental checksum updates (RFC 1624).
extension Director {
    /// Client-to-server packet for service `svc`: find or create the connection, step its state,
    /// rewrite, count.
    @inlinable @inline(__always)
    func inbound(_ frame: inout Frame, _ p: PacketInfo, _ svc: Int, _ now: Timestamp) -> Verdict {
        let proto = p.l4Protocol
        let isTCP = proto == IPProto.tcp
        let syn = isTCP && p.tcpFlags & (TCPFlag.syn | TCPFlag.rst) == TCPFlag.syn
        var failure = DropReason.noDestination
        var ci = table.lookupIn(proto, client: p.src, cport: p.srcPort, virtual: p.dst, vport: p.dstPort)
        let onePacket = !isTCP && serviceFlags[svc] & ServiceFlag.onePacket != 0
        if ci != nilIndex {
            let c = table.entries + Int(ci)
            let available = dests[Int(c.pointee.destSlot)].isAvailable
            if onePacket {
                // Every datagram is scheduled afresh; the entry only carries the latest choice so
                // that a NAT reply can be translated back.
                if !reuse(ci, p, svc, now, failure: &failure) { return refuse(&frame, p, failure) }
            } else if !available || (syn && Director.isFinished(c.pointee.state)) {
                if syn {
                    if !reuse(ci, p, svc, now, failure: &failure) { return refuse(&frame, p, failure) }
                } else if !available {
                    if configuration.expireNodestConn { expireNow(ci, now: now) }
                    return drop(.destinationRemoved)
                }
            }
        } else {
            if isTCP && !syn { return drop(.noConnection) }
            ci = create(p, svc, now, failure: &failure)
            if ci == nilIndex { return refuse(&frame, p, failure) }
        }
        let c = table.entries + Int(ci)
        if isTCP {
            let direction: PacketDirection = c.pointee.flags & Connection.flagNoOutput != 0 ? .inputOnly : .input
            step(ci, flags: p.tcpFlags, direction: direction, now)
        } else {
            refresh(ci, expires: now.milliseconds &+ udpTimeout(svc))
        }
        let method = c.pointee.method
        if method == ForwardingMethod.masquerade.rawValue {
            rewriteDestination(&frame, p, address: c.pointee.dest, port: c.pointee.destPort)
        } else if method == ForwardingMethod.tunnel.rawValue,
            let refused = encapsulate(&frame, p, dest: c.pointee.dest, slot: c.pointee.destSlot, answerTooBig: true)
        {
            return refused
        } else if c.pointee.flags & Connection.flagLocalOut != 0 {
            // Double-NAT (VIP:vdport) or FULLNAT (LIP:lport): the OUT key's end is the new source.
            let (source, sport) = table.outPeer(c)
            rewriteBoth(&frame, p, source: source, sport: sport, destination: c.pointee.dest, dport: c.pointee.destPort)
            if c.pointee.flags & (Connection.flagProxyPending | Connection.flagSeqAdjust) != 0 && isTCP {
                if virtualPorts[svc].toa {
                    if c.pointee.flags & Connection.flagProxyPending != 0 { toaInbound(&frame, p, c) }
                } else if !proxyInbound(&frame, p, c) {
                    return drop(.noRoomForHeader)
                }
            }
        }
        let bytes = p.ipLength
        dests[Int(c.pointee.destSlot)].stats.countIn(bytes: bytes)
        serviceStats[svc].countIn(bytes: bytes)
        hot[Counter.toRealServer] &+= 1
        let nextHop = c.pointee.dest
        // A one-packet connection without a reply path (DR, TUN) is not kept (IPVS never hashes it).
        if onePacket && c.pointee.flags & Connection.flagNoOutput != 0 { expireNow(ci, now: now) }
        return .forward(side: .realServer, nextHop: nextHop)
    }

    /// Server-to-client packet matching a connection's OUT key: step, rewrite the source back to
    /// VIP:vport, count.
    @inlinable @inline(__always)
    func outbound(_ frame: inout Frame, _ p: PacketInfo, _ ci: UInt32, _ now: Timestamp) -> Verdict {
        let c = table.entries + Int(ci)
        let method = c.pointee.method
        guard method == ForwardingMethod.masquerade.rawValue || c.pointee.flags & Connection.flagLocalOut != 0 else {
            return notOurs()
        }
        c.pointee.flags &= ~Connection.flagNoOutput
        if p.l4Protocol == IPProto.tcp {
            step(ci, flags: p.tcpFlags, direction: .output, now)
        } else {
            refresh(ci, expires: now.milliseconds &+ udpTimeout(Int(c.pointee.service)))
        }
        if method == ForwardingMethod.masquerade.rawValue {
            rewriteSource(&frame, p, address: c.pointee.virtual, port: c.pointee.virtualPort)
        } else {
            rewriteBoth(&frame, p, source: c.pointee.virtual, sport: c.pointee.virtualPort,
                        destination: c.pointee.client, dport: c.pointee.clientPort)
            if c.pointee.flags & Connection.flagSeqAdjust != 0 { proxyOutbound(&frame, p, c) }
            if c.pointee.flags & Connection.flagProxyPending != 0 && p.l4Protocol == IPProto.tcp
                && virtualPorts[Int(c.pointee.service)].toa
            {
                toaClampMSS(frame, p)
            }
        }
        let bytes = p.ipLength
        dests[Int(c.pointee.destSlot)].stats.countOut(bytes: bytes)
        serviceStats[Int(c.pointee.service)].countOut(bytes: bytes)
        hot[Counter.toClient] &+= 1
        return .forward(side: .client, nextHop: c.pointee.client)
    }

    /// A new flow that cannot be served: ICMP port-unreachable back to the client when configured
    /// and the frame has room, else a counted drop.
    @inlinable
    func refuse(_ frame: inout Frame, _ p: PacketInfo, _ reason: DropReason) -> Verdict {
        hot[Int(reason.rawValue)] &+= 1
        if reason == .noDestination && configuration.icmpOnNoDestination
            && ICMPMessages.portUnreachable(&frame, p)
        {
            hot[Counter.replies] &+= 1
            return .reply
        }
        return .drop(reason)
    }

    // MARK: Rewrites

    /// dst -> address:port (NAT inbound).
    @inlinable @inline(__always)
    func rewriteDestination(_ frame: inout Frame, _ p: PacketInfo, address: IPAddress, port: UInt16) {
        let l3 = frame.base + p.l3Offset
        let addrDelta: UInt64
        if p.isIPv4 {
            addrDelta = IPv4View(unchecked: l3).rewriteDestination(address)
        } else {
            addrDelta = Checksum.deltaAddress(old: p.dst, new: address)
            l3.setAddress16(address, 24)
        }
        Director.rewritePort(frame, p, at: 2, port: port, addressDelta: addrDelta)
    }

    /// src -> address:port (NAT outbound).
    @inlinable @inline(__always)
    func rewriteSource(_ frame: inout Frame, _ p: PacketInfo, address: IPAddress, port: UInt16) {
        let l3 = frame.base + p.l3Offset
        let addrDelta: UInt64
        if p.isIPv4 {
            addrDelta = IPv4View(unchecked: l3).rewriteSource(address)
        } else {
            addrDelta = Checksum.deltaAddress(old: p.src, new: address)
            l3.setAddress16(address, 8)
        }
        Director.rewritePort(frame, p, at: 0, port: port, addressDelta: addrDelta)
    }

    /// Writes a port at `offset` in the L4 header and fixes the L4 checksum for it and for an
    /// address change already made in the pseudo-header. A partial checksum (offload) covers only
    /// the pseudo-header, so only the address part applies; an IPv4 UDP checksum of 0 stays 0.
    @inlinable @inline(__always)
    static func rewritePort(_ frame: Frame, _ p: PacketInfo, at offset: Int, port: UInt16, addressDelta: UInt64) {
        let l4 = frame.base + p.l4Offset
        let isUDP = p.l4Protocol == IPProto.udp
        let csOffset = isUDP ? UDPView.checksumOffset : TCPView.checksumOffset
        let newRaw = port.bigEndian
        let oldRaw = l4.raw16(offset)
        l4.setRaw16(newRaw, offset)
        var check = l4.raw16(csOffset)
        if frame.checksumPartial {
            check = Checksum.updatePartial(check, delta: addressDelta)
        } else {
            if isUDP && check == 0 && p.isIPv4 { return }
            check = Checksum.update(check, delta: addressDelta &+ Checksum.delta16(old: oldRaw, new: newRaw))
            if isUDP && check == 0 { check = 0xffff }
        }
        l4.setRaw16(check, csOffset)
    }
}
