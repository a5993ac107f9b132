import LVSPacket

/// The connection table: a fixed arena of `Connection`s, one chained hash index holding both keys
/// of every connection, and a timer wheel for expiry.
///
/// Everything is allocated once, at start-up, for `capacity` connections: the packet path never
/// allocates, and a full table refuses new connections (counted by the caller) instead of
/// evicting live ones. The owner frees it with `deallocate()`; copies share the memory. Chains link by 32-bit references `index << 1 | key` (key 0 = IN, 1 = OUT).
/// Expiry is lazy: a packet only moves `expires` forward; the wheel slot visited at the old time
/// re-files entries that are not yet due, so a refresh costs one store.
@usableFromInline
struct ConnectionTable {
    @usableFromInline let entries: UnsafeMutablePointer<Connection>
    /// FULLNAT local addresses (LIPs) by index (`Connection.localAddress`); the control plane
    /// fills them, slots are never reused for another address.
    @usableFromInline let localAddresses: UnsafeMutablePointer<IPAddress>
    @usableFromInline static var maxLocalAddresses: Int { 4096 }
    @usableFromInline let buckets: UnsafeMutablePointer<UInt32>
    @usableFromInline let bucketMask: Int
    @usableFromInline let capacity: Int
    @usableFromInline let seed: UInt64
    @usableFromInline var count = 0
    @usableFromInline var freeHead: UInt32
    // Timer wheel: `wheelSlots` lists of entries, one per tick of 2^tickShift ms.
    @usableFromInline let wheel: UnsafeMutablePointer<UInt32>
    @usableFromInline static var wheelSlots: Int { 8192 }
    @usableFromInline static var tickShift: UInt64 { 4 }  // 16 ms ticks; the wheel spans ~131 s
    /// The last tick whose slot has been processed.
    @usableFromInline var lastTick: UInt64

    /// Alignment of the large arrays: 2 MiB, so that a caller-supplied advisor can back them
    /// with huge pages (fewer TLB misses on tables of millions of connections).
    static var largeAlignment: Int { 2 << 20 }

    static func allocateLarge<T>(_ type: T.Type, _ count: Int, _ advise: MemoryAdvisor?) -> UnsafeMutablePointer<T> {
        let bytes = count * MemoryLayout<T>.stride
        let raw = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: bytes >= largeAlignment ? largeAlignment : 64)
        if let advise, bytes >= largeAlignment { advise(raw, bytes) }
        return raw.bindMemory(to: T.self, capacity: count)
    }

    init(capacity: Int, seed: UInt64, now: Timestamp, advise: MemoryAdvisor? = nil) {
        precondition(capacity > 0 && capacity < Int(UInt32.max >> 1), "capacity must be in 1..<2^31")
        self.capacity = capacity
        self.seed = seed
        entries = Self.allocateLarge(Connection.self, capacity, advise)
        localAddresses = .allocate(capacity: Self.maxLocalAddresses)
        localAddresses.initialize(repeating: .zero, count: Self.maxLocalAddresses)
        var b = 1
        while b < capacity * 2 { b <<= 1 }
        buckets = Self.allocateLarge(UInt32.self, b, advise)
        buckets.initialize(repeating: nilIndex, count: b)
        bucketMask = b - 1
        wheel = .allocate(capacity: Self.wheelSlots)
        wheel.initialize(repeating: nilIndex, count: Self.wheelSlots)
        // Free list through timerNext, in index order.
        for i in 0..<capacity {
            (entries + i).initialize(to: Connection(
                client: .zero, virtual: .zero, dest: .zero, clientPort: 0, virtualPort: 0, destPort: 0,
                proto: 0, state: 0, flags: 0, method: 0, service: 0, destSlot: 0, nextIn: nilIndex,
                nextOut: nilIndex, timerPrev: nilIndex, timerNext: i + 1 < capacity ? UInt32(i + 1) : nilIndex,
                expires: 0, control: nilIndex, nControl: 0, localPort: 0, localAddress: 0,
                seqDelta: 0, proxySeq: 0))
        }
        freeHead = 0
        lastTick = now.milliseconds >> Self.tickShift
    }

    /// Frees the memory (the owning Director calls this from its deinit; a copyable struct
    /// cannot own it, and a noncopyable one trips the optimizer when stored in a class).
    func deallocate() {
        entries.deallocate()
        localAddresses.deallocate()
        buckets.deallocate()
        wheel.deallocate()
    }

    /// Bytes allocated per connection of capacity (entries, buckets and wheel).
    var bytesPerConnection: Double {
        Double(capacity * MemoryLayout<Connection>.stride + (bucketMask + 1) * 4 + Self.wheelSlots * 4)
            / Double(capacity)
    }

    /// The (address, port) the real server's replies are sent to: the OUT key's second end.
    @inlinable @inline(__always)
    func outPeer(_ e: UnsafeMutablePointer<Connection>) -> (IPAddress, UInt16) {
        if e.pointee.flags & Connection.flagLocalOut == 0 { return (e.pointee.client, e.pointee.clientPort) }
        let source = e.pointee.method == ForwardingMethod.fullNAT.rawValue
            ? localAddresses[Int(e.pointee.localAddress)] : e.pointee.virtual
        return (source, e.pointee.localPort)
    }

    // MARK: Hashing

    @inlinable @inline(__always)
    static func mix(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let m = a.multipliedFullWidth(by: b)
        return m.high ^ m.low
    }

    /// Hash of (a:ap, b:bp, proto); the IN key passes (client, virtual), the OUT key (dest, client).
    @inlinable @inline(__always)
    func bucket(_ a: IPAddress, _ ap: UInt16, _ b: IPAddress, _ bp: UInt16, _ proto: UInt8) -> Int {
        let h1 = Self.mix(a.hi ^ seed, a.lo ^ 0x9e37_79b9_7f4a_7c15)
        let h2 = Self.mix(b.hi ^ 0xbf58_476d_1ce4_e5b9, b.lo ^ seed)
        let ports = UInt64(ap) << 32 | UInt64(bp) << 8 | UInt64(proto)
        return Int(truncatingIfNeeded: Self.mix(h1 ^ ports, h2 ^ 0x94d0_49bb_1331_11eb)) & bucketMask
    }

    // MARK: Lookup

    /// The connection whose IN key is (proto, client:cport -> virtual:vport), or `nilIndex`.
    @inlinable @inline(__always)
    func lookupIn(_ proto: UInt8, client: IPAddress, cport: UInt16, virtual: IPAddress, vport: UInt16) -> UInt32 {
        var ref = buckets[bucket(client, cport, virtual, vport, proto)]
        while ref != nilIndex {
            let e = entries + Int(ref >> 1)
            if ref & 1 == 0 {
                if e.pointee.client == client && e.pointee.virtual == virtual && e.pointee.clientPort == cport
                    && e.pointee.virtualPort == vport && e.pointee.proto == proto
                {
                    return ref >> 1
                }
                ref = e.pointee.nextIn
            } else {
                ref = e.pointee.nextOut
            }
        }
        return nilIndex
    }

    /// The live persistence template for (proto, client network, virtual:vport), or `nilIndex`.
    /// `proto` is the packet's protocol; templates are stored under `proto | templateProto`, cport 0.
    @inlinable
    func lookupTemplate(_ proto: UInt8, client: IPAddress, virtual: IPAddress, vport: UInt16) -> UInt32 {
        let tproto = proto | Connection.templateProto
        var ref = buckets[bucket(client, 0, virtual, vport, tproto)]
        while ref != nilIndex {
            let e = entries + Int(ref >> 1)
            if ref & 1 == 0 {
                if e.pointee.client == client && e.pointee.virtual == virtual && e.pointee.clientPort == 0
                    && e.pointee.virtualPort == vport && e.pointee.proto == tproto
                    && e.pointee.flags & (Connection.flagTemplate | Connection.flagDeadTemplate) == Connection.flagTemplate
                {
                    return ref >> 1
                }
                ref = e.pointee.nextIn
            } else {
                ref = e.pointee.nextOut
            }
        }
        return nilIndex
    }

    /// Free entries left.
    @inlinable var free: Int { capacity - count }

    /// The connection whose OUT key is (proto, dest:dport -> client:cport), or `nilIndex`
    /// (for Double-NAT entries `client:cport` is matched against VIP:vdport).
    @inlinable @inline(__always)
    func lookupOut(_ proto: UInt8, dest: IPAddress, dport: UInt16, client: IPAddress, cport: UInt16) -> UInt32 {
        var ref = buckets[bucket(dest, dport, client, cport, proto)]
        while ref != nilIndex {
            let e = entries + Int(ref >> 1)
            if ref & 1 == 1 {
                let (peer, peerPort) = outPeer(e)
                if e.pointee.dest == dest && peer == client && e.pointee.destPort == dport
                    && peerPort == cport && e.pointee.proto == proto
                {
                    return ref >> 1
                }
                ref = e.pointee.nextOut
            } else {
                ref = e.pointee.nextIn
            }
        }
        return nilIndex
    }

    // MARK: Insert and remove

    /// Takes a free entry, or returns `nilIndex` when the table is full. The caller fills the
    /// fields, then calls `link`.
    @inlinable @inline(__always)
    mutating func allocate() -> UInt32 {
        let i = freeHead
        if i == nilIndex { return nilIndex }
        freeHead = entries[Int(i)].timerNext
        count &+= 1
        return i
    }

    /// Links a filled entry into both hash chains and the timer wheel.
    @inlinable
    mutating func link(_ i: UInt32) {
        let e = entries + Int(i)
        e.pointee.flags |= Connection.flagInUse
        linkIn(i)
        if e.pointee.flags & Connection.flagTemplate == 0 { linkOut(i) }
        wheelInsert(i)
    }

    @inlinable @inline(__always)
    mutating func linkIn(_ i: UInt32) {
        let e = entries + Int(i)
        let b = bucket(e.pointee.client, e.pointee.clientPort, e.pointee.virtual, e.pointee.virtualPort, e.pointee.proto)
        e.pointee.nextIn = buckets[b]
        buckets[b] = i << 1
    }

    @inlinable @inline(__always)
    mutating func linkOut(_ i: UInt32) {
        let e = entries + Int(i)
        let (peer, peerPort) = outPeer(e)
        let b = bucket(e.pointee.dest, e.pointee.destPort, peer, peerPort, e.pointee.proto)
        e.pointee.nextOut = buckets[b]
        buckets[b] = i << 1 | 1
    }

    @inlinable @inline(__always)
    func next(_ ref: UInt32) -> UInt32 {
        ref & 1 == 0 ? entries[Int(ref >> 1)].nextIn : entries[Int(ref >> 1)].nextOut
    }

    @inlinable @inline(__always)
    func setNext(_ ref: UInt32, _ value: UInt32) {
        if ref & 1 == 0 { entries[Int(ref >> 1)].nextIn = value } else { entries[Int(ref >> 1)].nextOut = value }
    }

    /// Removes `ref` from the chain of bucket `b`.
    @inlinable
    func unchain(_ ref: UInt32, bucket b: Int) {
        var cur = buckets[b]
        if cur == ref {
            buckets[b] = next(ref)
            return
        }
        while cur != nilIndex {
            let n = next(cur)
            if n == ref {
                setNext(cur, next(ref))
                return
            }
            cur = n
        }
        preconditionFailure("connection missing from its hash chain")
    }

    @inlinable
    func unlinkOut(_ i: UInt32) {
        let e = entries + Int(i)
        let (peer, peerPort) = outPeer(e)
        unchain(i << 1 | 1, bucket: bucket(e.pointee.dest, e.pointee.destPort, peer, peerPort, e.pointee.proto))
    }

    /// Unlinks an entry from everything and returns it to the free list.
    @inlinable
    mutating func release(_ i: UInt32) {
        let e = entries + Int(i)
        unchain(i << 1, bucket: bucket(e.pointee.client, e.pointee.clientPort, e.pointee.virtual, e.pointee.virtualPort, e.pointee.proto))
        if e.pointee.flags & Connection.flagTemplate == 0 { unlinkOut(i) }
        wheelRemove(i)
        e.pointee.flags = 0
        e.pointee.control = nilIndex
        e.pointee.nControl = 0
        e.pointee.timerNext = freeHead
        freeHead = i
        count &-= 1
    }

    // MARK: Timer wheel

    @inlinable @inline(__always)
    func slot(forTick t: UInt64) -> Int { Int(truncatingIfNeeded: t) & (Self.wheelSlots - 1) }

    /// `timerPrev` of a slot's first entry: this bit plus the slot number (entries are < 2^31, so a
    /// head mark never collides with an index, and `nilIndex` means "in no slot").
    @usableFromInline static var headMark: UInt32 { 0x8000_0000 }

    /// Files the entry under the tick of its expiry (never a tick already processed).
    @inlinable
    mutating func wheelInsert(_ i: UInt32) {
        let e = entries + Int(i)
        let tick = max(e.pointee.expires >> Self.tickShift, lastTick &+ 1)
        let s = slot(forTick: tick)
        let head = wheel[s]
        e.pointee.timerPrev = Self.headMark | UInt32(s)
        e.pointee.timerNext = head
        if head != nilIndex { entries[Int(head)].timerPrev = i }
        wheel[s] = i
    }

    /// Takes the entry out of its slot's list; a no-op when it is in none.
    @inlinable
    mutating func wheelRemove(_ i: UInt32) {
        let e = entries + Int(i)
        let p = e.pointee.timerPrev
        if p == nilIndex { return }
        let n = e.pointee.timerNext
        if p & Self.headMark != 0 {
            wheel[Int(p & ~Self.headMark)] = n
            if n != nilIndex { entries[Int(n)].timerPrev = p }
        } else {
            entries[Int(p)].timerNext = n
            if n != nilIndex { entries[Int(n)].timerPrev = p }
        }
        e.pointee.timerPrev = nilIndex
        e.pointee.timerNext = nilIndex
    }

    /// Moves an entry whose expiry moved earlier (a shorter state timeout) to the right slot.
    @inlinable
    mutating func reschedule(_ i: UInt32, expires: UInt64) {
        wheelRemove(i)
        entries[Int(i)].expires = expires
        wheelInsert(i)
    }

    /// Processes the wheel up to `now`, calling `expire` for each due entry (which either releases
    /// it and returns true, or re-arms it with `wheelInsert` and returns false) and re-filing
    /// entries whose expiry moved later. Returns the number expired.
    @inlinable
    mutating func advance(to now: Timestamp, expire: (inout ConnectionTable, UInt32) -> Bool) -> Int {
        let nowTick = now.milliseconds >> Self.tickShift
        guard nowTick > lastTick else { return 0 }
        let steps = min(nowTick &- lastTick, UInt64(Self.wheelSlots))
        var expired = 0
        var t = nowTick &- steps &+ 1
        while t <= nowTick {
            let s = slot(forTick: t)
            var i = wheel[s]
            wheel[s] = nilIndex
            // Detach the whole slot, then expire or re-file each entry.
            while i != nilIndex {
                let e = entries + Int(i)
                let n = e.pointee.timerNext
                e.pointee.timerPrev = nilIndex
                e.pointee.timerNext = nilIndex
                if e.pointee.expires <= now.milliseconds {
                    if expire(&self, i) { expired &+= 1 }
                } else {
                    lastTick = t  // file relative to the slot being processed
                    wheelInsert(i)
                }
                i = n
            }
            t &+= 1
        }
        lastTick = nowTick
        return expired
    }
}
