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

    /// No port held: read 4 counts at a time, stopping at the first held one.
    var isUnheld: Bool {
        let words = UnsafeRawPointer(counts).assumingMemoryBound(to: UInt64.self)
        var i = 0
        while i < 65536 / 4 {
            if words[i] != 0 { return false }
            i += 1
        }
        return true
    }
}

/// A service's view of its port pools: the configured range, a rotating cursor, the most holders
/// one port may have (Double-NAT, the VIP's pool) and its LIPs (FULLNAT, one pool per LIP).
/// Plain data in a preallocated per-service array.
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
    /// FULLNAT: how many LIPs the service has (`Director.serviceLocalAddresses`), and which one
    /// the next connection tries first.
    @usableFromInline var lipCount: UInt16 = 0
    @usableFromInline var lipCursor: UInt16 = 0
    /// FULLNAT connections of this (TCP) service get a PROXY v2 header.
    @usableFromInline var proxyV2 = false
    /// FULLNAT connections of this (TCP) service get the TOA option.
    @usableFromInline var toa = false

    @usableFromInline init() {}

    @inlinable @inline(__always)
    static func isExcluded(_ bitmap: UnsafeMutablePointer<UInt64>, _ port: Int) -> Bool {
        bitmap[port >> 6] & (1 << UInt64(port & 63)) != 0
    }
}

/// The default Double-NAT port range (the paper's 1024-65535: 64,511 ports).
public let defaultVirtualPortRange: ClosedRange<UInt16> = 1024...65535

/// A vdport/lport range as lvsadm, the YAML file and keepalived.conf write it: `LOW-HIGH` with
/// 1 <= LOW <= HIGH <= 65535; nil otherwise (each caller words its own error).
public func parseVirtualPortRange(_ text: Substring) -> ClosedRange<UInt16>? {
    let parts = text.split(separator: "-", omittingEmptySubsequences: false)
    guard parts.count == 2, let low = UInt16(parts[0]), let high = UInt16(parts[1]), low >= 1, low <= high else {
        return nil
    }
    return low...high
}

extension Director {
    /// Most local addresses (LIPs) one FULLNAT service may have.
    public static let maxLocalAddressesPerService = 16

    /// Takes a vdport for a new Double-NAT connection of service `svc` to `dest:dport` (see
    /// `takePort`), from the VIP's pool. Returns the port or `nilIndex` (range exhausted for this
    /// server).
    @inlinable
    func allocateVirtualPort(_ svc: Int, proto: UInt8, vip: IPAddress, dest: IPAddress, dport: UInt16) -> UInt32 {
        let r = virtualPorts + svc
        guard let counts = r.pointee.counts else { return nilIndex }
        return takePort(r, counts: counts, excluded: r.pointee.excluded, limit: r.pointee.limit, proto: proto,
                        source: vip, dest: dest, dport: dport)
    }

    /// Takes a (LIP, lport) for a new FULLNAT connection of service `svc`: the service's LIPs in
    /// turn from its LIP cursor, each searched like a vdport pool (`takePort`). Returns the port
    /// and sets `lip` (an index into `table.localAddresses`), or returns `nilIndex` when every LIP
    /// is exhausted for this server.
    @inlinable
    func allocateLocalPort(_ svc: Int, proto: UInt8, dest: IPAddress, dport: UInt16, lip: inout UInt16) -> UInt32 {
        let r = virtualPorts + svc
        let n = Int(r.pointee.lipCount)
        let first = Int(r.pointee.lipCursor)
        var k = 0
        while k < n {
            let slot = (first + k) % n
            let li = serviceLocalAddresses[svc &* Director.maxLocalAddressesPerService &+ slot]
            if let counts = localPortCounts[Int(li)] {
                let port = takePort(r, counts: counts, excluded: nil, limit: UInt16.max - 1, proto: proto,
                                    source: table.localAddresses[Int(li)], dest: dest, dport: dport)
                if port != nilIndex {
                    r.pointee.lipCursor = UInt16((slot + 1) % n)
                    lip = li
                    return port
                }
            }
            k += 1
        }
        return nilIndex
    }

    /// Most table probes one port search makes. A pool that is full for one real server but not
    /// for the others (its ports have fewer holders than `limit`, so each needs a probe) would
    /// otherwise cost a probe per port of the range, 64,511 by default, for every refused SYN: a
    /// SYN flood towards that server would then take the director's core. With the bound a
    /// refusal costs at most this many probes and the next search continues where this one
    /// stopped, so a free port is still found within ceil(range / bound) attempts (a client's SYN
    /// retransmission). Ports skipped on their holder count alone cost no probe.
    public static let maxPortProbes = 1024

    /// The next port of the service's range, from its cursor on, that is not excluded, has fewer
    /// than `limit` holders, and whose OUT key (proto, dest, dport, source, port) no live
    /// connection holds (one probe): a port is used at most once per real server (RIP:rport).
    /// Takes the port's count and moves the cursor past it; `nilIndex` when none is left, or
    /// when `maxPortProbes` probes found none (the cursor then moves past the probed ports).
    @inlinable
    func takePort(_ r: UnsafeMutablePointer<VirtualPortRange>, counts: UnsafeMutablePointer<UInt16>,
                  excluded: UnsafeMutablePointer<UInt64>?, limit: UInt16, proto: UInt8, source: IPAddress,
                  dest: IPAddress, dport: UInt16) -> UInt32 {
        let low = Int(r.pointee.low)
        let high = Int(r.pointee.high)
        var port = Int(r.pointee.cursor)
        if port < low || port > high { port = low }
        var left = high - low + 1
        var probes = 0
        while left > 0 {
            let held = counts[port]
            let next = port == high ? low : port + 1
            if held < limit && !(excluded.map { VirtualPortRange.isExcluded($0, port) } ?? false) {
                if table.lookupOut(proto, dest: dest, dport: dport, client: source, cport: UInt16(port)) == nilIndex {
                    counts[port] = held &+ 1
                    r.pointee.cursor = UInt16(next)
                    return UInt32(port)
                }
                probes &+= 1
                if probes == Director.maxPortProbes {
                    r.pointee.cursor = UInt16(next)
                    return nilIndex
                }
            }
            port = next
            left -= 1
        }
        return nilIndex
    }

    /// The holder counts a connection's local port is counted in (its LIP's or its VIP's pool).
    @inlinable @inline(__always)
    static func portCounts(_ c: UnsafeMutablePointer<Connection>, _ ranges: UnsafeMutablePointer<VirtualPortRange>,
                           _ lipCounts: UnsafeMutablePointer<UnsafeMutablePointer<UInt16>?>) -> UnsafeMutablePointer<UInt16>? {
        c.pointee.method == ForwardingMethod.fullNAT.rawValue
            ? lipCounts[Int(c.pointee.localAddress)] : ranges[Int(c.pointee.service)].counts
    }

    /// Gives back the local port a Double-NAT or FULLNAT connection holds (no-op for others).
    @inlinable @inline(__always)
    static func releaseVirtualPort(_ c: UnsafeMutablePointer<Connection>, _ ranges: UnsafeMutablePointer<VirtualPortRange>,
                                   _ lipCounts: UnsafeMutablePointer<UnsafeMutablePointer<UInt16>?>) {
        // The flag stays: the OUT chain is unlinked after this, under the same key.
        guard c.pointee.flags & Connection.flagLocalOut != 0 else { return }
        if let counts = portCounts(c, ranges, lipCounts) { counts[Int(c.pointee.localPort)] &-= 1 }
    }
}
