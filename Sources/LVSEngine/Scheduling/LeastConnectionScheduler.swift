/// lc (ip_vs_lc.c): the server with the smallest activeconns*256 + inactconns among those with
/// weight != 0 that are not overloaded; ties go to the earliest in the list. Weights otherwise
/// play no part.
public final class LeastConnectionScheduler: Scheduler {
    public static let name = "lc"

    public init() {}

    public func update(_ servers: DestinationList, change: DestinationChange) {}

    public func schedule(_ servers: DestinationList, _ input: SchedulingInput) -> Int? {
        var best = -1
        var bestOverhead = UInt64.max
        for i in 0..<servers.count where servers.weight(i) != 0 && !servers.isOverloaded(i) {
            let o = servers.overhead(i)
            if best < 0 || o < bestOverhead {
                best = i
                bestOverhead = o
            }
        }
        return best < 0 ? nil : best
    }
}
