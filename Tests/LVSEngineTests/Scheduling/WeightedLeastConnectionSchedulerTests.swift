// wlc (spec 1.1, 1.2): the first server that is not OVERLOAD with weight > 0 starts as `least`;
// a later non-OVERLOAD server d replaces it when overhead(least)*w(d) > overhead(d)*w(least)
// (strict, so ties go to the earliest); overhead = active*256 + inactive. Expected choices and
// sequences derived by hand.
import LVSPacket
import Testing

@testable import LVSEngine

@Suite("wlc scheduler")
struct WeightedLeastConnectionSchedulerTests {
    func harness(_ weights: [Int32]) -> SchedulerHarness {
        SchedulerHarness(WeightedLeastConnectionScheduler(), weights: weights)
    }

    @Test func weightedComparisonWithoutDivision() {
        let h = harness([1, 3])
        h.setConns("A", active: 0, inactive: 10)
        h.setConns("B", active: 0, inactive: 29)  // 10*3=30 > 29*1
        #expect(h.pick() == "B")
        h.setConns("B", active: 0, inactive: 30)  // 30 > 30 is false: tie, A stays
        #expect(h.pick() == "A")
        h.setConns("B", active: 0, inactive: 31)
        #expect(h.pick() == "A")
    }

    @Test func oneActiveWeighsMoreThan200Inactive() {
        let h = harness([1, 1])
        h.setConns("A", active: 1, inactive: 0)  // 256
        h.setConns("B", active: 0, inactive: 200)  // 200
        #expect(h.pick() == "B")
        h.setConns("B", active: 0, inactive: 256)
        #expect(h.pick() == "A")
    }

    @Test func activeCountsTimes256AgainstWeights() {
        // A: w=4, 1 active = 256 -> 64/unit. B: w=1, 63 inactive -> 63/unit. B wins (256*1 > 63*4=252).
        let h = harness([4, 1])
        h.setConns("A", active: 1, inactive: 0)
        h.setConns("B", active: 0, inactive: 63)
        #expect(h.pick() == "B")
        h.setConns("B", active: 0, inactive: 64)  // 256 > 256 false
        #expect(h.pick() == "A")
    }

    @Test func tiesGoToTheEarliest() {
        // A 4/2, B 2/1, C 4/2: all 2 per unit of weight.
        let h = harness([2, 1, 2])
        h.setConns("A", active: 0, inactive: 4)
        h.setConns("B", active: 0, inactive: 2)
        h.setConns("C", active: 0, inactive: 4)
        #expect(h.pick() == "A")
        #expect(harness([1, 1, 1]).pick() == "A")
    }

    @Test func firstCandidateSkipsQuiescedAndOverloaded() {
        let h = harness([0, 1, 1, 2])
        h.setOverloaded("B")
        h.setConns("C", active: 0, inactive: 1000)
        h.setConns("D", active: 0, inactive: 1500)  // 1000*2 > 1500*1
        #expect(h.pick() == "D")
        h.setConns("D", active: 0, inactive: 2000)  // tie -> C
        #expect(h.pick() == "C")
    }

    @Test func idleQuiescedServerNeverWins() {
        // A weight 0 with overhead 0 later in the list: overhead(least)*0 > ... is never true.
        let h = harness([1, 0])
        h.setConns("A", active: 5, inactive: 5)
        #expect(h.pick() == "A")
        #expect(harness([0, 0]).pick() == nil)
    }

    @Test func overloadedLaterServerIsSkipped() {
        let h = harness([1, 1])
        h.setConns("A", active: 0, inactive: 9)
        h.setOverloaded("B")
        #expect(h.pick() == "A")
    }

    @Test func sequence321WithBinding() {
        // (0,0,0) A | (1,0,0): B 1*2>0*3 -> B | (1,1,0): C 1*1>0*3 -> C | (1,1,1): B 2>3 no, C 1>3 no -> A
        // (2,1,1): B 2*2=4>1*3=3 -> B | (2,2,1): B 4>6 no, C 2*1=2>1*3=3 no -> A | (3,2,1)
        // The comparison is linear, so from (3k,2k,k) it repeats.
        let h = harness([3, 2, 1])
        #expect(h.picksBinding(12) == sched("A B C A B A  A B C A B A"))  // (6,4,2)
    }

    @Test func weightChangeMidSequence() {
        let h = harness([3, 2, 1])
        #expect(h.picksBinding(6) == sched("A B C A B A"))  // (3,2,1)
        // C 1->3. (3,2,1): B 3*2=6>2*3=6 no; C 3*3=9>1*3 -> C | (3,2,2): C 9>6 -> C
        // (3,2,3): C 9>9 no -> A | (4,2,3): B 4*2=8>2*3=6 -> B; C (least B) 2*3=6>3*2=6 no -> B
        // (4,3,3): B 8>9 no; C 4*3=12>3*3=9 -> C | (4,3,4): B no; C 12>12 no -> A | (5,3,4)
        h.setWeight("C", 3)
        #expect(h.picksBinding(6) == sched("C C A B C A"))
    }

    @Test func quiescingAndOverloadMidSequence() {
        let h = harness([1, 1, 1])
        #expect(h.picksBinding(3) == sched("A B C"))  // (1,1,1)
        h.setWeight("A", 0)
        #expect(h.picksBinding(4) == sched("B C B C"))  // (1,3,3)
        h.setWeight("A", 1)
        // (1,3,3): A -> (2,3,3): A -> (3,3,3): tie -> A -> (4,3,3): B 4*1>3*1 -> B
        #expect(h.picksBinding(4) == sched("A A A B"))  // (4,4,3)
    }

    @Test func overloadMidSequence() {
        let h = harness([2, 1])
        // (0,0): A | (1,0): 1*1>0*2 -> B | (1,1): 1*1>1*2 no -> A | (2,1): 2>2 no -> A | (3,1): 3>2 -> B
        #expect(h.picksBinding(5) == sched("A B A A B"))  // (3,2)
        h.setOverloaded("A")
        #expect(h.picksBinding(2) == sched("B B"))  // (3,4)
        h.setOverloaded("A", false)
        // (3,4): 3*1>4*2 no -> A | (4,4): 4>8 no -> A | ... A until 8: 8>8 no -> A | (9,4): 9>8 -> B
        #expect(h.picksBinding(6) == sched("A A A A A A"))  // (9,4)
        #expect(h.pick() == "B")
    }

    @Test func removalOfTheLeastAndOfTheHead() {
        let h = harness([1, 1, 1])
        h.setConns("A", active: 0, inactive: 0)
        h.setConns("B", active: 0, inactive: 5)
        h.setConns("C", active: 0, inactive: 3)
        #expect(h.pick() == "A")
        h.remove("A")
        #expect(h.schedulePosition() == 1)
        #expect(h.pick() == "C")
        h.remove("C")
        #expect(h.pick() == "B")
        h.remove("B")
        #expect(h.pick() == nil)
    }

    @Test func allUnavailableGivesNil() {
        let h = harness([0, 2, 3])
        h.setOverloaded("B")
        h.setOverloaded("C")
        #expect(h.pick() == nil)
        h.setOverloaded("B", false)
        #expect(h.pick() == "B")
        #expect(harness([]).pick() == nil)
    }
}
