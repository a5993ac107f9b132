import LVSPacket

/// mh (ip_vs_mh.c): Maglev consistent hashing over the client's source address (plus its source
/// port with `mh-port`), as the kernel builds it, so that every director with the same servers in
/// the same order builds the same lookup table and sends a client to the same server.
///
/// * Table size M = 4093, the prime of `CONFIG_IP_VS_MH_TAB_INDEX` = 12 (primes 251 ... 131071,
///   indexed by INDEX - 8); `IP_VS_MH_TAB_BITS` = INDEX / 2 = 6.
/// * Hash: `h(key, addr, port, offset) = hsiphash(u32 v = offset + port + ntohl(addr_fold), key)`,
///   with the fixed keys key1 = {2654435761, 2654435761} and key2 = {2654446892, 2654446892}. On
///   64-bit kernels hsiphash is SipHash-1-3 (64-bit state, one compression round, three
///   finalization rounds) truncated to 32 bits, over the 4 bytes of v in memory (little-endian).
/// * Per server, in list order, over its own address and port: offset = h(key1) % M,
///   skip = h(key2) % (M - 1) + 1.
/// * Weights are the servers' `last_weight` (the last non-zero weight, so quiescing a server with
///   weight 0 does not reshuffle the table); turns = (last_weight / gcd) >> rshift, at least 1 for
///   a non-zero last_weight, with rshift = max(0, fls(max / gcd) - 6).
/// * Populate round robin, each server claiming `turns` slots in a row, each slot being the next
///   free one of its permutation offset, offset + skip, ... (mod M), until all M are taken.
/// * Lookup slot = h(key1, client) % M. A server with weight <= 0 or OVERLOAD (or an empty table)
///   gives no server, unless `mh-fallback`: then slots h(key1, client, roffset) % M for
///   roffset = (offset + slot) % M, offset = 0..M-1, stopping at an empty slot.
public final class MaglevHashingScheduler: Scheduler {
    public static let name = "mh"
    /// The kernel's table sizes, indexed by `CONFIG_IP_VS_MH_TAB_INDEX` - 8.
    public static let primes = [251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521, 131071]
    /// `CONFIG_IP_VS_MH_TAB_INDEX` (Kconfig default).
    public static let tableIndex = 12
    /// `IP_VS_MH_TAB_BITS`.
    static let tableBits = tableIndex / 2
    /// M.
    public static let tableSize = primes[tableIndex - 8]
    /// `generate_hash_secret`: hsiphash keys, each two `unsigned long` words.
    static let key1: (UInt64, UInt64) = (2_654_435_761, 2_654_435_761)
    static let key2: (UInt64, UInt64) = (2_654_446_892, 2_654_446_892)

    public var flags: UInt32 = 0
    /// Server position per slot; -1 = empty.
    let lookup: UnsafeMutablePointer<Int32>
    /// `last_weight` of each server, in list order: its weight when added, then its latest
    /// non-zero weight.
    var lastWeights: [Int32] = []

    public init() {
        lookup = .allocate(capacity: Self.tableSize)
        lookup.initialize(repeating: -1, count: Self.tableSize)
    }

    deinit { lookup.deallocate() }

    // MARK: Hashing

    /// `hsiphash(&v, 4, key)` on a 64-bit kernel: SipHash-1-3 of the 4 bytes of `v` (little-endian
    /// in memory) with a 128-bit key, truncated to 32 bits.
    @inline(__always)
    static func hsiphash(_ v: UInt32, _ key: (UInt64, UInt64)) -> UInt32 {
        var s = SipState(key)
        let b = UInt64(4) << 56 | UInt64(v)
        s.v3 ^= b
        s.round()
        s.v0 ^= b
        s.v2 ^= 0xff
        s.round()
        s.round()
        s.round()
        return UInt32(truncatingIfNeeded: s.v0 ^ s.v1 ^ s.v2 ^ s.v3)
    }

    /// hsiphash of any message, as lib/siphash.c `__hsiphash_aligned` computes it on 64-bit
    /// kernels (used to check `hsiphash(_:_:)` against the kernel's self-test vectors).
    static func hsiphash(bytes: [UInt8], _ key: (UInt64, UInt64)) -> UInt32 {
        var s = SipState(key)
        var b = UInt64(bytes.count) << 56
        let whole = bytes.count & ~7
        var i = 0
        while i < whole {
            var m: UInt64 = 0
            for j in 0..<8 { m |= UInt64(bytes[i + j]) << (8 * UInt64(j)) }
            s.v3 ^= m
            s.round()
            s.v0 ^= m
            i += 8
        }
        for j in 0..<(bytes.count - whole) { b |= UInt64(bytes[whole + j]) << (8 * UInt64(j)) }
        s.v3 ^= b
        s.round()
        s.v0 ^= b
        s.v2 ^= 0xff
        s.round()
        s.round()
        s.round()
        return UInt32(truncatingIfNeeded: s.v0 ^ s.v1 ^ s.v2 ^ s.v3)
    }

    struct SipState {
        var v0: UInt64
        var v1: UInt64
        var v2: UInt64
        var v3: UInt64

        @inline(__always)
        init(_ key: (UInt64, UInt64)) {
            v0 = 0x736f_6d65_7073_6575 ^ key.0
            v1 = 0x646f_7261_6e64_6f6d ^ key.1
            v2 = 0x6c79_6765_6e65_7261 ^ key.0
            v3 = 0x7465_6462_7974_6573 ^ key.1
        }

        @inline(__always)
        mutating func round() {
            v0 &+= v1
            v1 = v1.rotl(13)
            v1 ^= v0
            v0 = v0.rotl(32)
            v2 &+= v3
            v3 = v3.rotl(16)
            v3 ^= v2
            v0 &+= v3
            v3 = v3.rotl(21)
            v3 ^= v0
            v2 &+= v1
            v1 = v1.rotl(17)
            v1 ^= v2
            v2 = v2.rotl(32)
        }
    }

    /// `ip_vs_mh_hashkey(af, addr, port, key, offset)` on a folded address and host-order port.
    @inline(__always)
    static func hashKey(_ fold: UInt32, port: UInt32, _ key: (UInt64, UInt64), offset: UInt32) -> UInt32 {
        hsiphash(offset &+ port &+ fold, key)
    }

    // MARK: Building the table

    public func update(_ servers: DestinationList, change: DestinationChange) {
        let n = servers.count
        switch change {
        case .added(let p) where p == lastWeights.count && p < n:
            lastWeights.append(servers.weight(p))
        case .edited(let p) where p < lastWeights.count && p < n:
            let w = servers.weight(p)
            if w != 0 { lastWeights[p] = w }
        case .removed(let p) where p < lastWeights.count:
            lastWeights.remove(at: p)
        default:
            lastWeights = (0..<n).map { servers.weight($0) }
        }
        if lastWeights.count != n { lastWeights = (0..<n).map { servers.weight($0) } }
        populate(servers)
    }

    static func gcd(_ a: Int32, _ b: Int32) -> Int32 {
        var (x, y) = (a, b)
        while y != 0 { (x, y) = (y, x % y) }
        return x
    }

    /// `fls`: 1-based index of the most significant set bit, 0 for 0.
    static func fls(_ x: Int32) -> Int { x <= 0 ? 0 : 32 - x.leadingZeroBitCount }

    /// `ip_vs_mh_gcd_weight`, `ip_vs_mh_shift_weight`, `ip_vs_mh_permutate`, `ip_vs_mh_populate`.
    func populate(_ servers: DestinationList) {
        let m = Self.tableSize
        let n = servers.count
        var g: Int32 = 0
        var maxWeight: Int32 = 0
        for w in lastWeights where w > 0 {
            g = g > 0 ? Self.gcd(w, g) : w
            maxWeight = max(maxWeight, w)
        }
        guard g >= 1, n > 0 else {
            lookup.update(repeating: -1, count: m)
            return
        }
        let rshift = max(0, Self.fls(maxWeight / g) - Self.tableBits)
        var perm = [Int](repeating: 0, count: n)
        var skip = [Int](repeating: 0, count: n)
        var turns = [Int32](repeating: 0, count: n)
        for i in 0..<n {
            let d = servers[i]
            let fold = SchedulerHash.fold(d.address)
            let port = UInt32(d.port)
            perm[i] = Int(Self.hashKey(fold, port: port, Self.key1, offset: 0) % UInt32(m))
            skip[i] = Int(Self.hashKey(fold, port: port, Self.key2, offset: 0) % UInt32(m - 1)) + 1
            let lw = lastWeights[i]
            let t = (lw / g) >> rshift
            turns[i] = t != 0 ? t : (lw != 0 ? 1 : 0)
        }
        var taken = [UInt64](repeating: 0, count: (m + 63) / 64)
        var filled = 0
        var given: Int32 = 0
        fill: while filled < m {
            var i = 0
            while i < n {
                if turns[i] < 1 {
                    i += 1
                    continue
                }
                var c = perm[i]
                while taken[c >> 6] & (1 << UInt64(c & 63)) != 0 {
                    perm[i] += skip[i]
                    if perm[i] >= m { perm[i] -= m }
                    c = perm[i]
                }
                taken[c >> 6] |= 1 << UInt64(c & 63)
                lookup[c] = Int32(i)
                filled += 1
                if filled == m { break fill }
                given += 1
                if given >= turns[i] {
                    given = 0
                    i += 1
                }
            }
        }
    }

    // MARK: Scheduling

    public func schedule(_ servers: DestinationList, _ input: SchedulingInput) -> Int? {
        let m = UInt32(Self.tableSize)
        let port: UInt32 = flags & SchedulerFlags.port != 0 && SchedulerHash.hasPorts(input.proto)
            ? UInt32(input.clientPort) : 0
        let fold = SchedulerHash.fold(input.clientAddress)
        let n = servers.count
        let ihash = Self.hashKey(fold, port: port, Self.key1, offset: 0) % m
        let first = Int(lookup[Int(ihash)])
        guard first >= 0, first < n else { return nil }
        if servers.isUsable(first) { return first }
        guard flags & SchedulerFlags.fallback != 0 else { return nil }
        var offset: UInt32 = 0
        while offset < m {
            let roffset = (offset &+ ihash) % m
            let p = Int(lookup[Int(Self.hashKey(fold, port: port, Self.key1, offset: roffset) % m)])
            guard p >= 0, p < n else { return nil }
            if servers.isUsable(p) { return p }
            offset += 1
        }
        return nil
    }
}

extension UInt64 {
    @inline(__always)
    fileprivate func rotl(_ k: UInt64) -> UInt64 { (self << k) | (self >> (64 &- k)) }
}
