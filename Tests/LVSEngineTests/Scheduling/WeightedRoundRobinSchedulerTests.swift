// wrr (spec 1.2): di = gcd of the positive weights, mw = max - (di - 1), cw starts at mw, cursor
// at the list head. Continue from the cursor to the first server that is not OVERLOAD with
// weight >= cw; at the end of the list cw -= di, and when cw <= 0, cw = mw. On add/delete/edit:
// recompute di and mw, cursor to the head, and if cw > mw or cw == 0 then cw = mw, else if
// di > 1 then cw = (cw / di) * di + 1. Every expected sequence below is worked out by hand from
// those rules (the working is in the comments as "cw=..: picks").
import LVSPacket
import Testing

@testable import LVSEngine

@Suite("wrr scheduler")
struct WeightedRoundRobinSchedulerTests {
    func primed(_ weights: [Int32]) -> SchedulerHarness {
        SchedulerHarness(WeightedRoundRobinScheduler(), weights: weights)
    }

    @Test func specExample432() {
        // di=1, mw=4. cw=4: A | cw=3: A B | cw=2: A B C | cw=1: A B C | cw=4 again.
        let h = primed([4, 3, 2])
        #expect(h.picks(27) == sched("A A B A B C A B C  A A B A B C A B C  A A B A B C A B C"))
    }

    @Test func equalWeightsWithGcdStepIsPlainRotation() {
        // di=2, mw=2-1=1, cw=1: every server every pass; cw=1-2<=0 -> cw=mw=1.
        let h = primed([2, 2, 2])
        #expect(h.picks(9) == sched("A B C A B C A B C"))
    }

    @Test func gcdThreeSteps63() {
        // di=3, mw=6-2=4. cw=4: A | cw=1: A B | cw=-2 -> 4: A | cw=1: A B ...
        let h = primed([6, 3])
        #expect(h.picks(12) == sched("A A B A A B A A B A A B"))
    }

    @Test func addingServersOneByOneAppliesTheUpdateRuleEachTime() {
        // add A(4): di=4, mw=1, cw=0 -> 1. add B(3): di=1, mw=4, cw=1 kept. add C(2): cw=1 kept.
        // cw=1: A B C | cw=0 -> 4: A | cw=3: A B | cw=2: A B C | cw=1: A B C | ...
        let h = SchedulerHarness(WeightedRoundRobinScheduler())
        h.add("A", weight: 4)
        h.add("B", weight: 3)
        h.add("C", weight: 2)
        #expect(h.picks(21) == sched("A B C  A A B A B C A B C  A A B A B C A B C"))
    }

    @Test func raisingAWeightMidSequence() {
        let h = primed([4, 3, 2])
        #expect(h.picks(3) == sched("A A B"))  // now cw=3, cursor on B
        // C 2->4: di=1, mw=4, cursor -> head, cw=3 kept (not > mw, not 0, di=1).
        // cw=3: A B C | cw=2: A B C | cw=1: A B C | cw=4: A C | cw=3: A B C
        h.setWeight("C", 4)
        #expect(h.picks(14) == sched("A B C A B C A B C A C A B C"))
    }

    @Test func editThatIntroducesAGcdRoundsCwUp() {
        let h = primed([4, 3, 2])
        #expect(h.picks(3) == sched("A A B"))  // cw=3
        // B 3->2: weights 4,2,2, di=2, mw=3; cw=3 not > 3 and di>1: cw=(3/2)*2+1=3; cursor -> head.
        // cw=3: A | cw=1: A B C | cw=-1 -> 3: A | cw=1: A B C
        h.setWeight("B", 2)
        #expect(h.picks(8) == sched("A A B C A A B C"))
    }

    @Test func loweringTheMaxWeightBelowCwResetsCwToMw() {
        let h = primed([4, 3, 2])
        #expect(h.pick() == "A")  // cw=4
        // A 4->2: weights 2,3,2, di=1, mw=3; cw=4 > 3 -> cw=3; cursor -> head.
        // cw=3: B | cw=2: A B C | cw=1: A B C | cw=3: B | cw=2: A B C
        h.setWeight("A", 2)
        #expect(h.picks(11) == sched("B A B C A B C B A B C"))
    }

    @Test func quiescedServerIsNeverChosen() {
        // Positive weights 4,2: di=2, mw=3. cw=3: A | cw=1: A C | cw=3: A | ...
        let h = primed([4, 0, 2])
        #expect(h.picks(9) == sched("A A C A A C A A C"))
    }

    @Test func quiescingMidSequence() {
        let h = primed([4, 3, 2])
        #expect(h.picks(4) == sched("A A B A"))  // cw=2, cursor on A
        // A -> 0: weights 0,3,2, di=1, mw=3; cw=2 kept; cursor -> head.
        // cw=2: B C | cw=1: B C | cw=3: B | cw=2: B C | cw=1: B C
        h.setWeight("A", 0)
        #expect(h.picks(9) == sched("B C B C B B C B C"))
    }

    @Test func allWeightsZeroGivesNil() {
        let h = primed([0, 0, 0])
        #expect(h.pick() == nil)
        // B -> 5: di=5, mw=1, cw=0 -> 1.
        h.setWeight("B", 5)
        #expect(h.picks(3) == sched("B B B"))
        h.setWeight("B", 0)
        #expect(h.pick() == nil)
    }

    @Test func overloadSetAndClearedMidSequence() {
        let h = primed([4, 3, 2])
        #expect(h.picks(3) == sched("A A B"))  // cw=3, cursor on B
        // Overload does not notify the scheduler; A is simply skipped.
        // cw=3: (C no) | cw=2: B C | cw=1: B C | cw=4: - | cw=3: B | cw=2: B C | cw=1: B C
        h.setOverloaded("A")
        #expect(h.picks(9) == sched("B C B C B B C B C"))  // cursor on C, cw=1
        h.setOverloaded("A", false)
        // end of list: cw=0 -> 4, a fresh period from the head.
        #expect(h.picks(9) == sched("A A B A B C A B C"))
    }

    @Test func allOverloadedGivesNilThenResumesAFullPeriod() {
        let h = primed([4, 3, 2])
        #expect(h.picks(5) == sched("A A B A B"))
        for n in ["A", "B", "C"] { h.setOverloaded(n) }
        #expect(h.pick() == nil)
        #expect(h.pick() == nil)
        for n in ["A", "B", "C"] { h.setOverloaded(n, false) }
        // Wherever the failed scan left cursor and cw, any 9 consecutive picks are one period.
        let next = h.picks(9)
        #expect(next.filter { $0 == "A" }.count == 4)
        #expect(next.filter { $0 == "B" }.count == 3)
        #expect(next.filter { $0 == "C" }.count == 2)
    }

    @Test func overloadedOnlyServerWithOthersQuiescedGivesNil() {
        let h = primed([0, 3, 0])
        h.setOverloaded("B")
        #expect(h.pick() == nil)
    }

    @Test func removingTheServerUnderTheCursor() {
        let h = primed([4, 3, 2])
        #expect(h.picks(3) == sched("A A B"))  // cw=3, cursor on B
        // Remove B: weights 4,2, di=2, mw=3; cw=3 not > 3, di>1: cw=(3/2)*2+1=3; cursor -> head.
        // cw=3: A | cw=1: A C | cw=3: A | cw=1: A C
        h.remove("B")
        #expect(h.picks(6) == sched("A A C A A C"))
    }

    @Test func removingTheMaxWeightServer() {
        let h = primed([4, 3, 2])
        #expect(h.pick() == "A")  // cw=4
        // Remove A: weights 3,2, di=1, mw=3; cw=4 > 3 -> 3; cursor -> head.
        // cw=3: B | cw=2: B C | cw=1: B C | cw=3: B | cw=2: B C
        h.remove("A")
        #expect(h.picks(8) == sched("B B C B C B B C"))
    }

    @Test func removingEveryServerGivesNil() {
        let h = primed([1, 1])
        h.remove("A")
        h.remove("B")
        #expect(h.pick() == nil)
    }

    @Test func sharesOverManyPeriods() {
        // One period at weights w has sum(w)/di picks with w/di each.
        let h = primed([5, 1, 3, 0, 7])
        let picks = h.picks(16 * 50)
        #expect(picks.filter { $0 == "A" }.count == 250)
        #expect(picks.filter { $0 == "B" }.count == 50)
        #expect(picks.filter { $0 == "C" }.count == 150)
        #expect(picks.filter { $0 == "D" }.count == 0)
        #expect(picks.filter { $0 == "E" }.count == 350)
    }
}
