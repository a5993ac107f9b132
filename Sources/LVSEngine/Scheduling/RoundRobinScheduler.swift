/// rr (ip_vs_rr.c): from the last choice, the next server in circular list order that has weight
/// > 0 and is not overloaded.
public final class RoundRobinScheduler: Scheduler {
    public static let name = "rr"
    /// Position of the last chosen server; -1 = before the head.
    var cursor = -1

    public init() {}

    public func update(_ servers: DestinationList, change: DestinationChange) {
        // IPVS keeps a list pointer: deleting the server under the cursor moves it back one.
        if case .removed(let p) = change, p <= cursor { cursor -= 1 }
        if cursor >= servers.count { cursor = servers.count - 1 }
    }

    public func schedule(_ servers: DestinationList, _ input: SchedulingInput) -> Int? {
        let n = servers.count
        guard n > 0 else { return nil }
        var i = cursor
        for _ in 0..<n {
            i = i + 1 == n ? 0 : i + 1
            if servers.weight(i) > 0 && !servers.isOverloaded(i) {
                cursor = i
                return i
            }
        }
        return nil
    }
}
