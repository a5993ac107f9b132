import LVSPacket

/// Advice for a freshly allocated, 2 MiB-aligned region of `bytes` bytes.
public typealias MemoryAdvisor = @Sendable (UnsafeMutableRawPointer, Int) -> Void

/// Start-up settings of a `Director`: table sizes are fixed here, nothing grows later.
public struct DirectorConfiguration: Sendable {
    /// Connections the table holds; a full table refuses new connections, never evicts.
    public var connectionCapacity: Int
    public var maxServices: Int
    public var maxDestinations: Int
    /// Seeds the connection hash and the generator behind randomised schedulers.
    public var seed: UInt64
    public var timeouts: Timeouts
    /// Drop and expire a connection whose real server was removed as soon as a packet hits it
    /// (IPVS's expire_nodest_conn, off by default there, on here: see spec section 9).
    public var expireNodestConn: Bool
    /// Answer ICMP port-unreachable when a service has no usable real server (IPVS ip_vs_leave).
    public var icmpOnNoDestination: Bool
    /// A persistence template whose server has weight 0 is invalid (IPVS expire_quiescent_template,
    /// off by default as in IPVS: quiesced servers keep their persistent clients).
    public var expireQuiescentTemplate: Bool
    /// Called once for each large table allocation before it is first touched, so the caller can
    /// advise the kernel (e.g. madvise(MADV_HUGEPAGE)); the engine itself makes no system calls.
    public var memoryAdvisor: MemoryAdvisor?

    public init(connectionCapacity: Int = 1 << 20, maxServices: Int = 1024, maxDestinations: Int = 16384,
                seed: UInt64 = 0x5357_4c56_5331, timeouts: Timeouts = .ipvsDefaults,
                expireNodestConn: Bool = true, icmpOnNoDestination: Bool = true, expireQuiescentTemplate: Bool = false,
                memoryAdvisor: MemoryAdvisor? = nil) {
        self.expireQuiescentTemplate = expireQuiescentTemplate
        self.connectionCapacity = connectionCapacity
        self.maxServices = maxServices
        self.maxDestinations = maxDestinations
        self.seed = seed
        self.timeouts = timeouts
        self.expireNodestConn = expireNodestConn
        self.icmpOnNoDestination = icmpOnNoDestination
        self.memoryAdvisor = memoryAdvisor
    }
}

/// The director: virtual services, real servers, the connection table, and the per-packet entry
/// point `process`. One instance per worker thread (share-nothing); not thread-safe.
///
/// Pure: no I/O, no clock, no randomness of its own. `process` rewrites a frame in place and says
/// what to do with it; `advance(to:)` expires connections. Control-plane methods (add/edit/remove
/// services and servers) are called between batches.
public final class Director {
    public let configuration: DirectorConfiguration
    @usableFromInline var table: ConnectionTable
    @usableFromInline let index: ServiceIndex
    var records: [ServiceRecord?]
    @usableFromInline let serviceStats: UnsafeMutablePointer<TrafficCounters>
    @usableFromInline let dests: UnsafeMutablePointer<DestinationState>
    var destHighWater = 0
    var freeDestSlots: [UInt32] = []
    /// Removed destinations still referenced by connections (their slots await reaping).
    var removedDestinationsPending = 0
    /// Hot counters: drops by reason, then the `Counter` indices.
    @usableFromInline let hot: UnsafeMutablePointer<UInt64>
    @usableFromInline let stateTable: UnsafeMutablePointer<UInt8>
    @usableFromInline let tcpTimeouts: UnsafeMutablePointer<UInt64>
    @usableFromInline var udpTimeout: UInt64
    /// Persistence timeout (ms) per service slot; 0 = not persistent.
    @usableFromInline let persistTimeouts: UnsafeMutablePointer<UInt64>
    /// Per service slot: its own UDP timeout in ms (0 = the global `udpTimeout`).
    @usableFromInline let serviceUDPTimeouts: UnsafeMutablePointer<UInt64>
    /// Per service slot: `ServiceFlag` bits the packet path reads.
    @usableFromInline let serviceFlags: UnsafeMutablePointer<UInt8>
    @usableFromInline var rng: UInt64
    /// IPVS's expire_quiescent_template, settable at run time (starts as the configuration's).
    public var expireQuiescentTemplate: Bool
    /// Double-NAT vdport range and pool per service slot (Director+VirtualPorts.swift).
    @usableFromInline let virtualPorts: UnsafeMutablePointer<VirtualPortRange>
    /// The shared port counts of each VIP that has Double-NAT real servers, and of each FULLNAT
    /// local address (control plane only; the packet path sees the raw pointers).
    var virtualPortPools: [IPAddress: VirtualPortCounts] = [:]
    /// FULLNAT: LIP indices of each service (`maxLocalAddressesPerService` per service slot).
    @usableFromInline let serviceLocalAddresses: UnsafeMutablePointer<UInt16>
    /// FULLNAT: each LIP's port holder counts, by LIP index.
    @usableFromInline let localPortCounts: UnsafeMutablePointer<UnsafeMutablePointer<UInt16>?>
    /// FULLNAT: LIP address -> index in `table.localAddresses` (control plane only).
    var localAddressSlots: [IPAddress: UInt16] = [:]
    /// LIP slots given back by `reclaimLocalAddressSlots`, and the next never-used slot.
    var freeLocalAddressSlots: [UInt16] = []
    var nextLocalAddressSlot = 0
    /// How many LIP slots may be in use (the table's 4,096; tests lower it).
    var localAddressLimit = ConnectionTable.maxLocalAddresses
    /// Where batch warming stores what it loaded, so the loads are not optimised away.
    @usableFromInline var warmSink: UInt32 = 0
    /// Outer source addresses and MTU for VS/TUN, given by the data plane (`setTunnelPath`).
    @usableFromInline var tunnelPath = TunnelPath()

    @usableFromInline enum Counter {
        @usableFromInline static let base = DropReason.allCases.count
        @usableFromInline static let toRealServer = base
        @usableFromInline static let toClient = base + 1
        @usableFromInline static let replies = base + 2
        @usableFromInline static let notOurs = base + 3
        @usableFromInline static let created = base + 4
        @usableFromInline static let expired = base + 5
        @usableFromInline static let reused = base + 6
        /// Frag-needed / packet-too-big answers for VS/TUN (also counted in `replies`).
        @usableFromInline static let fragmentationNeeded = base + 7
        @usableFromInline static let count = base + 8
    }

    @usableFromInline enum ServiceFlag {
        /// One-packet scheduling (ipvsadm -o).
        @usableFromInline static let onePacket: UInt8 = 1
    }

    /// IPVS's provisional timeout of a connection before its first state change.
    @usableFromInline static let initialTimeout: UInt64 = 3000

    public init(_ configuration: DirectorConfiguration = DirectorConfiguration(), now: Timestamp = Timestamp(milliseconds: 0)) {
        self.configuration = configuration
        table = ConnectionTable(
            capacity: configuration.connectionCapacity, seed: configuration.seed, now: now,
            advise: configuration.memoryAdvisor)
        index = ServiceIndex(maxServices: configuration.maxServices)
        records = Array(repeating: nil, count: configuration.maxServices)
        serviceStats = .allocate(capacity: configuration.maxServices)
        serviceStats.initialize(repeating: TrafficCounters(), count: configuration.maxServices)
        dests = .allocate(capacity: configuration.maxDestinations)
        dests.initialize(repeating: DestinationState(), count: configuration.maxDestinations)
        freeDestSlots.reserveCapacity(configuration.maxDestinations)
        hot = .allocate(capacity: Counter.count)
        hot.initialize(repeating: 0, count: Counter.count)
        stateTable = .allocate(capacity: TCPStateMachine.table.count)
        stateTable.initialize(from: TCPStateMachine.table, count: TCPStateMachine.table.count)
        tcpTimeouts = .allocate(capacity: TCPState.allCases.count)
        tcpTimeouts.initialize(from: configuration.timeouts.tcp, count: TCPState.allCases.count)
        udpTimeout = configuration.timeouts.udp
        persistTimeouts = .allocate(capacity: configuration.maxServices)
        persistTimeouts.initialize(repeating: 0, count: configuration.maxServices)
        serviceUDPTimeouts = .allocate(capacity: configuration.maxServices)
        serviceUDPTimeouts.initialize(repeating: 0, count: configuration.maxServices)
        serviceFlags = .allocate(capacity: configuration.maxServices)
        serviceFlags.initialize(repeating: 0, count: configuration.maxServices)
        rng = configuration.seed | 1
        expireQuiescentTemplate = configuration.expireQuiescentTemplate
        virtualPorts = .allocate(capacity: configuration.maxServices)
        virtualPorts.initialize(repeating: VirtualPortRange(), count: configuration.maxServices)
        serviceLocalAddresses = .allocate(capacity: configuration.maxServices * Director.maxLocalAddressesPerService)
        serviceLocalAddresses.initialize(repeating: 0, count: configuration.maxServices * Director.maxLocalAddressesPerService)
        localPortCounts = .allocate(capacity: ConnectionTable.maxLocalAddresses)
        localPortCounts.initialize(repeating: nil, count: ConnectionTable.maxLocalAddresses)
    }

    deinit {
        table.deallocate()
        index.deallocate()
        serviceStats.deallocate()
        dests.deallocate()
        hot.deallocate()
        stateTable.deallocate()
        tcpTimeouts.deallocate()
        persistTimeouts.deallocate()
        serviceUDPTimeouts.deallocate()
        serviceFlags.deallocate()
        virtualPorts.deallocate()
        serviceLocalAddresses.deallocate()
        localPortCounts.deallocate()
    }

    // MARK: The per-packet entry point

    /// Decides what to do with one Ethernet frame and rewrites it in place (VS/NAT both ways, ICMP
    /// errors related to a connection, echo replies and port-unreachable answers for VIPs).
    @inlinable
    public func process(_ frame: inout Frame, now: Timestamp) -> Verdict {
        var p = PacketInfo()
        if PacketParser.parse(frame.base, length: frame.length, into: &p) != nil { return drop(.malformed) }
        guard p.isIP else { return notOurs() }
        let proto = p.l4Protocol
        if proto == IPProto.tcp || proto == IPProto.udp {
            if p.fragment != .none { return index.isVIP(p.dst) ? drop(.fragment) : notOurs() }
            let svc = index.lookup(proto, p.dst, p.dstPort)
            if svc >= 0 { return inbound(&frame, p, svc, now) }
            let ci = table.lookupOut(proto, dest: p.src, dport: p.srcPort, client: p.dst, cport: p.dstPort)
            if ci != nilIndex { return outbound(&frame, p, ci, now) }
            guard index.isVIP(p.dst) else { return notOurs() }
            let wide = index.lookupWide(proto, p.dst, p.dstPort)
            return wide >= 0 ? inbound(&frame, p, wide, now) : drop(.noService)
        }
        if (proto == IPProto.icmp && p.isIPv4) || (proto == IPProto.icmpv6 && !p.isIPv4) {
            if p.fragment != .none { return index.isVIP(p.dst) ? drop(.fragment) : notOurs() }
            return icmp(&frame, p, now)
        }
        return index.isVIP(p.dst) ? drop(.noService) : notOurs()
    }

    /// Expires every connection whose timeout passed by `now`; returns how many. Call it between
    /// batches (it does O(ticks elapsed + connections due) work).
    @discardableResult
    public func advance(to now: Timestamp) -> Int {
        let dests = self.dests
        let persistTimeouts = self.persistTimeouts
        let virtualPorts = self.virtualPorts
        let localPortCounts = self.localPortCounts
        let n = table.advance(to: now) { t, i in
            let e = t.entries + Int(i)
            if e.pointee.nControl > 0 {
                // A template with controlled connections cannot expire: re-arm it (IPVS retries).
                e.pointee.expires = now.milliseconds &+ max(persistTimeouts[Int(e.pointee.service)], 1000)
                t.wheelInsert(i)
                return false
            }
            Director.unbind(e, dests)
            Director.releaseVirtualPort(e, virtualPorts, localPortCounts)
            Director.releaseControl(t.entries, e, now.milliseconds, persistTimeouts)
            t.release(i)
            return true
        }
        hot[Counter.expired] &+= UInt64(n)
        if removedDestinationsPending > 0 { reapDestinations() }
        return n
    }

    /// The UDP idle timeout (ms) of service slot `svc`.
    @inlinable @inline(__always)
    func udpTimeout(_ svc: Int) -> UInt64 {
        let t = serviceUDPTimeouts[svc]
        return t != 0 ? t : udpTimeout
    }

    /// Connections currently tracked.
    public var connectionCount: Int { table.count }

    /// Bytes of preallocated table memory per connection of capacity.
    public var tableBytesPerConnection: Double { table.bytesPerConnection }

    // MARK: Verdict helpers

    @inlinable @inline(__always)
    func drop(_ reason: DropReason) -> Verdict {
        hot[Int(reason.rawValue)] &+= 1
        return .drop(reason)
    }

    @inlinable @inline(__always)
    func notOurs() -> Verdict {
        hot[Counter.notOurs] &+= 1
        return .notOurs
    }

    @inlinable @inline(__always)
    func nextRandom() -> UInt64 {
        // xorshift64*: deterministic for a given seed.
        rng ^= rng >> 12
        rng ^= rng << 25
        rng ^= rng >> 27
        return rng &* 0x2545_f491_4f6c_dd1d
    }
}
