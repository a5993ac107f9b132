import LVSPacket

// Double-NAT on the packet path (double-nat.md): both ends of every packet are translated.
// Request cip:cport -> vip:vport becomes vip:vdport -> rip:rport; the reply rip:rport -> vip:vdport
// becomes vip:vport -> cip:cport. Classification and the one probe per packet are Director.process's
// (a reply matches the OUT key (rip, rport, vip, vdport)); this file holds the rewrites.
extension Director {
    /// Rewrites source and destination (addresses and ports) with one incremental checksum update
    /// per header: the IPv4 header sum, and the L4 sum for both pseudo-header addresses and ports.
    @inlinable @inline(__always)
    func rewriteBoth(_ frame: inout Frame, _ p: PacketInfo, source: IPAddress, sport: UInt16,
                     destination: IPAddress, dport: UInt16) {
        let l3 = frame.base + p.l3Offset
        let addrDelta: UInt64
        if p.isIPv4 {
            let v = IPv4View(unchecked: l3)
            addrDelta = v.rewriteSource(source) &+ v.rewriteDestination(destination)
        } else {
            addrDelta = Checksum.deltaAddress(old: p.src, new: source) &+ Checksum.deltaAddress(old: p.dst, new: destination)
            l3.setAddress16(source, 8)
            l3.setAddress16(destination, 24)
        }
        Director.rewritePort(frame, p, at: 0, port: sport, addressDelta: addrDelta)
        Director.rewritePort(frame, p, at: 2, port: dport, addressDelta: 0)
    }

    /// An ICMP error about a Double-NAT or FULLNAT connection (spec section 4 applied to both
    /// ends; `local` below is the VIP for Double-NAT, the LIP for FULLNAT).
    /// `fromServer` false: the client's error about a reply (quoted vip:vport -> cip:cport) goes to
    /// the server as if about its own packet (quoted rip:rport -> local:lport), outer local -> rip.
    /// `fromServer` true: the server's (or a router's) error about a request (quoted local:lport ->
    /// rip:rport) goes to the client as about its own packet (quoted cip:cport -> vip:vport),
    /// outer src -> vip, dst -> cip. IP header checksums are patched, the ICMP checksum recomputed.
    @inlinable
    func translateDoubleNATError(_ frame: inout Frame, _ p: PacketInfo, _ q: QuotedPacket, _ ci: UInt32,
                                 fromServer: Bool) {
        let c = table.entries + Int(ci)
        let (local, localPort) = table.outPeer(c)
        let outerSrc = fromServer ? c.pointee.virtual : local
        let outerDst = fromServer ? c.pointee.client : c.pointee.dest
        let qSrc = fromServer ? c.pointee.client : c.pointee.dest
        let qSport = fromServer ? c.pointee.clientPort : c.pointee.destPort
        let qDst = fromServer ? c.pointee.virtual : local
        let qDport = fromServer ? c.pointee.virtualPort : localPort
        let base = frame.base
        let outer = base + p.l3Offset
        let quoted = base + q.l3Offset
        if p.isIPv4 {
            let o = IPv4View(unchecked: outer)
            o.rewriteSource(outerSrc)
            o.rewriteDestination(outerDst)
            let qv = IPv4View(unchecked: quoted)
            qv.rewriteSource(qSrc)
            qv.rewriteDestination(qDst)
        } else {
            outer.setAddress16(outerSrc, 8)
            outer.setAddress16(outerDst, 24)
            quoted.setAddress16(qSrc, 8)
            quoted.setAddress16(qDst, 24)
        }
        base.setBE16(qSport, q.l4Offset)
        base.setBE16(qDport, q.l4Offset &+ 2)
        let icmp = ICMPView(unchecked: base + p.l4Offset)
        icmp.checksum = 0
        let initial = p.isIPv4
            ? 0 : Checksum.pseudoHeader(src: outerSrc, dst: outerDst, protocol: IPProto.icmpv6, length: p.l4Length)
        icmp.checksum = Checksum.compute(UnsafeRawPointer(icmp.base), count: p.l4Length, initial: initial)
    }
}
