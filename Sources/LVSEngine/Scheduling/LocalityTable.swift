import LVSPacket

/// The per-service table of lblc and lblcr (ip_vs_lblc.c, ip_vs_lblcr.c): destination address →
/// entry, in 1024 hash buckets (`CONFIG_IP_VS_LBLC_TAB_BITS` = 10), with IPVS's periodic garbage
/// collection. An lblc entry holds one server; an lblcr entry holds a set of servers (a list,
/// newest first, as `list_add_rcu` builds it) and the time the set last changed.
///
/// IPVS runs the collection from a 60-second timer started with the service. The engine has no
/// timers, so the table runs the timer's ticks from the scheduling clock: the first scheduling
/// call starts it, and each call first runs the ticks that fell due (each at its own tick time).
/// Every tick either
/// * every 30th tick (`COUNT_FOR_FULL_EXPIRATION`): removes every entry unused for `expiration`
///   (the lblc_expiration / lblcr_expiration sysctl, 24 h by default), or
/// * when the table holds more than `maxSize` (16 × 1024) entries: removes entries unused for at
///   least 6 minutes (`ENTRY_TIMEOUT`), bucket by bucket from where the last sweep stopped (the
///   rover), until `min((entries − maxSize) × 4/3, maxSize/2)` are gone,
/// * else counts towards the next full sweep.
/// After a long silence (more than 30 ticks due at once) one full sweep at the current time stands
/// in for the missed ticks, so a scheduling call never replays an unbounded backlog.
///
/// Bounded memory (a deliberate difference): IPVS allocates entries and set members without
/// limit between sweeps; here at most `capacity` (2 × maxSize) entries and `elementCapacity`
/// (4 × maxSize) set members exist. Beyond that the scheduler behaves as IPVS does when its
/// allocation fails: the chosen server is used without being cached. Storage grows on demand and
/// freed entries are reused, so steady-state scheduling allocates nothing.
///
/// Servers are held by list position. When a server is removed, entries pointing at it are
/// invalidated (lblc) or lose it from their set (lblcr), and later positions shift down.
struct LocalityTable {
    static let bits: UInt32 = 10
    static let bucketCount = 1 << 10
    static let bucketMask = bucketCount - 1
    /// IPVS `max_size` = 16 × table size.
    static let maxSize = 16 * bucketCount
    static let capacity = 2 * maxSize
    static let elementCapacity = 4 * maxSize
    /// `CHECK_EXPIRE_INTERVAL` (ms).
    static let checkInterval: UInt64 = 60_000
    /// `ENTRY_TIMEOUT` (ms).
    static let entryTimeout: UInt64 = 6 * 60_000
    /// `DEFAULT_EXPIRATION` (ms).
    static let defaultExpiration: UInt64 = 24 * 60 * 60_000
    /// `COUNT_FOR_FULL_EXPIRATION`.
    static let fullExpirationCount = 30

    struct Entry {
        var key: IPAddress
        var lastUse: UInt64
        /// lblcr: when the set last changed.
        var lastMod: UInt64
        /// Next entry in the bucket (or in the free list); -1 = none.
        var next: Int32
        /// lblc: the server's position (-1 = removed); lblcr: the first set element (-1 = empty).
        var value: Int32
        /// lblcr: members in the set.
        var setSize: Int32
    }

    struct Element {
        var position: Int32
        var next: Int32
    }

    /// lblcr (server sets, hashed with `hash_32(addr, 10)`) rather than lblc (one server, hashed
    /// with `(addr * 2654435761) & 1023`).
    let replicated: Bool
    /// Entries unused this long go in the full sweep (ms).
    var expiration = LocalityTable.defaultExpiration
    var heads: [Int32]
    var entries: [Entry] = []
    var freeEntry: Int32 = -1
    var elements: [Element] = []
    var freeElement: Int32 = -1
    /// Live entries (IPVS `entries`).
    private(set) var count = 0
    var rover = 0
    var counter = 1
    /// When the next tick is due; nil until the first scheduling call.
    var nextCheck: UInt64?

    init(replicated: Bool) {
        self.replicated = replicated
        heads = Array(repeating: -1, count: Self.bucketCount)
    }

    /// Forgets every entry (a scheduler taking over a service starts empty, as in IPVS).
    mutating func clear() {
        for i in 0..<Self.bucketCount { heads[i] = -1 }
        entries.removeAll(keepingCapacity: true)
        elements.removeAll(keepingCapacity: true)
        freeEntry = -1
        freeElement = -1
        count = 0
        rover = 0
        counter = 1
        nextCheck = nil
    }

    @inline(__always)
    func bucket(_ key: IPAddress) -> Int {
        let fold = SchedulerHash.fold(key)
        return Int(replicated
            ? SchedulerHash.hash32(fold, bits: Self.bits)
            : SchedulerHash.multiplicative(fold, mask: UInt32(Self.bucketMask)))
    }

    /// The entry for `key`, or -1.
    func find(_ key: IPAddress) -> Int {
        var e = Int(heads[bucket(key)])
        while e >= 0 {
            if entries[e].key == key { return e }
            e = Int(entries[e].next)
        }
        return -1
    }

    /// A new entry at the head of its bucket, or -1 when the table is at capacity.
    mutating func insert(_ key: IPAddress, value: Int32, now: UInt64) -> Int {
        let e: Int
        let entry = Entry(key: key, lastUse: now, lastMod: now, next: -1, value: value, setSize: 0)
        if freeEntry >= 0 {
            e = Int(freeEntry)
            freeEntry = entries[e].next
            entries[e] = entry
        } else if entries.count < Self.capacity {
            e = entries.count
            entries.append(entry)
        } else {
            return -1
        }
        let b = bucket(key)
        entries[e].next = heads[b]
        heads[b] = Int32(e)
        count += 1
        return e
    }

    // MARK: lblcr sets

    /// `ip_vs_dest_set_insert`: adds `position` at the head of the set unless it is a member;
    /// a change stamps `lastMod`. Returns false when no element could be allocated.
    @discardableResult
    mutating func setInsert(_ e: Int, _ position: Int, now: UInt64) -> Bool {
        var el = Int(entries[e].value)
        while el >= 0 {
            if elements[el].position == Int32(position) { return true }
            el = Int(elements[el].next)
        }
        let new: Int
        let element = Element(position: Int32(position), next: entries[e].value)
        if freeElement >= 0 {
            new = Int(freeElement)
            freeElement = elements[new].next
            elements[new] = element
        } else if elements.count < Self.elementCapacity {
            new = elements.count
            elements.append(element)
        } else {
            return false
        }
        entries[e].value = Int32(new)
        entries[e].setSize += 1
        entries[e].lastMod = now
        return true
    }

    /// `ip_vs_dest_set_erase`: removes `position` from the set, stamping `lastMod`.
    mutating func setErase(_ e: Int, _ position: Int, now: UInt64) {
        var prev = -1
        var el = Int(entries[e].value)
        while el >= 0 {
            let next = elements[el].next
            if elements[el].position == Int32(position) {
                if prev < 0 { entries[e].value = next } else { elements[prev].next = next }
                elements[el].next = freeElement
                freeElement = Int32(el)
                entries[e].setSize -= 1
                entries[e].lastMod = now
                return
            }
            prev = el
            el = Int(next)
        }
    }

    // MARK: Removal and collection

    /// Unlinks and frees entry `e` (whose predecessor in its bucket is `prev`, or -1).
    private mutating func remove(_ e: Int, prev: Int, bucket b: Int) {
        let next = entries[e].next
        if prev < 0 { heads[b] = next } else { entries[prev].next = next }
        if replicated {
            var el = entries[e].value
            while el >= 0 {
                let n = elements[Int(el)].next
                elements[Int(el)].next = freeElement
                freeElement = el
                el = n
            }
        }
        entries[e].next = freeEntry
        freeEntry = Int32(e)
        count -= 1
    }

    /// Removes the entries of bucket `b` unused for `age` ms at time `now`; returns how many.
    private mutating func sweep(bucket b: Int, now: UInt64, age: UInt64) -> Int {
        var removed = 0
        var prev = -1
        var e = Int(heads[b])
        while e >= 0 {
            let next = Int(entries[e].next)
            // IPVS keeps an entry while time_before(now, lastuse + age).
            if now < entries[e].lastUse &+ age {
                prev = e
            } else {
                remove(e, prev: prev, bucket: b)
                removed += 1
            }
            e = next
        }
        return removed
    }

    /// `ip_vs_lblc_full_check`: every bucket from the rover on.
    mutating func fullCheck(now: UInt64) {
        var j = rover
        for _ in 0..<Self.bucketCount {
            j = (j + 1) & Self.bucketMask
            _ = sweep(bucket: j, now: now, age: expiration)
        }
        rover = j
    }

    /// `ip_vs_lblc_check_expire`: one timer tick at time `now`.
    mutating func checkExpire(now: UInt64) {
        if counter % Self.fullExpirationCount == 0 {
            fullCheck(now: now)
            counter = 1
            return
        }
        if count <= Self.maxSize {
            counter += 1
            return
        }
        var goal = min((count - Self.maxSize) * 4 / 3, Self.maxSize / 2)
        var j = rover
        for _ in 0..<Self.bucketCount {
            j = (j + 1) & Self.bucketMask
            goal -= sweep(bucket: j, now: now, age: Self.entryTimeout)
            if goal <= 0 { break }
        }
        rover = j
    }

    /// Runs the timer ticks due by `now` (see the type's documentation).
    @inline(__always)
    mutating func tick(_ now: UInt64) {
        if let due = nextCheck, now < due { return }
        runDueTicks(now)
    }

    private mutating func runDueTicks(_ now: UInt64) {
        guard var due = nextCheck else {
            nextCheck = now &+ Self.checkInterval
            return
        }
        var runs = 0
        while now >= due && runs < Self.fullExpirationCount {
            checkExpire(now: due)
            due &+= Self.checkInterval
            runs += 1
        }
        if now >= due {
            fullCheck(now: now)
            counter = 1
            due = now &+ Self.checkInterval
        }
        nextCheck = due
    }

    /// Server `position` left the list: entries forget it and later positions shift down.
    mutating func serverRemoved(at position: Int) {
        let p = Int32(position)
        for b in 0..<Self.bucketCount {
            var e = Int(heads[b])
            while e >= 0 {
                if replicated {
                    var prev = -1
                    var el = Int(entries[e].value)
                    while el >= 0 {
                        let next = elements[el].next
                        if elements[el].position == p {
                            if prev < 0 { entries[e].value = next } else { elements[prev].next = next }
                            elements[el].next = freeElement
                            freeElement = Int32(el)
                            entries[e].setSize -= 1
                        } else {
                            if elements[el].position > p { elements[el].position -= 1 }
                            prev = el
                        }
                        el = Int(next)
                    }
                } else {
                    let v = entries[e].value
                    if v == p { entries[e].value = -1 } else if v > p { entries[e].value = v - 1 }
                }
                e = Int(entries[e].next)
            }
        }
    }
}
