/// twos (ip_vs_twos.c): power of two choices. Over the servers that are not OVERLOAD with
/// weight > 0: total = sum of weights + 1, r1 = rand % total, r2 = rand % total. Walking those
/// servers in list order and subtracting each weight from r1 and r2, choice1 is the first at which
/// r1 <= 0 and choice2 the first at which r2 <= 0. choice2 wins when
/// w2 * overhead1 > w1 * overhead2, otherwise choice1.
///
/// The two draws come from `SchedulingInput.random` (the engine's seeded generator) instead of the
/// kernel's prandom_u32(): r1 from its low 32 bits, r2 from its high 32 bits. The comparison is
/// done in 64 bits (the kernel multiplies in `int`, which can overflow for large weights times
/// many connections).
public final class PowerOfTwoChoicesScheduler: Scheduler {
    public static let name = "twos"

    public init() {}

    public func update(_ servers: DestinationList, change: DestinationChange) {}

    /// The two draws of one scheduling decision.
    static func draws(_ random: UInt64) -> (UInt32, UInt32) {
        (UInt32(truncatingIfNeeded: random), UInt32(truncatingIfNeeded: random >> 32))
    }

    public func schedule(_ servers: DestinationList, _ input: SchedulingInput) -> Int? {
        let n = servers.count
        var total: UInt64 = 0
        var any = false
        for i in 0..<n where !servers.isOverloaded(i) && servers.weight(i) > 0 {
            total &+= UInt64(servers.weight(i))
            any = true
        }
        guard any else { return nil }
        total += 1
        let (a, b) = Self.draws(input.random)
        var r1 = Int64(UInt64(a) % total)
        var r2 = Int64(UInt64(b) % total)
        var choice1 = -1
        var choice2 = -1
        var w1: UInt64 = 0
        var w2: UInt64 = 0
        var oh1: UInt64 = 0
        var oh2: UInt64 = 0
        for i in 0..<n {
            let w = servers.weight(i)
            if servers.isOverloaded(i) || w <= 0 { continue }
            r1 -= Int64(w)
            r2 -= Int64(w)
            if r1 <= 0 && choice1 < 0 {
                choice1 = i
                w1 = UInt64(w)
                oh1 = servers.overhead(i)
            }
            if r2 <= 0 && choice2 < 0 {
                choice2 = i
                w2 = UInt64(w)
                oh2 = servers.overhead(i)
            }
            if choice1 >= 0 && choice2 >= 0 { break }
        }
        // r < total, so both walks end on a server (the last one at the latest).
        if choice2 >= 0 && w2 &* oh1 > w1 &* oh2 { return choice2 }
        return choice1
    }
}
