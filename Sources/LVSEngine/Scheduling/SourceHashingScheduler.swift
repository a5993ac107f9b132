import LVSPacket

/// sh (ip_vs_sh.c): source hashing. A static table of 256 buckets (`CONFIG_IP_VS_SH_TAB_BITS` = 8)
/// is refilled on every add, edit and removal: walking the list, each server gets `weight`
/// consecutive buckets (at least one, so a weight-0 server still holds a bucket) before the next
/// one, cycling until the table is full.
///
/// The key is the client's source address (IPv6 folded by XOR of its four 32-bit words), plus its
/// source port when `sh-port` (SCHED2) is set and the protocol is TCP, UDP or SCTP; bucket =
/// `(offset + hash_32(port + addr, 8)) & 255` with offset 0. A server with weight <= 0 or OVERLOAD
/// is unavailable: without `sh-fallback` (SCHED1) that means no server; with it, offsets 0..255
/// are tried in turn (roffset = (offset + first bucket) mod 256, the key rehashed with roffset),
/// stopping at an empty bucket. Every director with the same servers in the same order makes the
/// same choice.
public final class SourceHashingScheduler: Scheduler {
    public static let name = "sh"
    public static let tableBits: UInt32 = 8
    public static let tableSize = 1 << 8
    static let tableMask = UInt32(tableSize - 1)

    public var flags: UInt32 = 0
    /// Server position per bucket; -1 = empty (no servers).
    let buckets: UnsafeMutablePointer<Int32>

    public init() {
        buckets = .allocate(capacity: Self.tableSize)
        buckets.initialize(repeating: -1, count: Self.tableSize)
    }

    deinit { buckets.deallocate() }

    public func update(_ servers: DestinationList, change: DestinationChange) {
        let n = servers.count
        var p = 0
        var given: Int32 = 0
        for i in 0..<Self.tableSize {
            guard n > 0 else {
                buckets[i] = -1
                continue
            }
            buckets[i] = Int32(p)
            given += 1
            if given >= servers.weight(p) {
                p = p + 1 == n ? 0 : p + 1
                given = 0
            }
        }
    }

    /// `ip_vs_sh_hashkey(addr, port, offset)` on a folded address.
    @inline(__always)
    static func hashKey(_ fold: UInt32, port: UInt32, offset: UInt32) -> Int {
        Int((offset &+ SchedulerHash.hash32(port &+ fold, bits: tableBits)) & tableMask)
    }

    public func schedule(_ servers: DestinationList, _ input: SchedulingInput) -> Int? {
        let port: UInt32 = flags & SchedulerFlags.port != 0 && SchedulerHash.hasPorts(input.proto)
            ? UInt32(input.clientPort) : 0
        let fold = SchedulerHash.fold(input.clientAddress)
        let n = servers.count
        let ihash = Self.hashKey(fold, port: port, offset: 0)
        let first = Int(buckets[ihash])
        guard first >= 0, first < n else { return nil }
        if servers.isUsable(first) { return first }
        guard flags & SchedulerFlags.fallback != 0 else { return nil }
        for offset in 0..<Self.tableSize {
            let roffset = UInt32((offset + ihash) % Self.tableSize)
            let p = Int(buckets[Self.hashKey(fold, port: port, offset: roffset)])
            guard p >= 0, p < n else { return nil }
            if servers.isUsable(p) { return p }
        }
        return nil
    }
}
