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
        for r in onVIP { assignLocalAddresses(r) }
        if onVIP.isEmpty {
            // (an address that is also some service's LIP keeps its pool: LIP pools live on)
            if localAddressSlots[vip] == nil { virtualPortPools[vip] = nil }
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

    /// Points service `r`'s LIP list at the LIPs' slots and pools, creating them on first use.
    /// LIP slots and pools are never freed (connections may still count in them); at most
    /// `ConnectionTable.maxLocalAddresses` distinct LIPs over the director's life.
    func assignLocalAddresses(_ r: ServiceRecord) {
        let base = r.slot * Director.maxLocalAddressesPerService
        var n = 0
        for lip in r.localAddresses.prefix(Director.maxLocalAddressesPerService) {
            let slot: UInt16
            if let s = localAddressSlots[lip] {
                slot = s
            } else {
                guard localAddressSlots.count < ConnectionTable.maxLocalAddresses else { continue }
                slot = UInt16(localAddressSlots.count)
                localAddressSlots[lip] = slot
                table.localAddresses[Int(slot)] = lip
            }
            let pool = virtualPortPools[lip] ?? VirtualPortCounts()
            virtualPortPools[lip] = pool
            localPortCounts[Int(slot)] = pool.counts
            serviceLocalAddresses[base + n] = slot
            n += 1
        }
        let v = virtualPorts + r.slot
        v.pointee.lipCount = UInt16(n)
        v.pointee.proxyV2 = r.clientAddress == .proxyV2 && r.key.proto == .tcp
        v.pointee.toa = r.clientAddress == .toa && r.key.proto == .tcp
        if v.pointee.lipCursor >= UInt16(max(n, 1)) { v.pointee.lipCursor = 0 }
        v.pointee.low = r.virtualPortRange.lowerBound
        v.pointee.high = r.virtualPortRange.upperBound
        if !r.virtualPortRange.contains(v.pointee.cursor) { v.pointee.cursor = r.virtualPortRange.lowerBound }
    }

    func validateLocalAddresses(_ spec: ServiceSpec) throws(DirectorError) {
        if spec.clientAddress != .none && spec.key.proto != .tcp {
            throw .invalid("client addresses (PROXY protocol v2, TOA) are for TCP services only")
        }
        guard spec.localAddresses.count <= Director.maxLocalAddressesPerService else {
            throw .invalid("at most \(Director.maxLocalAddressesPerService) local addresses per service")
        }
        for lip in spec.localAddresses where lip.isIPv4 != spec.key.address.isIPv4 {
            throw .invalid("local address \(lip) and virtual service must be of the same address family")
        }
        let new = Set(spec.localAddresses).subtracting(localAddressSlots.keys).count
        guard localAddressSlots.count + new <= ConnectionTable.maxLocalAddresses else {
            throw .invalid("too many distinct local addresses (at most \(ConnectionTable.maxLocalAddresses))")
        }
    }

    /// Every service's FULLNAT local addresses: the data plane answers ARP/NDP for them (the
    /// real servers' replies are addressed to them) and the kernel must not see those replies.
    public var localAddresses: [IPAddress] {
        var seen = Set<IPAddress>()
        return records.compactMap { $0 }.flatMap(\.localAddresses).filter { seen.insert($0).inserted }
    }

    func validateVirtualPortRange(_ range: ClosedRange<UInt16>) throws(DirectorError) {
        guard range.lowerBound >= 1 else { throw .invalid("the Double-NAT port range must start at 1 or above") }
    }

    /// Double-NAT ports held in the VIP's pool (the sum of the per-port holder counts).
    public func virtualPortsHeld(_ vip: IPAddress) -> Int { virtualPortPools[vip]?.held ?? 0 }
}
