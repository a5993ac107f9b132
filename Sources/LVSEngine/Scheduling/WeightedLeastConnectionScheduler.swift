/// wlc (ip_vs_wlc.c), the IPVS default: the minimum overhead/weight, compared without division as
/// overhead(least) * weight(d) > overhead(d) * weight(least). The first server with weight > 0 that
/// is not overloaded starts as the candidate and is replaced only on a strict improvement.
public final class WeightedLeastConnectionScheduler: Scheduler {
    public static let name = "wlc"

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
        var loh = servers.overhead(least)
        var lw = UInt64(servers.weight(least))
        i = least + 1
        while i < n {
            let w = servers.weight(i)
            if !servers.isOverloaded(i) && w > 0 {
                let doh = servers.overhead(i)
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
