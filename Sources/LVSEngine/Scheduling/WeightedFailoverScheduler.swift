/// fo (ip_vs_fo.c): weighted failover. All new connections go to the server with the highest
/// weight among those that are not OVERLOAD (weight must be > 0); ties go to the earliest in the
/// list. Lowering that server's weight, quiescing it or its overload moves traffic to the next.
public final class WeightedFailoverScheduler: Scheduler {
    public static let name = "fo"

    public init() {}

    public func update(_ servers: DestinationList, change: DestinationChange) {}

    public func schedule(_ servers: DestinationList, _ input: SchedulingInput) -> Int? {
        var best = -1
        var highest: Int32 = 0
        for i in 0..<servers.count {
            let w = servers.weight(i)
            if !servers.isOverloaded(i) && w > highest {
                best = i
                highest = w
            }
        }
        return best < 0 ? nil : best
    }
}
