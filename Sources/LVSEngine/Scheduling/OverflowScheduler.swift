/// ovf (ip_vs_ovf.c): overflow. The server with the highest weight among those that are not
/// OVERLOAD, have weight != 0 and have no more active connections than their weight
/// (activeconns <= weight); ties go to the earliest in the list. Only active (ESTABLISHED)
/// connections count, so UDP, whose connections are never active, always goes to the first
/// highest-weight server.
public final class OverflowScheduler: Scheduler {
    public static let name = "ovf"

    public init() {}

    public func update(_ servers: DestinationList, change: DestinationChange) {}

    public func schedule(_ servers: DestinationList, _ input: SchedulingInput) -> Int? {
        var best = -1
        var highest: Int32 = 0
        for i in 0..<servers.count {
            let w = servers.weight(i)
            if servers.isOverloaded(i) || Int64(servers.activeConns(i)) > Int64(w) || w == 0 { continue }
            if best < 0 || w > highest {
                best = i
                highest = w
            }
        }
        return best < 0 ? nil : best
    }
}
