import LVSPacket

/// One VIP's Double-NAT port state (double-nat.md section 4.2), shared by every service on that
/// VIP: a holder count per port (the paper's vdport[i]) and a bitmap of the VIP's own service
/// ports, which are never handed out.
///
/// Owned by the control plane (created when the VIP gets its first Double-NAT real server, freed
/// with the VIP's last service); the packet path sees only the raw pointers copied into each
/// service's `VirtualPortRange`.
final class VirtualPortCounts {
    /// 65,536 holder counts, one per port.
    let counts: UnsafeMutablePointer<UInt16>
    /// 65,536 bits: set = a service port of this VIP (excluded from the pool).
    let excluded: UnsafeMutablePointer<UInt64>

    init() {
        counts = .allocate(capacity: 65536)
        counts.initialize(repeating: 0, count: 65536)
        excluded = .allocate(capacity: 1024)
        excluded.initialize(repeating: 0, count: 1024)
    }

    deinit {
        counts.deallocate()
        excluded.deallocate()
    }

    func setExcluded(_ ports: [UInt16]) {
        excluded.update(repeating: 0, count: 1024)
        for p in ports { excluded[Int(p) >> 6] |= 1 << UInt64(p & 63) }
    }

    /// Ports currently held (sum of the holder counts), for tests and listings.
    var held: Int { (0..<65536).reduce(0) { $0 + Int(counts[$1]) } }
}

/// A service's view of its VIP's port pool: the configured range, a rotating cursor and the most
/// holders one port may have. Plain data in a preallocated per-service array.
@frozen @usableFromInline
struct VirtualPortRange {
    /// The VIP's shared holder counts (`VirtualPortCounts.counts`); nil while the VIP has no
    /// Double-NAT real server.
    @usableFromInline var counts: UnsafeMutablePointer<UInt16>?
    /// The VIP's service-port bitmap (`VirtualPortCounts.excluded`).
    @usableFromInline var excluded: UnsafeMutablePointer<UInt64>?
    @usableFromInline var low: UInt16 = 1024
    @usableFromInline var high: UInt16 = 65535
    /// Where the next search starts (one past the last port handed out).
    @usableFromInline var cursor: UInt16 = 1024
    /// A port with this many holders is skipped without a probe: the number of Double-NAT real
    /// servers on the VIP (a port can be held once per distinct RIP:rport).
    @usableFromInline var limit: UInt16 = 0

    @usableFromInline init() {}

    @inlinable @inline(__always)
    static func isExcluded(_ bitmap: UnsafeMutablePointer<UInt64>, _ port: Int) -> Bool {
        bitmap[port >> 6] & (1 << UInt64(port & 63)) != 0
    }
}

/// The default Double-NAT port range (the paper's 1024-65535: 64,511 ports).
public let defaultVirtualPortRange: ClosedRange<UInt16> = 1024...65535

extension Director {
    /// Takes a vdport for a new Double-NAT connection of service `svc` to `dest:dport`: the next
    /// port in the range, from the cursor on, that is not a service port of the VIP, has fewer
    /// than `limit` holders, and whose OUT key (proto, dest, dport, vip, port) no live connection
    /// holds (one probe). Returns the port, or `nilIndex` when the range is exhausted for this
    /// server. The port's count is taken; `releaseVirtualPort` gives it back.
    @inlinable
    func allocateVirtualPort(_ svc: Int, proto: UInt8, vip: IPAddress, dest: IPAddress, dport: UInt16) -> UInt32 {
        let r = virtualPorts + svc
        guard let counts = r.pointee.counts, let excluded = r.pointee.excluded else { return nilIndex }
        let low = Int(r.pointee.low)
        let high = Int(r.pointee.high)
        let limit = r.pointee.limit
        var port = Int(r.pointee.cursor)
        if port < low || port > high { port = low }
        var left = high - low + 1
        while left > 0 {
            let held = counts[port]
            if held < limit && !VirtualPortRange.isExcluded(excluded, port)
                && table.lookupOut(proto, dest: dest, dport: dport, client: vip, cport: UInt16(port)) == nilIndex
            {
                counts[port] = held &+ 1
                r.pointee.cursor = UInt16(port == high ? low : port + 1)
                return UInt32(port)
            }
            port = port == high ? low : port + 1
            left -= 1
        }
        return nilIndex
    }

    /// Gives back the vdport a Double-NAT connection holds (no-op for other connections).
    @inlinable @inline(__always)
    static func releaseVirtualPort(_ c: UnsafeMutablePointer<Connection>, _ ranges: UnsafeMutablePointer<VirtualPortRange>) {
        // The flag stays: the OUT chain is unlinked after this, under the same key.
        guard c.pointee.flags & Connection.flagLocalOut != 0 else { return }
        if let counts = ranges[Int(c.pointee.service)].counts { counts[Int(c.pointee.localPort)] &-= 1 }
    }
}
