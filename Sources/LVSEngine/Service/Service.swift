import LVSPacket

/// What an operator configures for a virtual service (ipvsadm -A/-E).
public struct ServiceSpec: Sendable, Equatable {
    public var key: ServiceKey
    /// A name from `SchedulerRegistry` ("rr", "wrr", "lc", "wlc", ...).
    public var scheduler: String
    /// Scheduler flags (`SchedulerFlags`, ipvsadm -b): sh and mh read SCHED1 as "fallback" and
    /// SCHED2 as "port"; other schedulers ignore them, but the service keeps and lists them.
    public var schedulerFlags: UInt32

    public init(_ key: ServiceKey, scheduler: String = SchedulerRegistry.defaultName, schedulerFlags: UInt32 = 0) {
        self.key = key
        self.scheduler = scheduler
        self.schedulerFlags = schedulerFlags
    }
}

/// A service's control-plane record: identity, scheduler instance and ordered server list.
/// Touched only when scheduling a new connection and by the control plane.
final class ServiceRecord {
    let key: ServiceKey
    let slot: Int
    var schedulerName: String
    var scheduler: any Scheduler
    /// The service's scheduler flags (also handed to the scheduler).
    var schedulerFlags: UInt32
    /// Destination slots in list order (IPVS appends new servers at the tail).
    var destSlots: [UInt32] = []

    init(key: ServiceKey, slot: Int, schedulerName: String, scheduler: any Scheduler, schedulerFlags: UInt32 = 0) {
        self.key = key
        self.slot = slot
        self.schedulerName = schedulerName
        self.scheduler = scheduler
        self.schedulerFlags = schedulerFlags
    }
}

/// Control-plane errors, with the messages ipvsadm prints for the same kernel errors.
public enum DirectorError: Error, Equatable, Sendable, CustomStringConvertible {
    case serviceExists
    case noSuchService
    case serviceNotDefined
    case destinationExists
    case noSuchDestination
    case schedulerNotFound(String)
    case tooManyServices
    case tooManyDestinations
    /// The request is well-formed but not acceptable (e.g. an address family mismatch).
    case invalid(String)

    public var description: String {
        switch self {
        case .serviceExists: "Service already exists"
        case .noSuchService: "No such service"
        case .serviceNotDefined: "Service not defined"
        case .destinationExists: "Destination already exists"
        case .noSuchDestination: "No such destination"
        case .schedulerNotFound: "Scheduler or persistence engine not found"
        case .tooManyServices: "Memory allocation problem"
        case .tooManyDestinations: "Memory allocation problem"
        case .invalid(let why): why
        }
    }
}
