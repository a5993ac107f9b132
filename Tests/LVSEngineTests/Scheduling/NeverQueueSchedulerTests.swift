// nq (spec 1.2): among servers that are not OVERLOAD with weight != 0, the first idle one
// (activeconns == 0) is returned at once; otherwise sed's rule, minimum (a + 1) / w with ties to
// the earliest in the list. Sequences bind every pick as an active connection and are worked out
// in the comments.
import LVSPacket
import Testing

@testable import LVSEngine

@Suite("nq scheduler")
struct NeverQueueSchedulerTests {
    func primed(_ weights: [Int32]) -> SchedulerHarness {
        SchedulerHarness(NeverQueueScheduler(), weights: weights)
    }

    @Test func idleServersFirstThenShortestExpectedDelay() {
        // Idle A, B, C in list order (sed would have started with C). Then, from active 1,1,1:
        // A 2, B 1, C .67 -> C | A 2, B 1, C 1 -> B | B 1.5, C 1 -> C | B 1.5, C 1.33 -> C |
        // B 1.5, C 1.67 -> B | B 2, C 1.67 -> C | A 2, B 2, C 2 -> A
        let h = primed([1, 2, 3])
        #expect(h.picksBindingActive(10) == sched("A B C C B C C B C A"))
        #expect(h.active == [2, 3, 5])
    }

    @Test func anIdleServerWinsWhateverItsWeight() {
        let h = primed([100, 1])
        h.setActive("A", 1)
        // A's delay 2/100 is tiny, but B is idle.
        #expect(h.pick() == "B")
        // Inactive connections do not make a server busy.
        h.setConns("B", active: 0, inactive: 1000)
        #expect(h.pick() == "B")
    }

    @Test func weightZeroAndOverloadMidSequence() {
        let h = primed([1, 2, 3])
        #expect(h.picksBindingActive(3) == sched("A B C"))  // active 1,1,1
        // A idle again (its connection ended): it is taken at once.
        h.setActive("A", 0)
        #expect(h.picksBindingActive(1) == sched("A"))
        // An idle but quiesced server is skipped: D (weight 0) never gets one.
        h.add("D", weight: 0)
        // A 2, B 1, C .67 -> C | A 2, B 1, C 1 -> B
        #expect(h.picksBindingActive(2) == sched("C B"))  // active 1,2,2,0
        // Overloaded idle E is skipped too; when it clears, it is idle and wins.
        h.add("E", weight: 1)
        h.setOverloaded("E")
        // A 2, B 1.5, C 1 -> C
        #expect(h.picksBindingActive(1) == sched("C"))
        h.setOverloaded("E", false)
        #expect(h.picksBindingActive(1) == sched("E"))
        // Raising A's weight to 4: A 2/4 = .5 beats B 1.5, C 4/3, E 2.
        h.setWeight("A", 4)
        #expect(h.picksBindingActive(1) == sched("A"))
        for n in ["A", "B", "C", "E"] { h.setOverloaded(n) }
        #expect(h.pick() == nil)
    }

    @Test func longRunSharesFollowWeightsOnceBusy() {
        // After the three idle picks the delays merge as for sed: all k/w <= 100 are used after
        // 100 + 200 + 300 picks in total.
        let h = primed([1, 2, 3])
        let picks = h.picksBindingActive(600)
        #expect(picks.filter { $0 == "A" }.count == 100)
        #expect(picks.filter { $0 == "B" }.count == 200)
        #expect(picks.filter { $0 == "C" }.count == 300)
    }
}
