#if canImport(Glibc)
import Glibc
#endif
import CLinuxNet
import LVSPacket
import Synchronization

/// One interface's AF_PACKET socket: a TPACKET_V2 receive ring read in place, and sendmmsg for
/// transmit (measured faster than a TX ring on veth: packet-io-notes.md).
///
/// With PACKET_VNET_HDR every frame is preceded by a 10-byte virtio_net_hdr: received GSO/GRO
/// super-frames (up to 64 KiB) arrive whole with their segmentation and partial-checksum
/// metadata, and frames sent with that header are segmented and checksummed by the kernel.
final class PacketRing {
    var ring = clinuxnet_ring()
    let name: String
    /// The next ring slot to look at.
    var cursor = 0
    /// Slots handed out by `next()` and not yet released.
    var held: [Int] = []

    static let vnetHeaderSize = 10
    /// Frame slots: room for a 64 KiB super-frame plus the TPACKET2 and virtio headers (17 pages).
    static let frameSize: UInt32 = 69_632
    static let frameCount: UInt32 = 128

    init(interface name: String) throws(DataPlaneError) {
        self.name = name
        var step: UnsafePointer<CChar>? = nil
        // Frames go through the interface's (noqueue) qdisc path by default: measured in the lab
        // (2 repetitions, both orders) it beat PACKET_QDISC_BYPASS on keep-alive req/s (+20%),
        // new connections/s (+16%) and iperf3 (+28%). LVSD_QDISC_BYPASS=1 turns bypass on.
        let bypass: Int32 = getenv("LVSD_QDISC_BYPASS").map { String(cString: $0) == "1" ? 1 : 0 } ?? 0
        let r = clinuxnet_ring_open(name, Self.frameSize, Self.frameCount, 1, bypass, &ring, &step)
        if r < 0 { throw .ring(name, step: step.map { String(cString: $0) } ?? "?", errno: -r) }
        held.reserveCapacity(Int(Self.frameCount))
    }

    deinit { clinuxnet_ring_close(&ring) }

    var fd: Int32 { ring.fd }

    /// A received frame in the ring: where its virtio header and Ethernet frame are.
    struct Slot {
        var header: UnsafeMutablePointer<tpacket2_hdr>
        /// The virtio_net_hdr (10 bytes) right before the frame.
        var vnet: UnsafeMutableRawPointer
        var frame: UnsafeMutableRawPointer
        var length: Int
        /// Bytes available at `frame` within the slot (for answers written in place).
        var capacity: Int
        /// The frame was cut short by the slot size (snaplen < len): it must be dropped.
        var truncated: Bool
    }

    /// The next frame the kernel has filled, or nil when the ring is drained.
    func next() -> Slot? {
        let base = ring.map + cursor * Int(ring.frame_size)
        let hdr = UnsafeMutableRawPointer(base).assumingMemoryBound(to: tpacket2_hdr.self)
        // The status word is written by the kernel: read it with acquire semantics.
        let status = UnsafeMutableRawPointer(base).assumingMemoryBound(to: UInt32.self)
        guard loadAcquire(status) & UInt32(TP_STATUS_USER) != 0 else { return nil }
        let slot = cursor
        cursor = cursor + 1 == Int(ring.frame_nr) ? 0 : cursor + 1
        held.append(slot)
        let mac = Int(hdr.pointee.tp_mac)
        let frame = UnsafeMutableRawPointer(base) + mac
        return Slot(header: hdr, vnet: frame - Self.vnetHeaderSize, frame: frame, length: Int(hdr.pointee.tp_snaplen),
                    capacity: Int(ring.frame_size) - mac,
                    truncated: hdr.pointee.tp_snaplen < hdr.pointee.tp_len)
    }

    /// Gives every held slot back to the kernel.
    func releaseAll() {
        for s in held {
            let status = UnsafeMutableRawPointer(ring.map + s * Int(ring.frame_size)).assumingMemoryBound(to: UInt32.self)
            storeRelease(status, UInt32(TP_STATUS_KERNEL))
        }
        held.removeAll(keepingCapacity: true)
    }

    /// Sends frames (each starting with its virtio header); returns how many went out.
    func send(_ frames: UnsafePointer<clinuxnet_tx>, count: Int) -> Int {
        guard count > 0 else { return 0 }
        let r = clinuxnet_send_batch(ring.fd, frames, UInt32(count))
        return r < 0 ? 0 : Int(r)
    }
}

@inline(__always) func loadAcquire(_ p: UnsafeMutablePointer<UInt32>) -> UInt32 {
    // x86-64 and arm64 loads of an aligned word are atomic; the compiler barrier keeps the frame
    // reads after the status read (the kernel publishes the frame before the status).
    let v = UnsafeMutableRawPointer(p).load(as: UInt32.self)
    atomicMemoryFence(ordering: .acquiring)
    return v
}

@inline(__always) func storeRelease(_ p: UnsafeMutablePointer<UInt32>, _ v: UInt32) {
    atomicMemoryFence(ordering: .releasing)
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: UInt32.self)
}
