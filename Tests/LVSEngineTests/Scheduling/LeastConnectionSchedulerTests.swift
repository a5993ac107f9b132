// lc (spec 1.1, 1.2): among servers that are not OVERLOAD and have weight != 0, the minimum
// overhead = activeconns * 256 + inactconns; weights otherwise ignored; ties go to the first in
// the list. Expected choices derived by hand.
import LVSPacket
import Testing

@testable import LVSEngine

@Suite("lc scheduler")
struct LeastConnectionSchedulerTests {
    func harness(_ weights: [Int32]) -> SchedulerHarness {
        SchedulerHarness(LeastConnectionScheduler(), weights: weights)
    }

    @Test func allIdleTieGoesToTheHead() {
        let h = harness([1, 1, 1])
        #expect(h.picks(3) == sched("A A A"))  // nothing bound: always the tie-winner
    }

    @Test func oneActiveWeighsMoreThan200Inactive() {
        let h = harness([1, 1])
        h.setConns("A", active: 1, inactive: 0)  // 256
        h.setConns("B", active: 0, inactive: 200)  // 200
        #expect(h.pick() == "B")
        h.setConns("B", active: 0, inactive: 255)  // 255 < 256
        #expect(h.pick() == "B")
        h.setConns("B", active: 0, inactive: 256)  // tie: first in list
        #expect(h.pick() == "A")
        h.setConns("B", active: 0, inactive: 257)
        #expect(h.pick() == "A")
    }

    @Test func overheadShiftIsEightBitsNotFive() {
        // The stale <<5 comment in ip_vs_lc.c would make 1 active = 32; the code uses 256.
        let h = harness([1, 1])
        h.setConns("A", active: 1, inactive: 0)
        h.setConns("B", active: 0, inactive: 33)
        #expect(h.pick() == "B")
    }

    @Test func mixedActiveAndInactive() {
        // A: 2*256+10 = 522, B: 1*256+300 = 556, C: 0*256+521 = 521.
        let h = harness([1, 1, 1])
        h.setConns("A", active: 2, inactive: 10)
        h.setConns("B", active: 1, inactive: 300)
        h.setConns("C", active: 0, inactive: 521)
        #expect(h.pick() == "C")
        h.setConns("C", active: 0, inactive: 522)  // tie with A
        #expect(h.pick() == "A")
    }

    @Test func tiesGoToTheEarliestInTheList() {
        let h = harness([1, 1, 1, 1])
        h.setConns("A", active: 0, inactive: 5)
        h.setConns("B", active: 0, inactive: 3)
        h.setConns("C", active: 0, inactive: 3)
        h.setConns("D", active: 0, inactive: 3)
        #expect(h.pick() == "B")
    }

    @Test func weightsAreIgnoredExceptZero() {
        let h = harness([1, 100])
        h.setConns("A", active: 0, inactive: 10)
        h.setConns("B", active: 0, inactive: 11)
        #expect(h.pick() == "A")
        h.setWeight("A", 0)  // quiesced: excluded even with the lowest overhead
        #expect(h.pick() == "B")
    }

    @Test func sequenceWithBindingAndMidSequenceChanges() {
        let h = harness([1, 1, 1])
        // Each pick adds one inactive connection to the chosen server.
        #expect(h.picksBinding(6) == sched("A B C A B C"))  // (2,2,2)
        h.setWeight("B", 0)
        #expect(h.picksBinding(4) == sched("A C A C"))  // (4,2,4)
        h.setWeight("B", 2)
        // (4,2,4): B -> (4,3,4): B -> (4,4,4): A -> (5,4,4): B -> (5,5,4): C -> (5,5,5): A
        #expect(h.picksBinding(6) == sched("B B A B C A"))  // (6,5,5)
        h.setOverloaded("B")
        // B skipped: (6,5,5): C -> (6,5,6): tie -> A -> (7,5,6): C -> (7,5,7): tie -> A
        #expect(h.picksBinding(4) == sched("C A C A"))  // (8,5,7)
        h.setOverloaded("B", false)
        // (8,5,7): B -> (8,6,7): B -> (8,7,7): tie B/C -> B
        #expect(h.picksBinding(3) == sched("B B B"))  // (8,8,7)
        #expect(h.picksBinding(2) == sched("C A"))  // C7 -> (8,8,8), tie -> A
    }

    @Test func establishedConnectionsShiftTheChoice() {
        let h = harness([1, 1, 1])
        h.setConns("A", active: 1, inactive: 0)  // 256
        h.setConns("B", active: 0, inactive: 0)
        h.setConns("C", active: 0, inactive: 0)
        // B0 C0 tie -> B (1) -> C (1) -> B(2) ... A stays out until the others reach 256.
        #expect(h.picksBinding(4) == sched("B C B C"))
        h.setConns("B", active: 0, inactive: 256)
        h.setConns("C", active: 0, inactive: 256)
        #expect(h.pick() == "A")  // all 256: the head wins the tie
    }

    @Test func removalOfTheCurrentMinimum() {
        let h = harness([1, 1, 1])
        h.setConns("A", active: 0, inactive: 5)
        h.setConns("B", active: 0, inactive: 1)
        h.setConns("C", active: 0, inactive: 3)
        #expect(h.pick() == "B")
        h.remove("B")
        #expect(h.schedulePosition() == 1)
        #expect(h.pick() == "C")
        h.remove("A")
        #expect(h.schedulePosition() == 0)
    }

    @Test func overloadedServerIsSkippedEvenWhenIdle() {
        let h = harness([1, 1])
        h.setOverloaded("A")
        h.setConns("B", active: 3, inactive: 0)
        #expect(h.pick() == "B")
    }

    @Test func allUnavailableGivesNil() {
        let h = harness([0, 1, 1])
        h.setOverloaded("B")
        h.setOverloaded("C")
        #expect(h.pick() == nil)
        h.setOverloaded("C", false)
        #expect(h.pick() == "C")
    }

    @Test func allQuiescedOrEmptyGivesNil() {
        #expect(harness([0, 0, 0]).pick() == nil)
        #expect(harness([]).pick() == nil)
    }
}
