// rr (spec 1.2): a cursor on the last choice; walk circularly from it to the first server that is
// not OVERLOAD and has weight > 0; a full lap without one gives NULL. Deleting the server under
// the cursor moves the cursor back to the previous element. Expected sequences derived by hand.
import LVSPacket
import Testing

@testable import LVSEngine

@Suite("rr scheduler")
struct RoundRobinSchedulerTests {
    func harness(_ weights: [Int32]) -> SchedulerHarness {
        let h = SchedulerHarness(RoundRobinScheduler())
        for (i, w) in weights.enumerated() { h.add(String(UnicodeScalar(UInt8(65 + i))), weight: w) }
        return h
    }

    @Test func rotatesFromTheHeadInListOrder() {
        let h = harness([1, 1, 1])
        #expect(h.picks(7) == sched("A B C A B C A"))
    }

    @Test func weightMagnitudeIsIgnored() {
        let h = harness([5, 1, 100])
        #expect(h.picks(6) == sched("A B C A B C"))
    }

    @Test func takingOverAPopulatedListStartsAtTheHead() {
        let h = SchedulerHarness(RoundRobinScheduler(), weights: [1, 1, 1])
        #expect(h.picks(4) == sched("A B C A"))
    }

    @Test func quiescedServerIsNeverChosenAndWeightChangesApplyMidSequence() {
        let h = harness([1, 0, 1])
        #expect(h.picks(2) == sched("A C"))  // cursor on C
        h.setWeight("B", 5)
        #expect(h.picks(4) == sched("A B C A"))  // cursor on A
        h.setWeight("C", 0)
        #expect(h.picks(4) == sched("B A B A"))
        h.setWeight("A", 0)
        #expect(h.picks(3) == sched("B B B"))
    }

    @Test func overloadSetAndClearedMidSequence() {
        let h = harness([1, 1, 1])
        #expect(h.picks(2) == sched("A B"))  // cursor on B
        h.setOverloaded("C")
        #expect(h.picks(4) == sched("A B A B"))  // cursor on B
        h.setOverloaded("C", false)
        #expect(h.picks(2) == sched("C A"))
    }

    @Test func removingTheServerUnderTheCursorMovesItBack() {
        let h = harness([1, 1, 1, 1])
        #expect(h.picks(2) == sched("A B"))  // cursor on B
        h.remove("B")  // cursor -> A
        #expect(h.picks(4) == sched("C D A C"))
    }

    @Test func removingTheHeadUnderTheCursorRestartsAtTheNewHead() {
        let h = harness([1, 1, 1])
        #expect(h.pick() == "A")  // cursor on A
        h.remove("A")  // cursor -> list head
        #expect(h.picks(3) == sched("B C B"))
    }

    @Test func removingTheTailUnderTheCursorWrapsToTheHead() {
        let h = harness([1, 1, 1])
        #expect(h.picks(3) == sched("A B C"))  // cursor on C
        h.remove("C")  // cursor -> B
        #expect(h.picks(3) == sched("A B A"))
    }

    @Test func removingAServerBeforeTheCursorKeepsTheCursorOnItsServer() {
        let h = harness([1, 1, 1, 1])
        #expect(h.picks(3) == sched("A B C"))  // cursor on C
        h.remove("A")
        #expect(h.picks(4) == sched("D B C D"))
    }

    @Test func removingAServerAfterTheCursorSkipsIt() {
        let h = harness([1, 1, 1, 1])
        #expect(h.pick() == "A")
        h.remove("C")
        #expect(h.picks(4) == sched("B D A B"))
    }

    @Test func addedServerJoinsAtTheTailWithoutMovingTheCursor() {
        let h = harness([1, 1])
        #expect(h.picks(2) == sched("A B"))  // cursor on B
        h.add("C", weight: 1)
        #expect(h.picks(4) == sched("C A B C"))
    }

    @Test func allUnavailableGivesNilAndLeavesTheCursor() {
        let h = harness([1, 1, 1])
        #expect(h.picks(2) == sched("A B"))  // cursor on B
        h.setOverloaded("A")
        h.setOverloaded("B")
        h.setOverloaded("C")
        #expect(h.pick() == nil)
        #expect(h.pick() == nil)
        h.setOverloaded("A", false)
        h.setOverloaded("B", false)
        h.setOverloaded("C", false)
        #expect(h.picks(2) == sched("C A"))  // the failed laps did not move the cursor
    }

    @Test func allQuiescedGivesNil() {
        let h = harness([0, 0])
        #expect(h.pick() == nil)
        h.setWeight("B", 1)
        #expect(h.picks(2) == sched("B B"))
    }

    @Test func mixOfQuiescedAndOverloadedGivesNil() {
        let h = harness([0, 1])
        h.setOverloaded("B")
        #expect(h.pick() == nil)
    }

    @Test func emptyListGivesNil() {
        let h = harness([])
        #expect(h.pick() == nil)
        h.add("A", weight: 1)
        #expect(h.pick() == "A")
        h.remove("A")
        #expect(h.pick() == nil)
    }
}
