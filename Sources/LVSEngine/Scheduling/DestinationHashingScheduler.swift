import LVSPacket

/// dh (ip_vs_dh.c): destination hashing, for cache clusters. A static table of 256 buckets
/// (`CONFIG_IP_VS_DH_TAB_BITS` = 8) is refilled whenever a server is added or removed: bucket i
/// gets server i mod n in list order; weights play no part. A new connection takes the bucket of
/// `hash_32(ntohl(daddr), 8)` (IPv6 addresses folded by XOR of their four 32-bit words); if that
/// server has weight <= 0 or is OVERLOAD, the answer is no server: dh has no fallback.
public final class DestinationHashingScheduler: Scheduler {
    public static let name = "dh"
    public static let tableBits: UInt32 = 8
    public static let tableSize = 1 << 8

    /// Server position per bucket; -1 = empty (no servers).
    let buckets: UnsafeMutablePointer<Int32>

    public init() {
        buckets = .allocate(capacity: Self.tableSize)
        buckets.initialize(repeating: -1, count: Self.tableSize)
    }

    deinit { buckets.deallocate() }

    public func update(_ servers: DestinationList, change: DestinationChange) {
        // IPVS reassigns on add and delete only; an edit leaves the same assignment, since the fill
        // ignores weights.
        let n = servers.count
        for i in 0..<Self.tableSize { buckets[i] = n == 0 ? -1 : Int32(i % n) }
    }

    /// The bucket of a destination address.
    static func bucket(_ address: IPAddress) -> Int {
        Int(SchedulerHash.hash32(SchedulerHash.fold(address), bits: tableBits))
    }

    public func schedule(_ servers: DestinationList, _ input: SchedulingInput) -> Int? {
        let p = Int(buckets[Self.bucket(input.virtualAddress)])
        guard p >= 0, p < servers.count, servers.isUsable(p) else { return nil }
        return p
    }
}
