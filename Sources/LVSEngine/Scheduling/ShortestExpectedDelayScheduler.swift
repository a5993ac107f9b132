/// sed (ip_vs_sed.c): shortest expected delay, (Ci + 1) / Ui. wlc's scan with the overhead
/// `activeconns + 1` (inactive connections do not count): the first server that is not OVERLOAD
/// with weight > 0 starts as the candidate and is replaced by a later one that is not OVERLOAD
/// only when overhead(least) * w(d) > overhead(d) * w(least).
public final class ShortestExpectedDelayScheduler: Scheduler {
    public static let name = "sed"

    public init() {}

    public func update(_ servers: DestinationList, change: DestinationChange) {}

    public func schedule(_ servers: DestinationList, _ input: SchedulingInput) -> Int? {
        let n = servers.count
        var least = -1
        var i = 0
        while i < n {
            if !servers.isOverloaded(i) && servers.weight(i) > 0 {
                least = i
                break
            }
            i += 1
        }
        guard least >= 0 else { return nil }
        var loh = UInt64(servers.activeConns(least)) + 1
        var lw = UInt64(servers.weight(least))
        i = least + 1
        while i < n {
            let w = servers.weight(i)
            // A weight-0 server can never win the comparison (IPVS does not test it here either).
            if !servers.isOverloaded(i) && w > 0 {
                let doh = UInt64(servers.activeConns(i)) + 1
                if loh &* UInt64(w) > doh &* lw {
                    least = i
                    loh = doh
                    lw = UInt64(w)
                }
            }
            i += 1
        }
        return least
    }
}
