// ovf (spec 1.2): among servers that are not OVERLOAD, have weight != 0 and activeconns <= weight,
// the one with the highest weight; ties to the earliest. Each server thus takes connections until
// its active count exceeds its weight, then the next-heaviest overflows. Sequences bind every
// pick as an active connection.
import LVSPacket
import Testing

@testable import LVSEngine

@Suite("ovf scheduler")
struct OverflowSchedulerTests {
    func primed(_ weights: [Int32]) -> SchedulerHarness {
        SchedulerHarness(OverflowScheduler(), weights: weights)
    }

    @Test func overflowSequence() {
        // A (3) takes active 0,1,2,3 -> 4 picks; then B (2) 0,1,2 -> 3; then C (1) 0,1 -> 2;
        // then every server has activeconns > weight: nil.
        let h = primed([3, 2, 1])
        #expect(h.picksBindingActive(10) == sched("A A A A B B B C C -"))
        #expect(h.active == [4, 3, 2])
        // One of A's connections ends (4 -> 3 <= 3): A is the heaviest eligible again.
        h.setActive("A", 3)
        #expect(h.picksBindingActive(2) == sched("A -"))
    }

    @Test func weightChangeQuiesceAndOverloadMidSequence() {
        let h = primed([3, 2, 1])
        #expect(h.picksBindingActive(2) == sched("A A"))  // active 2,0,0
        // C raised to 5, the heaviest: C takes active 0..5 (6 picks), then A (2 <= 3) 2 more.
        h.setWeight("C", 5)
        #expect(h.picksBindingActive(8) == sched("C C C C C C A A"))  // active 4,0,6
        // B overloaded: nothing left (A 4 > 3, C 6 > 5).
        h.setOverloaded("B")
        #expect(h.pick() == nil)
        h.setOverloaded("B", false)
        #expect(h.pick() == "B")
        // Quiescing B: no eligible server.
        h.setWeight("B", 0)
        #expect(h.pick() == nil)
        // Equal weights tie to the earliest: A and B at 5 with A's 4 active <= 5 -> A.
        h.setWeight("A", 5)
        h.setWeight("B", 5)
        #expect(h.picksBindingActive(3) == sched("A A B"))  // A 4 -> 5 -> 6
    }

    @Test func inactiveConnectionsNeverOverflow() {
        // UDP connections are always inactive: the first heaviest server takes all of them.
        let h = primed([1, 1])
        #expect(h.picksBinding(50).allSatisfy { $0 == "A" })
    }
}
