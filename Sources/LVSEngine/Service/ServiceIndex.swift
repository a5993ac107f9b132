import LVSPacket

/// Open-addressing index from (proto, VIP, port) to service slot, plus the set of VIPs, plus the
/// "wide" entries: port ranges of service groups and port-0 (all ports) services, scanned in order
/// only when the exact lookup and the reply probe both missed on a VIP.
///
/// Rebuilt by the control plane whenever services change (cheap: at most a few thousand entries),
/// so lookups on the packet path are a hash and a short linear probe in a cache-resident array.
@usableFromInline
struct ServiceIndex {
    @usableFromInline struct Entry {
        @usableFromInline var address: IPAddress
        @usableFromInline var port: UInt16
        @usableFromInline var proto: UInt8
        /// 0 = empty; otherwise service slot + 1 (for the VIP table: a use count).
        @usableFromInline var value: UInt16
    }

    @usableFromInline let services: UnsafeMutablePointer<Entry>
    @usableFromInline let vips: UnsafeMutablePointer<Entry>
    @usableFromInline let mask: Int

    /// A port range of one (proto, address) that belongs to a service slot.
    @usableFromInline struct WideEntry {
        @usableFromInline var address: IPAddress
        @usableFromInline var low: UInt16
        @usableFromInline var high: UInt16
        @usableFromInline var proto: UInt8
        @usableFromInline var slot: UInt16
    }

    @usableFromInline let wide: UnsafeMutablePointer<WideEntry>
    /// wideCount[0] = entries in use (a pointer so `rebuild` stays non-mutating).
    @usableFromInline let wideCount: UnsafeMutablePointer<Int>
    let wideCapacity: Int

    init(maxServices: Int) {
        var n = 8
        while n < maxServices * 2 { n <<= 1 }
        mask = n - 1
        services = .allocate(capacity: n)
        vips = .allocate(capacity: n)
        let empty = Entry(address: .zero, port: 0, proto: 0, value: 0)
        services.initialize(repeating: empty, count: n)
        vips.initialize(repeating: empty, count: n)
        wideCapacity = maxServices * 4
        wide = .allocate(capacity: wideCapacity)
        wideCount = .allocate(capacity: 1)
        wideCount.initialize(to: 0)
    }

    /// Frees the memory; called by the owning Director.
    func deallocate() {
        services.deallocate()
        vips.deallocate()
        wide.deallocate()
        wideCount.deallocate()
    }

    @inlinable @inline(__always)
    func hash(_ a: IPAddress, _ port: UInt16, _ proto: UInt8) -> Int {
        let x = (a.hi ^ (a.lo &* 0x9e37_79b9_7f4a_7c15)) ^ (UInt64(port) << 8 | UInt64(proto))
        let m = x.multipliedFullWidth(by: 0xbf58_476d_1ce4_e5b9)
        return Int(truncatingIfNeeded: m.high ^ m.low) & mask
    }

    /// The slot of the service (proto, address, port), or -1.
    @inlinable @inline(__always)
    func lookup(_ proto: UInt8, _ address: IPAddress, _ port: UInt16) -> Int {
        var i = hash(address, port, proto)
        while true {
            let e = services + i
            if e.pointee.value == 0 { return -1 }
            if e.pointee.address == address && e.pointee.port == port && e.pointee.proto == proto {
                return Int(e.pointee.value) &- 1
            }
            i = (i &+ 1) & mask
        }
    }

    /// True when `address` is the VIP of some service.
    @inlinable @inline(__always)
    func isVIP(_ address: IPAddress) -> Bool {
        var i = hash(address, 0, 0)
        while true {
            let e = vips + i
            if e.pointee.value == 0 { return false }
            if e.pointee.address == address { return true }
            i = (i &+ 1) & mask
        }
    }

    /// The slot of the group or port-0 service that takes (proto, address, port), or -1. The
    /// first entry in order wins: group ranges come before port-0 services (IPVS checks the fwmark
    /// table first and the port-0 catch-all last).
    @inlinable
    func lookupWide(_ proto: UInt8, _ address: IPAddress, _ port: UInt16) -> Int {
        let n = wideCount.pointee
        var i = 0
        while i < n {
            let e = wide + i
            if e.pointee.address == address && e.pointee.proto == proto && e.pointee.low <= port
                && port <= e.pointee.high
            {
                return Int(e.pointee.slot)
            }
            i &+= 1
        }
        return -1
    }

    /// Room for wide entries (group ranges plus port-0 services).
    var wideLimit: Int { wideCapacity }

    /// Replaces the contents with `keys` (slot for each exact key) and `wideEntries` (in order).
    func rebuild(_ keys: [(ServiceKey, Int)], wideEntries: [(ServiceMatch, Int)] = []) {
        let n = mask + 1
        let empty = Entry(address: .zero, port: 0, proto: 0, value: 0)
        services.update(repeating: empty, count: n)
        vips.update(repeating: empty, count: n)
        for (key, slot) in keys {
            var i = hash(key.address, key.port, key.proto.rawValue)
            while services[i].value != 0 { i = (i + 1) & mask }
            services[i] = Entry(address: key.address, port: key.port, proto: key.proto.rawValue, value: UInt16(slot + 1))
            var j = hash(key.address, 0, 0)
            while vips[j].value != 0 && vips[j].address != key.address { j = (j + 1) & mask }
            if vips[j].value == 0 { vips[j] = Entry(address: key.address, port: 0, proto: 0, value: 1) }
        }
        precondition(wideEntries.count <= wideCapacity, "validated by the caller")
        for (k, (m, slot)) in wideEntries.enumerated() {
            wide[k] = WideEntry(
                address: m.address, low: m.ports.lowerBound, high: m.ports.upperBound, proto: m.proto.rawValue,
                slot: UInt16(slot))
            var j = hash(m.address, 0, 0)
            while vips[j].value != 0 && vips[j].address != m.address { j = (j + 1) & mask }
            if vips[j].value == 0 { vips[j] = Entry(address: m.address, port: 0, proto: 0, value: 1) }
        }
        wideCount.pointee = wideEntries.count
    }
}
