/// wrr (ip_vs_wrr.c): interleaved weighted round robin stepping the current weight down by the gcd
/// of the weights. With A=4, B=3, C=2 the sequence is A A B A B C A B C, repeating.
public final class WeightedRoundRobinScheduler: Scheduler {
    public static let name = "wrr"
    /// Position of the last chosen server; -1 = the list head.
    var cursor = -1
    /// Current weight threshold.
    var cw: Int32 = 0
    /// Max weight - (gcd - 1).
    var mw: Int32 = 0
    /// gcd of the positive weights.
    var di: Int32 = 1

    public init() {}

    public func update(_ servers: DestinationList, change: DestinationChange) {
        var g: Int32 = 0
        var maxW: Int32 = 0
        for i in 0..<servers.count {
            let w = servers.weight(i)
            guard w > 0 else { continue }
            g = g == 0 ? w : Self.gcd(g, w)
            maxW = max(maxW, w)
        }
        di = g == 0 ? 1 : g
        mw = maxW == 0 ? 0 : maxW - (di - 1)
        cursor = -1
        if cw > mw || cw == 0 {
            cw = mw
        } else if di > 1 {
            cw = (cw / di) * di + 1
        }
    }

    static func gcd(_ a: Int32, _ b: Int32) -> Int32 {
        var (x, y) = (a, b)
        while y != 0 { (x, y) = (y, x % y) }
        return x
    }

    public func schedule(_ servers: DestinationList, _ input: SchedulingInput) -> Int? {
        let n = servers.count
        guard n > 0, mw > 0 else { return nil }
        var i = cursor
        // A full pass at the lowest threshold (cw <= di) that finds nothing means all are overloaded
        // or quiesced. Bound the walk: every threshold level from mw down to di, plus one lap.
        let levels = Int(mw / di) + 1
        var budget = (levels + 1) * (n + 1)
        var lowestPassStart = -2
        while budget > 0 {
            budget -= 1
            i += 1
            if i == n {
                i = 0
                cw -= di
                if cw <= 0 { cw = mw }
            }
            if cw <= di {
                if lowestPassStart == -2 {
                    lowestPassStart = i
                } else if i == lowestPassStart {
                    cursor = i
                    return nil
                }
            }
            if !servers.isOverloaded(i) && servers.weight(i) >= cw {
                cursor = i
                return i
            }
        }
        return nil
    }
}
