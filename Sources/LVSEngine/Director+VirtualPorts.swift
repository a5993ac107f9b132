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
    /// At most `ConnectionTable.maxLocalAddresses` (4,096) LIPs have a slot at a time; when they are all
    /// taken, the slots of LIPs that no service lists and no connection holds a port of are
    /// reclaimed (`reclaimLocalAddressSlots`).
    func assignLocalAddresses(_ r: ServiceRecord) {
        let base = r.slot * Director.maxLocalAddressesPerService
        var n = 0
        for lip in r.localAddresses.prefix(Director.maxLocalAddressesPerService) {
            let slot: UInt16
            if let s = localAddressSlots[lip] {
                slot = s
            } else {
                guard let s = takeLocalAddressSlot() else { continue }
                slot = s
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

    /// A slot for a new LIP: a given-back one, a never-used one, or one reclaimed now.
    func takeLocalAddressSlot() -> UInt16? {
        if freeLocalAddressSlots.isEmpty && nextLocalAddressSlot >= localAddressLimit {
            reclaimLocalAddressSlots()
        }
        if let s = freeLocalAddressSlots.popLast() { return s }
        guard nextLocalAddressSlot < localAddressLimit else { return nil }
        nextLocalAddressSlot += 1
        return UInt16(nextLocalAddressSlot - 1)
    }

    /// Gives back the slots (and pools) of LIPs that no service lists any more and in whose pool
    /// no connection holds a port: a FULLNAT connection holds a port of its LIP for its whole
    /// life, so no entry refers to such a slot. Runs only when the slots run out, because it
    /// reads the 65,536 holder counts of every unlisted LIP.
    func reclaimLocalAddressSlots() {
        let listed = Set(records.compactMap { $0 }.flatMap(\.localAddresses))
        let vips = Set(records.compactMap { $0?.key.address })
        for (lip, slot) in localAddressSlots where !listed.contains(lip) {
            guard virtualPortPools[lip]?.isUnheld ?? true else { continue }
            localAddressSlots[lip] = nil
            localPortCounts[Int(slot)] = nil
            table.localAddresses[Int(slot)] = .zero
            // (an address that is also a VIP keeps its pool: refreshVirtualPorts owns that one)
            if !vips.contains(lip) { virtualPortPools[lip] = nil }
            freeLocalAddressSlots.append(slot)
        }
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
        if localAddressSlots.count + new > localAddressLimit { reclaimLocalAddressSlots() }
        guard localAddressSlots.count + new <= localAddressLimit else {
            throw .invalid("too many local addresses in use (at most \(localAddressLimit); "
                + "an address no service lists any more stays in use while connections hold its ports)")
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
