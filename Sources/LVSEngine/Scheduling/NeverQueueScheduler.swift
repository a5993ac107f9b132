/// nq (ip_vs_nq.c): never queue. Among servers that are not OVERLOAD and have weight != 0, the
/// first idle one (activeconns == 0) is taken at once; otherwise sed's rule: the minimum
/// (activeconns + 1) / weight, replacing the candidate only on a strict improvement, so ties go to
/// the earliest in the list.
public final class NeverQueueScheduler: Scheduler {
    public static let name = "nq"

    public init() {}

    public func update(_ servers: DestinationList, change: DestinationChange) {}

    public func schedule(_ servers: DestinationList, _ input: SchedulingInput) -> Int? {
        var least = -1
        var loh: UInt64 = 0
        var lw: UInt64 = 0
        for i in 0..<servers.count {
            let w = servers.weight(i)
            if servers.isOverloaded(i) || w == 0 { continue }
            let active = servers.activeConns(i)
            if active == 0 { return i }
            let doh = UInt64(active) + 1
            if least < 0 || loh &* UInt64(w) > doh &* lw {
                least = i
                loh = doh
                lw = UInt64(w)
            }
        }
        return least < 0 ? nil : least
    }
}
