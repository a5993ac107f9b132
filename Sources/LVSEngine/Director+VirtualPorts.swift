import LVSPacket

// Control-plane upkeep of the Double-NAT vdport pools (double-nat.md section 4.2): one pool of
// holder counts per VIP, created when the VIP gets its first Double-NAT real server; every service
// on the VIP sees it through its own range, cursor and per-port holder limit.
extension Director {
    /// Recomputes the pool of `vip` after any change to its services or real servers: creates it
    /// when needed, re-marks the VIP's service ports as excluded, refreshes each service's range
    /// and limit, and frees it when the VIP has no service left (its connections are gone by then).
    func refreshVirtualPorts(_ vip: IPAddress) {
        let onVIP = records.compactMap { $0 }.filter { $0.key.address == vip }
        var doubleNATServers = 0
        for r in onVIP {
            for ds in r.destSlots where dests[Int(ds)].method == .doubleNAT { doubleNATServers += 1 }
        }
        if onVIP.isEmpty {
            virtualPortPools[vip] = nil
            return
        }
        if virtualPortPools[vip] == nil && doubleNATServers > 0 { virtualPortPools[vip] = VirtualPortCounts() }
        guard let pool = virtualPortPools[vip] else { return }
        pool.setExcluded(onVIP.map { $0.key.port })
        for r in onVIP {
            let v = virtualPorts + r.slot
            v.pointee.counts = pool.counts
            v.pointee.excluded = pool.excluded
            v.pointee.low = r.virtualPortRange.lowerBound
            v.pointee.high = r.virtualPortRange.upperBound
            if !r.virtualPortRange.contains(v.pointee.cursor) { v.pointee.cursor = r.virtualPortRange.lowerBound }
            v.pointee.limit = UInt16(min(doubleNATServers, Int(UInt16.max) - 1))
        }
    }

    func validateVirtualPortRange(_ range: ClosedRange<UInt16>) throws(DirectorError) {
        guard range.lowerBound >= 1 else { throw .invalid("the Double-NAT port range must start at 1 or above") }
    }

    /// Double-NAT ports held in the VIP's pool (the sum of the per-port holder counts).
    public func virtualPortsHeld(_ vip: IPAddress) -> Int { virtualPortPools[vip]?.held ?? 0 }
}
