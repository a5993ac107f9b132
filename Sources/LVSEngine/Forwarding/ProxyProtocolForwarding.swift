import LVSPacket

// PROXY protocol v2 for FULLNAT services (`ServiceSpec.clientAddress == .proxyV2`): the server,
// which sees LIP:lport as its peer, learns the client's address from a header the director puts
// in front of the client's first payload byte. Every later client sequence number moves up by the
// header length, every server acknowledgement (and SACK edge) down, for the life of the connection.
extension Director {
    /// Client-to-server TCP segment of a connection with a pending or inserted header (after the
    /// address rewrite). Returns false when the frame has no room for the header (a counted drop:
    /// the client retransmits, and the segment is tried again).
    @inlinable
    func proxyInbound(_ frame: inout Frame, _ p: PacketInfo, _ c: UnsafeMutablePointer<Connection>) -> Bool {
        let l4 = frame.base + p.l4Offset
        let headerLength = Int(l4.u8(12) >> 4) &* 4
        let payload = p.l4Length &- headerLength
        let seq = l4.be32(4)
        if c.pointee.flags & Connection.flagProxyPending != 0 {
            guard payload > 0 else { return true }
            guard insertProxyHeader(&frame, p, c, headerLength: headerLength) else { return false }
            c.pointee.proxySeq = seq
            c.pointee.seqDelta = UInt16(ProxyProtocolV2.length(ipv4: p.isIPv4))
            c.pointee.flags = (c.pointee.flags & ~Connection.flagProxyPending) | Connection.flagSeqAdjust
            return true
        }
        if seq == c.pointee.proxySeq && payload > 0 {
            // The first data segment again (a retransmission): the same header goes in again.
            return insertProxyHeader(&frame, p, c, headerLength: headerLength)
        }
        if Int32(bitPattern: seq &- c.pointee.proxySeq) >= 0 {
            Director.setSeq32(frame, p, at: 4, seq &+ UInt32(c.pointee.seqDelta))
        }
        return true
    }

    /// Server-to-client TCP segment of a connection with an inserted header: the acknowledgement
    /// and SACK edges go back into the client's sequence space.
    @inlinable
    func proxyOutbound(_ frame: inout Frame, _ p: PacketInfo, _ c: UnsafeMutablePointer<Connection>) {
        let l4 = frame.base + p.l4Offset
        let base = c.pointee.proxySeq
        let delta = UInt32(c.pointee.seqDelta)
        if p.tcpFlags & TCPFlag.ack != 0 {
            Director.setSeq32(frame, p, at: 8, Director.unshift(l4.be32(8), base: base, delta: delta))
        }
        // SACK blocks (option kind 5) carry the same kind of sequence numbers.
        let end = min(Int(l4.u8(12) >> 4) &* 4, p.l4Length)
        for o in TCPOptions(base: l4 + HeaderSize.tcp, length: end &- HeaderSize.tcp) where o.kind == TCPOptions.sack {
            let start = HeaderSize.tcp &+ o.offset
            var e = start &+ 2
            while e &+ 4 <= start &+ o.length {
                Director.setSeq32(frame, p, at: e, Director.unshift(l4.be32(e), base: base, delta: delta))
                e &+= 4
            }
        }
    }

    /// A server sequence number (ack or SACK edge) mapped back: past the header, minus its length;
    /// inside it, the header's start.
    @inlinable @inline(__always)
    static func unshift(_ v: UInt32, base: UInt32, delta: UInt32) -> UInt32 {
        let off = Int32(bitPattern: v &- base)
        if off >= Int32(delta) { return v &- delta }
        return off > 0 ? base : v
    }

    /// Writes a 32-bit field of the TCP header with an incremental checksum update (a partial
    /// checksum covers only the pseudo-header, which does not change).
    @inlinable @inline(__always)
    static func setSeq32(_ frame: Frame, _ p: PacketInfo, at offset: Int, _ value: UInt32) {
        let l4 = frame.base + p.l4Offset
        let old = l4.raw32(offset)
        let new = value.bigEndian
        if old == new { return }
        l4.setRaw32(new, offset)
        if !frame.checksumPartial {
            l4.setRaw16(Checksum.update(l4.raw16(TCPView.checksumOffset), delta: Checksum.delta32(old: old, new: new)),
                        TCPView.checksumOffset)
        }
    }

    /// Moves the payload (and any Ethernet padding) up and writes the PROXY v2 header in front of
    /// it; fixes the IP length and checksums (`grewTCP`). False when the frame has no room.
    @inlinable
    func insertProxyHeader(_ frame: inout Frame, _ p: PacketInfo, _ c: UnsafeMutablePointer<Connection>,
                           headerLength: Int) -> Bool {
        let v4 = p.isIPv4
        let n = ProxyProtocolV2.length(ipv4: v4)
        guard frame.length &+ n <= frame.capacity, p.ipLength &+ n <= 65535 else { return false }
        let at = p.l4Offset &+ headerLength
        (frame.base + at + n).copyMemory(from: frame.base + at, byteCount: frame.length &- at)
        ProxyProtocolV2.write(frame.base + at, source: c.pointee.client, sport: c.pointee.clientPort,
                              destination: c.pointee.virtual, dport: c.pointee.virtualPort)
        frame.length &+= n
        Director.grewTCP(frame, p, by: n)
        return true
    }
}
