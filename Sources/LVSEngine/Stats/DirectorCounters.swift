/// Director-wide counters: what happened to every frame, and table events.
public struct DirectorCounters: Sendable, Equatable {
    /// Indexed by `DropReason.rawValue`.
    public var drops: [UInt64] = Array(repeating: 0, count: DropReason.allCases.count)
    public var forwardedToRealServer: UInt64 = 0
    public var forwardedToClient: UInt64 = 0
    public var replies: UInt64 = 0
    public var notOurs: UInt64 = 0
    public var connectionsCreated: UInt64 = 0
    public var connectionsExpired: UInt64 = 0
    /// A SYN that found a finished (TIME_WAIT/CLOSE) or orphaned connection and was rescheduled.
    public var connectionsReused: UInt64 = 0
    /// VS/TUN packets too big for the tunnel path, answered with frag-needed / packet-too-big.
    public var fragmentationNeeded: UInt64 = 0

    public init() {}

    public subscript(reason: DropReason) -> UInt64 { drops[Int(reason.rawValue)] }
}
