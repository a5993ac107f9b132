import LVSPacket

// The control plane's view of a Director: services and real servers, with ipvsadm's semantics
// and error messages. Called between batches, never concurrently with `process`.
extension Director {
    func slot(of key: ServiceKey) -> Int? {
        if !key.isGroup && key.port != 0 {
            let s = index.lookup(key.proto.rawValue, key.address, key.port)
            return s >= 0 ? s : nil
        }
        return records.firstIndex { $0?.key == key }
    }

    func rebuildIndex() {
        let live = records.compactMap { $0 }
        let exact = live.filter { !$0.key.isGroup && $0.key.port != 0 }.map { ($0.key, $0.slot) }
        index.rebuild(exact, wideEntries: Director.wideEntries(live.map { ($0.key, $0.matches, $0.slot) }))
    }

    /// Group ranges (in mark order), then port-0 services: the order `lookupWide` tries them.
    static func wideEntries(_ services: [(ServiceKey, [ServiceMatch], Int)]) -> [(ServiceMatch, Int)] {
        let groups = services.filter { $0.0.isGroup }.sorted { $0.0.fwmark < $1.0.fwmark }
        let portZero = services.filter { !$0.0.isGroup && $0.0.port == 0 }
        return groups.flatMap { g in g.1.map { ($0, g.2) } }
            + portZero.map { (ServiceMatch($0.0.proto, $0.0.address, ports: 0...65535), $0.2) }
    }

    /// Checks that `spec` can join the services other than `exceptSlot`: a group's ranges may not
    /// overlap another group's ranges or take a port of an address service (each packet belongs to
    /// exactly one service), and the wide table has room.
    func validatePlacement(_ spec: ServiceSpec, exceptSlot: Int?) throws(DirectorError) {
        let others = records.compactMap { $0 }.filter { $0.slot != exceptSlot }
        let key = spec.key
        if key.isGroup {
            for (i, m) in spec.matches.enumerated() {
                guard m.address.isIPv4 == key.address.isIPv4 else {
                    throw .invalid("group entry \(m) is not of the group's address family")
                }
                for n in spec.matches[..<i] where n.proto == m.proto && n.address == m.address && n.ports.overlaps(m.ports) {
                    throw .invalid("group entries \(n) and \(m) overlap")
                }
                for o in others {
                    if o.key.isGroup {
                        if let n = o.matches.first(where: {
                            $0.proto == m.proto && $0.address == m.address && $0.ports.overlaps(m.ports)
                        }) {
                            throw .invalid("group entry \(m) overlaps \(n) of \(o.key)")
                        }
                    } else if o.key.port != 0 && o.key.proto == m.proto && o.key.address == m.address
                        && m.ports.contains(o.key.port)
                    {
                        throw .invalid("group entry \(m) overlaps the service \(o.key)")
                    }
                }
            }
        } else if key.port != 0 {
            for o in others where o.key.isGroup {
                if let n = o.matches.first(where: { $0.proto == key.proto && $0.address == key.address && $0.ports.contains(key.port) }) {
                    throw .invalid("the service \(key) overlaps group entry \(n) of \(o.key)")
                }
            }
        }
        var wide = others.map { ($0.key, $0.matches, $0.slot) }
        wide.append((key, spec.matches, -1))
        guard Director.wideEntries(wide).count <= index.wideLimit else {
            throw .invalid("too many group entries and port-0 services (at most \(index.wideLimit))")
        }
    }

    /// Copies a spec's group entries, one-packet flag and UDP timeout into the service's record and
    /// the arrays the packet path reads.
    func applyServiceOptions(_ spec: ServiceSpec, _ record: ServiceRecord) {
        record.matches = spec.key.isGroup ? spec.matches : []
        record.onePacket = spec.onePacket
        record.udpTimeout = spec.udpTimeout
        serviceFlags[record.slot] = spec.onePacket ? ServiceFlag.onePacket : 0
        serviceUDPTimeouts[record.slot] = spec.udpTimeout ?? 0
        let mark = UInt64(spec.key.fwmark)
        record.templateAddress = spec.key.isGroup
            ? (spec.key.address.isIPv4 ? IPAddress(v4: UInt32(mark)) : IPAddress(hi: 0, lo: mark)) : nil
        record.templateWildPort = spec.key.isGroup || spec.key.port == 0
    }

    /// ipvsadm -A.
    public func addService(_ spec: ServiceSpec) throws(DirectorError) {
        guard slot(of: spec.key) == nil else { throw .serviceExists }
        try validateFlags(spec)
        try validatePlacement(spec, exceptSlot: nil)
        guard let scheduler = SchedulerRegistry.make(spec.scheduler) else { throw .schedulerNotFound(spec.scheduler) }
        guard let free = records.firstIndex(where: { $0 == nil }) else { throw .tooManyServices }
        scheduler.flags = spec.schedulerFlags
        let record = ServiceRecord(
            key: spec.key, slot: free, schedulerName: spec.scheduler, scheduler: scheduler,
            schedulerFlags: spec.schedulerFlags)
        records[free] = record
        setPersistence(spec.persistence, record)
        applyServiceOptions(spec, record)
        record.virtualPortRange = spec.virtualPortRange
        record.localAddresses = spec.localAddresses
        record.clientAddress = spec.clientAddress
        serviceStats[free] = TrafficCounters()
        rebuildIndex()
        refreshVirtualPorts(spec.key.address)
    }

    /// ipvsadm -E: changes the scheduler and its flags; existing connections keep their servers.
    /// The same scheduler keeps its state (IPVS rebinds only a different scheduler); new flags
    /// apply from the next connection.
    public func editService(_ spec: ServiceSpec) throws(DirectorError) {
        guard let s = slot(of: spec.key), let record = records[s] else { throw .noSuchService }
        try validateFlags(spec)
        try validatePlacement(spec, exceptSlot: s)
        if spec.localAddresses.isEmpty && record.destSlots.contains(where: { dests[Int($0)].method == .fullNAT }) {
            throw .invalid("the service has FULLNAT real servers: it needs local addresses (--laddr)")
        }
        setPersistence(spec.persistence, record)
        applyServiceOptions(spec, record)
        record.virtualPortRange = spec.virtualPortRange
        record.localAddresses = spec.localAddresses
        record.clientAddress = spec.clientAddress
        refreshVirtualPorts(spec.key.address)
        rebuildIndex()
        guard record.schedulerName != spec.scheduler else {
            record.schedulerFlags = spec.schedulerFlags
            record.scheduler.flags = spec.schedulerFlags
            return
        }
        guard let scheduler = SchedulerRegistry.make(spec.scheduler) else { throw .schedulerNotFound(spec.scheduler) }
        scheduler.flags = spec.schedulerFlags
        record.scheduler = scheduler
        record.schedulerName = spec.scheduler
        record.schedulerFlags = spec.schedulerFlags
        notify(record, .reset)
    }

    /// ipvsadm -D: removes the service, its servers and its connections.
    public func removeService(_ key: ServiceKey) throws(DirectorError) {
        guard let s = slot(of: key), let record = records[s] else { throw .noSuchService }
        // Connections first, then the templates they point at.
        expireConnections { $0.service == UInt16(s) && $0.flags & Connection.flagTemplate == 0 }
        expireConnections { $0.service == UInt16(s) }
        persistTimeouts[s] = 0
        serviceFlags[s] = 0
        serviceUDPTimeouts[s] = 0
        for ds in record.destSlots {
            dests[Int(ds)] = DestinationState()
            freeDestSlots.append(ds)
        }
        records[s] = nil
        virtualPorts[s] = VirtualPortRange()
        rebuildIndex()
        refreshVirtualPorts(key.address)
    }

    /// ipvsadm -C.
    public func flush() {
        for case let record? in records { try? removeService(record.key) }
    }

    /// ipvsadm -a. A server removed while connections still used it comes back with its counters.
    public func addDestination(_ spec: DestinationSpec, to key: ServiceKey) throws(DirectorError) {
        guard let s = slot(of: key), let record = records[s] else { throw .serviceNotDefined }
        try validate(spec, key)
        if spec.method == .fullNAT && record.localAddresses.isEmpty {
            throw .invalid("a FULLNAT real server needs local addresses on its service (--laddr)")
        }
        guard position(of: spec.address, spec.port, in: record) == nil else { throw .destinationExists }
        var ds: UInt32
        if let trashed = (0..<destHighWater).first(where: {
            let d = dests[$0]
            return d.flags & DestinationState.flagInUse != 0 && !d.isAvailable && d.service == UInt16(s)
                && d.address == spec.address && d.port == spec.port
        }) {
            ds = UInt32(trashed)
        } else if let free = freeDestSlots.popLast() {
            ds = free
            dests[Int(ds)] = DestinationState()
        } else {
            guard destHighWater < configuration.maxDestinations else { throw .tooManyDestinations }
            ds = UInt32(destHighWater)
            destHighWater += 1
            dests[Int(ds)] = DestinationState()
        }
        let d = dests + Int(ds)
        d.pointee.address = spec.address
        d.pointee.port = spec.port
        d.pointee.service = UInt16(s)
        d.pointee.flags = (d.pointee.flags & DestinationState.flagOverload) | DestinationState.flagInUse
            | DestinationState.flagAvailable
        apply(spec, to: d)
        record.destSlots.append(ds)
        refreshVirtualPorts(key.address)
        notify(record, .added(position: record.destSlots.count - 1))
    }

    /// ipvsadm -e.
    public func editDestination(_ spec: DestinationSpec, in key: ServiceKey) throws(DirectorError) {
        guard let s = slot(of: key), let record = records[s] else { throw .serviceNotDefined }
        try validate(spec, key)
        guard let pos = position(of: spec.address, spec.port, in: record) else { throw .noSuchDestination }
        if spec.method == .fullNAT && record.localAddresses.isEmpty {
            throw .invalid("a FULLNAT real server needs local addresses on its service (--laddr)")
        }
        let d = dests + Int(record.destSlots[pos])
        // IPVS clears OVERLOAD when the upper threshold is removed or raised.
        if spec.upperThreshold == 0 || spec.upperThreshold > d.pointee.upperThreshold {
            d.pointee.flags &= ~DestinationState.flagOverload
        }
        apply(spec, to: d)
        refreshVirtualPorts(key.address)
        notify(record, .edited(position: pos))
    }

    /// ipvsadm -d. Connections to the server are dropped on their next packet (expire_nodest_conn)
    /// or time out; its slot is freed when none is left.
    public func removeDestination(address: IPAddress, port: UInt16, from key: ServiceKey) throws(DirectorError) {
        guard let s = slot(of: key), let record = records[s] else { throw .serviceNotDefined }
        guard let pos = position(of: address, port, in: record) else { throw .noSuchDestination }
        let ds = record.destSlots.remove(at: pos)
        let d = dests + Int(ds)
        d.pointee.flags &= ~DestinationState.flagAvailable
        if d.pointee.references == 0 {
            d.pointee = DestinationState()
            freeDestSlots.append(ds)
        } else {
            removedDestinationsPending += 1
        }
        refreshVirtualPorts(key.address)
        notify(record, .removed(position: pos))
    }

    /// ipvsadm -Z: zeroes the counters of one service (and its servers), or of all.
    public func zeroCounters(_ key: ServiceKey? = nil) throws(DirectorError) {
        for case let record? in records where key == nil || record.key == key {
            serviceStats[record.slot] = TrafficCounters()
            for ds in record.destSlots { dests[Int(ds)].stats = TrafficCounters() }
        }
        if let key, slot(of: key) == nil { throw .noSuchService }
    }

    /// ipvsadm --set tcp tcpfin udp (seconds; 0 = unchanged). Applies to packets from now on.
    public func setTimeouts(tcp: UInt64, tcpfin: UInt64, udp: UInt64) {
        var t = currentTimeouts
        t.set(tcp: tcp, tcpfin: tcpfin, udp: udp)
        for i in 0..<t.tcp.count { tcpTimeouts[i] = t.tcp[i] }
        udpTimeout = t.udp
    }

    /// Replaces every timeout (all TCP states and UDP); applies to packets from now on.
    public func setTimeouts(_ t: Timeouts) {
        for i in 0..<t.tcp.count { tcpTimeouts[i] = t.tcp[i] }
        udpTimeout = t.udp
    }

    public var currentTimeouts: Timeouts {
        Timeouts(tcp: (0..<TCPState.allCases.count).map { tcpTimeouts[$0] }, udp: udpTimeout)
    }

    // MARK: Helpers

    /// Turns persistence on, off or changes it in place (ipvsadm -E): existing templates keep
    /// their destinations and expiry; the new timeout and mask apply to templates made from now on.
    /// Templates of a service whose persistence is turned off expire on their timers.
    func setPersistence(_ p: Persistence?, _ record: ServiceRecord) {
        record.persistence = p
        record.persistMask = p?.mask(ipv4: record.key.address.isIPv4) ?? IPAddress(hi: .max, lo: .max)
        persistTimeouts[record.slot] = p?.timeout ?? 0
    }

    func validateFlags(_ spec: ServiceSpec) throws(DirectorError) {
        if let p = spec.persistence {
            guard Persistence.timeoutRange.contains(p.timeout) else {
                throw .invalid("persistence timeout must be 1 s .. 31 days")
            }
            guard spec.key.port != 21 || spec.key.isGroup else {
                throw .invalid("persistent FTP services (port 21) are not supported: SwiftLVS has no FTP helper")
            }
            guard (0...128).contains(p.prefixLength) else { throw .invalid("illegal ipv6 netmask specified") }
        }
        if !spec.key.isGroup && spec.key.port == 0 && spec.persistence == nil {
            throw .invalid("a port-0 (all ports) service must be persistent")
        }
        if spec.onePacket && !spec.key.isGroup && spec.key.proto != .udp {
            throw .invalid("one-packet scheduling is only for UDP services and groups")
        }
        if let t = spec.udpTimeout, !(1000...(31 * 86_400_000)).contains(t) {
            throw .invalid("UDP timeout must be 1 s .. 31 days")
        }
        try validateVirtualPortRange(spec.virtualPortRange)
        try validateLocalAddresses(spec)
        guard spec.schedulerFlags & ~SchedulerFlags.all == 0 else {
            throw .invalid("scheduler flags must be a combination of SCHED1, SCHED2 and SCHED3 (0x38)")
        }
    }

    func validate(_ spec: DestinationSpec, _ key: ServiceKey) throws(DirectorError) {
        guard (0...65535).contains(spec.weight) else { throw .invalid("weight must be 0..65535") }
        guard spec.address.isIPv4 == key.address.isIPv4 else {
            throw .invalid("real server and virtual service must be of the same address family")
        }
        guard spec.lowerThreshold <= spec.upperThreshold || spec.upperThreshold == 0 else {
            throw .invalid("lower threshold must not exceed the upper threshold")
        }
        if (spec.method == .fullNAT || spec.method == .doubleNAT) && (key.isGroup || key.port == 0) {
            // Their port pools belong to one (VIP, service port); a group or port-0 service has neither.
            throw .invalid("FULLNAT and Double-NAT real servers need an address service (protocol, VIP, port), not a group or port-0 service")
        }
    }

    func apply(_ spec: DestinationSpec, to d: UnsafeMutablePointer<DestinationState>) {
        d.pointee.weight = spec.weight
        d.pointee.upperThreshold = spec.upperThreshold
        d.pointee.lowerThreshold = spec.lowerThreshold
        d.pointee.method = spec.method
        d.pointee.tunnel = spec.tunnel
    }

    func position(of address: IPAddress, _ port: UInt16, in record: ServiceRecord) -> Int? {
        record.destSlots.firstIndex { dests[Int($0)].address == address && dests[Int($0)].port == port }
    }

    func notify(_ record: ServiceRecord, _ change: DestinationChange) {
        let states = UnsafePointer(dests)
        record.destSlots.withUnsafeBufferPointer {
            record.scheduler.update(DestinationList(states: states, slots: $0), change: change)
        }
    }

    /// Expires every connection matching `predicate` (a full table scan: control plane only).
    func expireConnections(where predicate: (Connection) -> Bool) {
        for i in 0..<table.capacity {
            let c = table.entries[i]
            if c.flags & Connection.flagInUse != 0 && predicate(c) { expireNow(UInt32(i)) }
        }
    }
}
