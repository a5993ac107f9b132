import LVSPacket

// TOA for FULLNAT services (`ServiceSpec.clientAddress == .toa`, ipvs-reference.md 3.5): the
// client's address rides in TCP option 254 on the first ACK (or data) segment after the handshake;
// the server's SYN-ACK advertises an MSS 8 (IPv6: 20) bytes smaller, so full-size segments still
// fit the path MTU with the option added.
extension Director {
    /// Client-to-server segment of a connection still waiting for its TOA (after the address
    /// rewrite): adds the option to the first ACK that is not a SYN or RST when the TCP header has
    /// room (at most 60 bytes) and the frame has capacity; otherwise the segment goes unchanged
    /// and the next one is tried.
    @inlinable
    func toaInbound(_ frame: inout Frame, _ p: PacketInfo, _ c: UnsafeMutablePointer<Connection>) {
        guard p.tcpFlags & (TCPFlag.syn | TCPFlag.rst) == 0, p.tcpFlags & TCPFlag.ack != 0 else { return }
        let v4 = p.isIPv4
        let n = TOAOption.length(ipv4: v4)
        let l4 = frame.base + p.l4Offset
        let headerLength = Int(l4.u8(12) >> 4) &* 4
        guard headerLength &+ n <= 60, frame.length &+ n <= frame.capacity, headerLength <= p.l4Length else { return }
        let at = p.l4Offset &+ headerLength
        (frame.base + at + n).copyMemory(from: frame.base + at, byteCount: frame.length &- at)
        TOAOption.write(frame.base + at, address: c.pointee.client, port: c.pointee.clientPort)
        l4.setU8(UInt8((headerLength &+ n) / 4) << 4 | (l4.u8(12) & 0x0f), 12)
        frame.length &+= n
        Director.grewTCP(frame, p, by: n)
        c.pointee.flags &= ~Connection.flagProxyPending
    }

    /// The server's SYN-ACK of a TOA connection: the MSS option shrinks by the TOA length.
    @inlinable
    func toaClampMSS(_ frame: Frame, _ p: PacketInfo) {
        guard p.tcpFlags & TCPFlag.syn != 0 else { return }
        let l4 = frame.base + p.l4Offset
        let end = min(Int(l4.u8(12) >> 4) &* 4, p.l4Length)
        for opt in TCPOptions(base: l4 + HeaderSize.tcp, length: end &- HeaderSize.tcp)
        where opt.kind == TCPOptions.maximumSegmentSize && opt.length == 4 {
            let o = HeaderSize.tcp &+ opt.offset
            let mss = l4.be16(o &+ 2)
            let n = UInt16(TOAOption.length(ipv4: p.isIPv4))
            if mss > n &+ 536 {
                let old = l4.raw16(o &+ 2)
                l4.setBE16(mss &- n, o &+ 2)
                if !frame.checksumPartial {
                    l4.setRaw16(Checksum.update(l4.raw16(TCPView.checksumOffset),
                                                delta: Checksum.delta16(old: old, new: l4.raw16(o &+ 2))),
                                TCPView.checksumOffset)
                }
            }
            return
        }
    }

    /// After `n` bytes were inserted into a TCP segment (header or payload): IP length (and the
    /// IPv4 header checksum) and the TCP checksum (full, or the pseudo-header sum when partial).
    @inlinable
    static func grewTCP(_ frame: Frame, _ p: PacketInfo, by n: Int) {
        let l3 = frame.base + p.l3Offset
        let src: IPAddress
        let dst: IPAddress
        if p.isIPv4 {
            let ip = IPv4View(unchecked: l3)
            ip.totalLength = UInt16(truncatingIfNeeded: p.ipLength &+ n)
            ip.updateChecksum()
            src = ip.source
            dst = ip.destination
        } else {
            let ip = IPv6View(unchecked: l3)
            ip.payloadLength = UInt16(truncatingIfNeeded: Int(ip.payloadLength) &+ n)
            src = ip.source
            dst = ip.destination
        }
        let l4 = frame.base + p.l4Offset
        let length = p.l4Length &+ n
        let pseudo = Checksum.pseudoHeader(src: src, dst: dst, protocol: IPProto.tcp, length: length)
        l4.setRaw16(0, TCPView.checksumOffset)
        let check = frame.checksumPartial
            ? Checksum.fold(pseudo) : Checksum.compute(UnsafeRawPointer(l4), count: length, initial: pseudo)
        l4.setRaw16(check, TCPView.checksumOffset)
    }
}
