import LVSPacket

/// A scheduling algorithm: picks a real server for a new connection, with IPVS semantics.
///
/// One instance per virtual service, so state such as round-robin cursors lives in the instance.
/// Schedulers see the service's servers as positions 0..<count in list order (new servers are
/// appended, as IPVS appends to its list), which is what the tie-breaking rules refer to. Adding
/// a scheduler is one file with a conforming class plus one line in `SchedulerRegistry`.
public protocol Scheduler: AnyObject {
    /// The name used by `-s` and `lb_algo` ("rr", "wlc", ...).
    static var name: String { get }
    init()
    /// The service's scheduler flags (`SchedulerFlags`: IPVS's IP_VS_SVC_F_SCHED1..3). Only sh and
    /// mh read them; the default implementation ignores them. The Director sets them before the
    /// first `update` and again on every `editService`.
    var flags: UInt32 { get set }
    /// Called after the service's server list changed (add, edit or remove) so the scheduler can
    /// recompute derived state; `change` says what happened at which position.
    func update(_ servers: DestinationList, change: DestinationChange)
    /// The position of the chosen server, or nil when none may take a new connection.
    func schedule(_ servers: DestinationList, _ input: SchedulingInput) -> Int?
}

extension Scheduler {
    /// Schedulers that read no flags need not store them (the service record keeps them).
    public var flags: UInt32 {
        get { 0 }
        set {}
    }
}

/// IPVS's scheduler flags on a service (include/uapi/linux/ip_vs.h). ipvsadm names them
/// `sh-fallback`/`sh-port` for sh, `mh-fallback`/`mh-port` for mh, `flag-1..3` otherwise.
public enum SchedulerFlags {
    /// IP_VS_SVC_F_SCHED1: sh and mh "fallback" (probe on when the hashed server is unavailable).
    public static let sched1: UInt32 = 0x0008
    /// IP_VS_SVC_F_SCHED2: sh and mh "port" (hash the source port too, for TCP, UDP and SCTP).
    public static let sched2: UInt32 = 0x0010
    /// IP_VS_SVC_F_SCHED3: no scheduler reads it.
    public static let sched3: UInt32 = 0x0020
    /// Every scheduler flag.
    public static let all: UInt32 = sched1 | sched2 | sched3
    public static let fallback: UInt32 = sched1
    public static let port: UInt32 = sched2
}

/// What changed in a service's server list.
public enum DestinationChange: Sendable, Equatable {
    case added(position: Int)
    case edited(position: Int)
    /// The server that was at `position` is gone; later ones moved down by one.
    case removed(position: Int)
    /// Recompute everything (e.g. a new scheduler instance taking over a populated service).
    case reset
}

/// The fields of a new connection that hashing schedulers key on.
@frozen
public struct SchedulingInput: Sendable {
    public var proto: UInt8
    public var clientAddress: IPAddress
    public var clientPort: UInt16
    public var virtualAddress: IPAddress
    public var virtualPort: UInt16
    /// A fresh pseudo-random value from the engine's generator (the engine has no entropy source
    /// of its own: the generator is seeded by the caller).
    public var random: UInt64
    /// The time of the packet (lblc/lblcr: entry use times, expiry and garbage collection).
    public var now: Timestamp

    public init(proto: UInt8, clientAddress: IPAddress, clientPort: UInt16, virtualAddress: IPAddress,
                virtualPort: UInt16, random: UInt64, now: Timestamp = Timestamp(milliseconds: 0)) {
        self.proto = proto
        self.clientAddress = clientAddress
        self.clientPort = clientPort
        self.virtualAddress = virtualAddress
        self.virtualPort = virtualPort
        self.random = random
        self.now = now
    }
}

/// A read-only view of one service's servers, in list order.
@frozen
public struct DestinationList {
    @usableFromInline let states: UnsafePointer<DestinationState>
    @usableFromInline let slots: UnsafeBufferPointer<UInt32>

    @inlinable
    public init(states: UnsafePointer<DestinationState>, slots: UnsafeBufferPointer<UInt32>) {
        self.states = states
        self.slots = slots
    }

    @inlinable public var count: Int { slots.count }
    @inlinable public subscript(position: Int) -> DestinationState { states[Int(slots[position])] }
    @inlinable public func weight(_ i: Int) -> Int32 { states[Int(slots[i])].weight }
    @inlinable public func isOverloaded(_ i: Int) -> Bool { states[Int(slots[i])].isOverloaded }
    @inlinable public func overhead(_ i: Int) -> UInt64 { states[Int(slots[i])].overhead }
    @inlinable public func activeConns(_ i: Int) -> UInt32 { states[Int(slots[i])].activeConns }
    @inlinable public func inactiveConns(_ i: Int) -> UInt32 { states[Int(slots[i])].inactiveConns }
}

/// Maps scheduler names to implementations.
public enum SchedulerRegistry {
    /// Every scheduler this build provides, by name.
    /// (Computed: a stored dictionary of metatypes is not Sendable global state under Swift 6.)
    public static var all: [String: any Scheduler.Type] {
        [
            RoundRobinScheduler.name: RoundRobinScheduler.self,
            WeightedRoundRobinScheduler.name: WeightedRoundRobinScheduler.self,
            LeastConnectionScheduler.name: LeastConnectionScheduler.self,
            WeightedLeastConnectionScheduler.name: WeightedLeastConnectionScheduler.self,
            ShortestExpectedDelayScheduler.name: ShortestExpectedDelayScheduler.self,
            NeverQueueScheduler.name: NeverQueueScheduler.self,
            WeightedFailoverScheduler.name: WeightedFailoverScheduler.self,
            OverflowScheduler.name: OverflowScheduler.self,
            PowerOfTwoChoicesScheduler.name: PowerOfTwoChoicesScheduler.self,
            LocalityBasedLeastConnectionScheduler.name: LocalityBasedLeastConnectionScheduler.self,
            ReplicatedLocalityBasedLeastConnectionScheduler.name: ReplicatedLocalityBasedLeastConnectionScheduler.self,
            DestinationHashingScheduler.name: DestinationHashingScheduler.self,
            SourceHashingScheduler.name: SourceHashingScheduler.self,
            MaglevHashingScheduler.name: MaglevHashingScheduler.self,
        ]
    }

    /// ipvsadm's default scheduler.
    public static let defaultName = "wlc"

    public static func make(_ name: String) -> (any Scheduler)? { all[name].map { $0.init() } }

    public static var names: [String] { all.keys.sorted() }
}
