// twos (spec 1.2): over the servers that are not OVERLOAD with weight > 0, total = sum(w) + 1,
// r1 = rand1 % total, r2 = rand2 % total; walking those servers, subtract each weight from r1 and
// r2: choice1 is the first server where r1 <= 0, choice2 likewise for r2. choice2 wins when
// w2 * overhead1 > w1 * overhead2, otherwise choice1. The engine's 64-bit random value gives
// rand1 (low 32 bits) and rand2 (high 32 bits).
//
// With weights A=1, B=2, C=3: total = 7, and r -> A for r in {0, 1} (r - 1 <= 0), B for {2, 3}
// (r - 3 <= 0), C for {4, 5, 6} (r - 6 <= 0): the first server gets one extra chance in total.
import LVSPacket
import Testing

@testable import LVSEngine

@Suite("twos scheduler")
struct PowerOfTwoChoicesSchedulerTests {
    func primed(_ weights: [Int32]) -> SchedulerHarness {
        SchedulerHarness(PowerOfTwoChoicesScheduler(), weights: weights)
    }

    /// A random value whose two draws are `r1` and `r2` (both below any total used here).
    static func random(_ r1: UInt32, _ r2: UInt32) -> UInt64 { UInt64(r2) << 32 | UInt64(r1) }

    func pick(_ h: SchedulerHarness, _ r1: UInt32, _ r2: UInt32) -> String? {
        h.pick(SchedulerHarness.input(random: Self.random(r1, r2)))
    }

    @Test func drawsAreTheTwoHalvesOfTheRandomValue() {
        let (a, b) = PowerOfTwoChoicesScheduler.draws(0x0000_0007_0000_0009)
        #expect(a == 9 && b == 7)
    }

    @Test func weightedDrawBoundaries() {
        let h = primed([1, 2, 3])
        // Both draws on the same server: that server.
        let expected = ["A", "A", "B", "B", "C", "C", "C"]
        for r in 0..<7 { #expect(pick(h, UInt32(r), UInt32(r)) == expected[r]) }
        // r is taken modulo total: 7 -> 0, 13 -> 6.
        #expect(pick(h, 7, 7) == "A")
        #expect(pick(h, 13, 13) == "C")
    }

    @Test func lessLoadedOfTheTwoWins() {
        let h = primed([1, 2, 3])
        // All idle: w2 * 0 > w1 * 0 is false, so choice1.
        #expect(pick(h, 0, 5) == "A")
        #expect(pick(h, 5, 0) == "C")
        // A has one active connection (overhead 256): choice2 C wins, 3 * 256 > 1 * 0.
        h.setConns("A", active: 1, inactive: 0)
        #expect(pick(h, 0, 5) == "C")
        // C 2 active (512), B 1 active (256): choice1 C, choice2 B: 2 * 512 > 3 * 256 -> B.
        h.setConns("C", active: 2, inactive: 0)
        h.setConns("B", active: 1, inactive: 0)
        #expect(pick(h, 4, 2) == "B")
        // C 1 active (256), B 1 active: 2 * 256 > 3 * 256 is false -> C (normalised by weight).
        h.setConns("C", active: 1, inactive: 0)
        #expect(pick(h, 4, 2) == "C")
        // Inactive connections count one each (an active one 256): B with 200 inactive against
        // C's 256: 2 * 256 > 3 * 200 is false -> C; with 100 inactive, 512 > 300 -> B.
        h.setConns("B", active: 0, inactive: 200)
        #expect(pick(h, 4, 2) == "C")
        h.setConns("B", active: 0, inactive: 100)
        #expect(pick(h, 4, 2) == "B")
    }

    @Test func overloadAndWeightZeroLeaveTheDraw() {
        let h = primed([1, 2, 3])
        // B overloaded: total = 1 + 3 + 1 = 5; A for r in {0, 1}, C for {2, 3, 4}.
        h.setOverloaded("B")
        #expect(pick(h, 2, 2) == "C")
        #expect(pick(h, 1, 1) == "A")
        #expect(pick(h, 4, 4) == "C")
        // A quiesced as well: total = 4; C for every r.
        h.setWeight("A", 0)
        #expect(pick(h, 0, 3) == "C")
        // Weight change: C 3 -> 1 and B back: total = 2 + 1 + 1 = 4; B for {0, 1, 2}, C for {3}.
        h.setOverloaded("B", false)
        h.setWeight("C", 1)
        #expect(pick(h, 2, 2) == "B")
        #expect(pick(h, 3, 3) == "C")
        h.setWeight("B", 0)
        h.setWeight("C", 0)
        #expect(pick(h, 0, 0) == nil)
    }

    @Test func longRunSharesFollowWeights() {
        // Two random candidates, the one with the lower overhead/weight kept: connections settle
        // near the weights' proportions (the weighted draw alone would give (w+1)/(W+1) to the
        // first server; the comparison corrects that).
        let h = primed([1, 2, 3])
        var rng: UInt64 = 0x9e37_79b9_7f4a_7c15
        var counts = [String: Int]()
        for _ in 0..<6000 {
            rng ^= rng << 13
            rng ^= rng >> 7
            rng ^= rng << 17
            guard let name = h.pick(SchedulerHarness.input(random: rng)) else { continue }
            h.state(name).pointee.inactiveConns += 1
            counts[name, default: 0] += 1
        }
        #expect(abs(counts["A", default: 0] - 1000) <= 60)
        #expect(abs(counts["B", default: 0] - 2000) <= 60)
        #expect(abs(counts["C", default: 0] - 3000) <= 60)
    }
}
