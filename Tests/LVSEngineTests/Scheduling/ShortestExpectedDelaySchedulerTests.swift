// sed (spec 1.2): wlc's scan with overhead = activeconns + 1 (inactive connections ignored): the
// first server that is not OVERLOAD with weight > 0 is the candidate, replaced by a later one
// only when (a_least + 1) * w_d > (a_d + 1) * w_least, so ties go to the earliest in the list.
// With every pick bound as an active connection, the picks are the merge, in increasing order, of
// each server's expected delays k / w (k = 1, 2, ...), ties in list order. Every sequence below
// is worked out that way in the comments.
import LVSPacket
import Testing

@testable import LVSEngine

@Suite("sed scheduler")
struct ShortestExpectedDelaySchedulerTests {
    func primed(_ weights: [Int32]) -> SchedulerHarness {
        SchedulerHarness(ShortestExpectedDelayScheduler(), weights: weights)
    }

    @Test func mergesExpectedDelays() {
        // A 1/1 2/1 ...; B 1/2 2/2 3/2 ...; C 1/3 2/3 3/3 4/3 5/3 6/3 ...
        // .33C .5B .67C | 1: A B C | 1.33C 1.5B 1.67C | 2: A B C
        let h = primed([1, 2, 3])
        #expect(h.picksBindingActive(12) == sched("C B C A B C C B C A B C"))
        #expect(h.active == [2, 4, 6])
    }

    @Test func inactiveConnectionsDoNotCount() {
        // Only activeconns + 1 counts: A's 500 inactive connections leave it at delay 1/1, equal
        // to B's, and the tie goes to A. (wlc would see 500 against 0 and take B.)
        let h = primed([1, 1])
        h.setConns("A", active: 0, inactive: 500)
        #expect(h.pick() == "A")
        // Binding inactive connections never changes the choice.
        #expect(h.picksBinding(5) == sched("A A A A A"))
    }

    @Test func weightChangeQuiesceAndOverloadMidSequence() {
        let h = primed([1, 2, 3])
        #expect(h.picksBindingActive(4) == sched("C B C A"))  // active 1,1,2
        // C 3 -> 1 (weights 1,2,1). Delays (a+1)/w:
        // A 2, B 2/2 = 1, C 3 -> B | A 2, B 3/2 -> B | A 2, B 4/2 = 2 (tie, A first) -> A |
        // A 3, B 2 -> B | A 3, B 5/2 -> B
        h.setWeight("C", 1)
        #expect(h.picksBindingActive(5) == sched("B B A B B"))  // active 2,5,2
        // Quiesce B: A (2+1)/1 = 3, C (2+1)/1 = 3 -> A; A 4, C 3 -> C; A 4, C 4 -> A.
        h.setWeight("B", 0)
        #expect(h.picksBindingActive(3) == sched("A C A"))  // active 4,5,3
        // Overload A: only C (B is quiesced).
        h.setOverloaded("A")
        #expect(h.picksBindingActive(2) == sched("C C"))
        h.setOverloaded("C")
        #expect(h.pick() == nil)
        h.setOverloaded("A", false)
        #expect(h.pick() == "A")
    }

    @Test func noUsableServer() {
        #expect(primed([]).pick() == nil)
        #expect(primed([0, 0]).pick() == nil)
    }

    @Test func longRunSharesFollowWeights() {
        // All delays k/w <= 100 are consumed after 100 + 200 + 300 picks, and the next ones
        // (101/1, 201/2, 301/3) all exceed 100.
        let h = primed([1, 2, 3])
        let picks = h.picksBindingActive(600)
        #expect(picks.filter { $0 == "A" }.count == 100)
        #expect(picks.filter { $0 == "B" }.count == 200)
        #expect(picks.filter { $0 == "C" }.count == 300)
    }
}
