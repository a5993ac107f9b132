import LVSEngine
import LVSPacket

// VS/TUN in the data plane: the engine encapsulates in place; what the engine cannot do without
// I/O happens here. The tunnel path (outer source addresses, MTU) comes from the interfaces, and
// an encapsulated GSO super-frame is cut into segments in software, because a virtio_net_hdr
// cannot describe an IPIP/GUE packet for the kernel to segment.
extension DataPlane {
    /// virtio_net_hdr gso_type values (linux/virtio_net.h).
    static let gsoNone: UInt8 = 0
    static let gsoTCPv4: UInt8 = 1
    static let gsoTCPv6: UInt8 = 4
    static let gsoECN: UInt8 = 0x80

    /// gso_size of a received frame (0 when it is not a super-frame). virtio_net_hdr fields are
    /// little-endian on this socket (VIRTIO_F_VERSION_1 layout).
    static func gsoSize(_ vnet: UnsafeMutableRawPointer) -> UInt16 {
        vnet.u8(1) == gsoNone ? 0 : UInt16(littleEndian: vnet.raw16(4))
    }

    /// The engine's VS/TUN path from the interfaces: the first (non link-local) address of each
    /// family as the outer source, the smallest interface MTU as the path MTU.
    static func tunnelPath(_ interfaces: [NetInterface]) -> TunnelPath {
        var path = TunnelPath(mtu: interfaces.map(\.mtu).min() ?? 1500)
        path.source4 = interfaces.lazy.flatMap(\.ipv4).first?.address ?? .zero
        path.source6 = interfaces.lazy.flatMap(\.ipv6).first { !($0.address.bytes[0] == 0xfe && $0.address.bytes[1] & 0xc0 == 0x80) }?
            .address ?? .zero
        return path
    }

    /// Forwards a frame the engine encapsulated: an ordinary frame goes out with its checksums
    /// final (the engine completed a partial one), so its virtio header is cleared; a TCP
    /// super-frame is segmented into `segmentBuffer` and each segment queued.
    func forwardEncapsulated(_ slot: PacketRing.Slot, frame: Frame, nextHop: IPAddress, now: UInt64) {
        let gsoType = slot.vnet.u8(1) & ~DataPlane.gsoECN
        if gsoType == DataPlane.gsoNone {
            clearVNet(slot.vnet)
            forward(slot, length: frame.length, nextHop: nextHop, now: now)
            return
        }
        let l3 = frame.base.be16(12) == EtherType.vlan ? HeaderSize.ethernet + HeaderSize.vlanTag : HeaderSize.ethernet
        guard gsoType == DataPlane.gsoTCPv4 || gsoType == DataPlane.gsoTCPv6,
            let seg = TunnelSegmenter(frame, l3Offset: l3, gsoSize: Int(frame.gsoSize)),
            seg.maxSegmentLength + PacketRing.vnetHeaderSize <= DataPlane.segmentSlotSize
        else {
            stats.tunnelSegmentDrops += 1
            return
        }
        guard let hop = routes.route(nextHop) else {
            stats.noRoute += 1
            return
        }
        guard let mac = neighbors.lookup(hop.nextHop, now: now) else {
            // Rare (the first packets of a connection are small): ask, and let TCP retransmit.
            stats.neighborMisses += 1
            stats.neighborDrops += 1
            requestNeighbor(hop, now: now)
            return
        }
        let out = hop.interface
        for k in 0..<seg.count {
            // Flush first when full, so `queue` never flushes (and recycles buffers) mid-segment.
            if segmentsUsed == DataPlane.segmentSlots || txCount[out] == DataPlane.batch * 2 { flushTX() }
            let buffer = segmentBuffer + segmentsUsed * DataPlane.segmentSlotSize
            segmentsUsed += 1
            clearVNet(buffer)
            let f = buffer + PacketRing.vnetHeaderSize
            let length = seg.write(frame, segment: k, to: f)
            mac.store(to: f, 0)
            interfaces[out].mac.store(to: f, 6)
            queue(out, buffer, length + PacketRing.vnetHeaderSize)
            stats.forwarded += 1
        }
        stats.tunnelSegmented += 1
    }
}
