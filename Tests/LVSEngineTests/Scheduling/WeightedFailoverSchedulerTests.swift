// fo (spec 1.2): every new connection goes to the server with the highest weight among those that
// are not OVERLOAD (weight > 0); ties to the earliest in the list. Connection counts play no part.
import LVSPacket
import Testing

@testable import LVSEngine

@Suite("fo scheduler")
struct WeightedFailoverSchedulerTests {
    func primed(_ weights: [Int32]) -> SchedulerHarness {
        SchedulerHarness(WeightedFailoverScheduler(), weights: weights)
    }

    @Test func failoverSequence() {
        let h = primed([2, 5, 5])
        // B and C tie at 5: B, the earlier, takes everything, however loaded.
        #expect(h.picksBinding(4) == sched("B B B B"))
        // B overloaded -> C; C overloaded too -> A.
        h.setOverloaded("B")
        #expect(h.picks(2) == sched("C C"))
        h.setOverloaded("C")
        #expect(h.picks(2) == sched("A A"))
        // B back, then raised above C: B; C raised to 9 (C still overloaded) -> B stays.
        h.setOverloaded("B", false)
        #expect(h.pick() == "B")
        h.setWeight("C", 9)
        #expect(h.pick() == "B")
        h.setOverloaded("C", false)
        #expect(h.pick() == "C")
        // Quiescing C (the highest) fails over to B; quiescing everyone gives nil.
        h.setWeight("C", 0)
        #expect(h.pick() == "B")
        h.setWeight("B", 0)
        h.setWeight("A", 0)
        #expect(h.pick() == nil)
    }

    @Test func newServerWithHigherWeightTakesOver() {
        let h = primed([3, 1])
        #expect(h.pick() == "A")
        h.add("C", weight: 3)  // ties A, comes later: A keeps it
        #expect(h.pick() == "A")
        h.add("D", weight: 4)
        #expect(h.pick() == "D")
        h.remove("D")
        #expect(h.pick() == "A")
    }

    @Test func allOverloadedOrEmpty() {
        let h = primed([1, 1])
        h.setOverloaded("A")
        h.setOverloaded("B")
        #expect(h.pick() == nil)
        #expect(primed([]).pick() == nil)
    }
}
