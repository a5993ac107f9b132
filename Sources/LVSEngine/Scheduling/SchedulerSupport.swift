import LVSPacket

// Pieces several IPVS schedulers share: the kernel's address folding and hash functions, the
// weighted-least-connection pass that lblc and lblcr fall back to, and LBLC's notion of
// "overloaded".

/// The hash functions of the IPVS hashing schedulers.
enum SchedulerHash {
    /// `ntohl(addr_fold)`: an IPv4 address in host order; for IPv6, the XOR of the four 32-bit
    /// words (`ip6[0] ^ ip6[1] ^ ip6[2] ^ ip6[3]`), in host order.
    @inline(__always)
    static func fold(_ a: IPAddress) -> UInt32 {
        if a.isIPv4 { return a.v4 }
        // XOR is order-free, so the four in-memory words can be combined as loaded; one byte swap
        // then gives the host-order value of the folded network-order word.
        let x = UInt32(truncatingIfNeeded: a.hi) ^ UInt32(truncatingIfNeeded: a.hi >> 32)
            ^ UInt32(truncatingIfNeeded: a.lo) ^ UInt32(truncatingIfNeeded: a.lo >> 32)
        return UInt32(bigEndian: x)
    }

    /// include/linux/hash.h `GOLDEN_RATIO_32`.
    static let goldenRatio32: UInt32 = 0x61C8_8647

    /// include/linux/hash.h `hash_32(val, bits)`: the top `bits` bits of `val * GOLDEN_RATIO_32`.
    @inline(__always)
    static func hash32(_ value: UInt32, bits: UInt32) -> UInt32 {
        (value &* goldenRatio32) >> (32 &- bits)
    }

    /// The older IPVS bucket hash `(ntohl(addr) * 2654435761UL) & mask` (lblc still uses it).
    @inline(__always)
    static func multiplicative(_ value: UInt32, mask: UInt32) -> UInt32 {
        (value &* 2_654_435_761) & mask
    }

    /// Whether the scheduler's "port" flag applies to this protocol (`ip_vs_sh_get_port`,
    /// `ip_vs_mh_get_port`: TCP, UDP and SCTP only).
    @inline(__always)
    static func hasPorts(_ proto: UInt8) -> Bool { proto == 6 || proto == 17 || proto == 132 }
}

extension DestinationList {
    /// A server that may take a new connection by the hashing schedulers' rule (`is_unavailable`:
    /// weight <= 0 or OVERLOAD).
    @inline(__always)
    func isUsable(_ i: Int) -> Bool { weight(i) > 0 && !isOverloaded(i) }

    /// The weighted least-connection server (`__ip_vs_lblc_schedule`, `__ip_vs_lblcr_schedule`,
    /// the same rule as wlc): the first server that is not OVERLOAD with weight > 0, replaced by a
    /// later one only when overhead(least) * w(d) > overhead(d) * w(least).
    func weightedLeastConnection() -> Int? {
        let n = count
        var least = -1
        var i = 0
        while i < n {
            if !isOverloaded(i) && weight(i) > 0 {
                least = i
                break
            }
            i += 1
        }
        guard least >= 0 else { return nil }
        var loh = overhead(least)
        var lw = UInt64(weight(least))
        i = least + 1
        while i < n {
            let w = weight(i)
            if !isOverloaded(i) && w > 0 {
                let doh = overhead(i)
                if loh &* UInt64(w) > doh &* lw {
                    least = i
                    loh = doh
                    lw = UInt64(w)
                }
            }
            i += 1
        }
        return least
    }

    /// LBLC's `is_overloaded(dest, svc)`: the server has more active connections than its weight
    /// AND some server of the service (any, as listed) has 2 * activeconns < weight.
    func isLocalityOverloaded(_ i: Int) -> Bool {
        guard Int64(activeConns(i)) > Int64(weight(i)) else { return false }
        for d in 0..<count where Int64(activeConns(d)) * 2 < Int64(weight(d)) { return true }
        return false
    }
}
