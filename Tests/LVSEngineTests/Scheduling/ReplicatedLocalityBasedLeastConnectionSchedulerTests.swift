// lblcr (spec 1.2 and "LBLCR"): each destination address maps to a set of servers, newest first.
// A hit refreshes the use time and takes the set's weighted-least-connection member (not OVERLOAD,
// weight > 0; ties to the earliest in the set, i.e. the newest); then, if the set has more than
// one member and has not changed for lblcr_expiration, its most loaded member (max
// overhead/weight, ties to the earliest) is dropped. If the member taken is not LBLC-overloaded
// (activeconns > weight while some server has 2 * activeconns < weight) it is used; otherwise the
// WLC server of the whole service is used and added to the set. A miss creates a one-member set.
//
// All weights are 2: LBLC-overloaded = active >= 3 while some server has active 0.
import LVSPacket
import Testing

@testable import LVSEngine

@Suite("lblcr scheduler")
struct ReplicatedLocalityBasedLeastConnectionSchedulerTests {
    static let v1 = IPAddress(10, 0, 0, 1)
    static let v2 = IPAddress(10, 0, 0, 2)

    func primed(_ weights: [Int32]) -> (SchedulerHarness, ReplicatedLocalityBasedLeastConnectionScheduler) {
        let s = ReplicatedLocalityBasedLeastConnectionScheduler()
        return (SchedulerHarness(s, weights: weights), s)
    }

    func pick(_ h: SchedulerHarness, _ vip: IPAddress = v1, at ms: UInt64) -> String {
        h.pick(SchedulerHarness.input(vip: vip, now: ms)) ?? "-"
    }

    /// The set of `vip`'s entry by server name, newest first.
    func set(_ h: SchedulerHarness, _ s: ReplicatedLocalityBasedLeastConnectionScheduler, _ vip: IPAddress = v1)
        -> [String]
    {
        let e = s.table.find(vip)
        return e < 0 ? [] : s.members(e).map { h.names[$0] }
    }

    @Test func replicationGrowsOnOverloadAndShrinksAfterExpiration() {
        let (h, s) = primed([2, 2, 2])
        s.expiration = 600_000
        #expect(pick(h, at: 0) == "A")  // miss: WLC -> A, set {A}, lastmod 0
        #expect(set(h, s) == ["A"])
        #expect(pick(h, at: 500) == "A")
        // A LBLC-overloaded: WLC over the service -> B, added at the head: {B, A}, lastmod 1000.
        h.setActive("A", 3)
        #expect(pick(h, at: 1000) == "B")
        #expect(set(h, s) == ["B", "A"])
        // Set minimum: B (0) against A (768) -> B.
        #expect(pick(h, at: 2000) == "B")
        // Equal load: the tie goes to the head of the set, B, although A is first in the service.
        h.setActive("A", 1)
        h.setActive("B", 1)
        #expect(pick(h, at: 3000) == "B")
        // Hits every minute keep the entry alive; the set does not change.
        h.setActive("A", 3)
        h.setActive("B", 0)
        for minute in 1...10 { #expect(pick(h, at: UInt64(minute) * 60_000) == "B") }
        #expect(set(h, s) == ["B", "A"])
        // now > lastmod + 10 min with 2 members: the most loaded (A, 768/2 against 0/2) is dropped.
        #expect(pick(h, at: 601_001) == "B")
        #expect(set(h, s) == ["B"])
        // B overloaded in the LBLC sense (C idle): WLC -> C joins: {C, B}.
        h.setActive("B", 3)
        #expect(pick(h, at: 601_002) == "C")
        #expect(set(h, s) == ["C", "B"])
        // Neither member over its weight: the set minimum, B (256/2) rather than C (512/2).
        h.setActive("B", 1)
        h.setActive("C", 2)
        #expect(pick(h, at: 601_003) == "B")
        #expect(set(h, s) == ["C", "B"])
    }

    @Test func setMinimumSkipsOverloadAndQuiescedMembers() {
        let (h, s) = primed([2, 2, 2])
        #expect(pick(h, at: 0) == "A")
        h.setActive("A", 3)
        #expect(pick(h, at: 1) == "B")  // {B, A}
        h.setActive("A", 0)
        h.setActive("B", 1)
        #expect(pick(h, at: 2) == "A")  // A 0 < B 256
        h.setOverloaded("A")
        #expect(pick(h, at: 3) == "B")  // A flagged OVERLOAD: skipped in the set
        h.setOverloaded("A", false)
        h.setWeight("A", 0)
        #expect(pick(h, at: 4) == "B")
        // Every member unusable: WLC over the service (only C) -> C added.
        h.setWeight("B", 0)
        #expect(pick(h, at: 5) == "C")
        #expect(set(h, s) == ["C", "B", "A"])
        h.setWeight("C", 0)
        #expect(pick(h, at: 6) == "-")
    }

    @Test func removedServerLeavesTheSets() {
        let (h, s) = primed([2, 2, 2])
        #expect(pick(h, at: 0) == "A")
        h.setActive("A", 3)
        #expect(pick(h, at: 1) == "B")
        #expect(set(h, s) == ["B", "A"])
        h.remove("B")
        #expect(set(h, s) == ["A"])
        // A (3 active, C idle) is LBLC-overloaded: WLC over A, C -> C.
        #expect(pick(h, at: 2) == "C")
        #expect(set(h, s) == ["C", "A"])
        #expect(s.members(s.table.find(Self.v1)) == [1, 0])  // C moved to position 1
    }

    @Test func unusedEntriesExpire() {
        let (h, s) = primed([2, 2])
        s.expiration = 600_000
        #expect(pick(h, at: 0) == "A")
        for minute in 1...29 { _ = pick(h, Self.v2, at: UInt64(minute) * 60_000) }
        #expect(s.entryCount == 2)
        _ = pick(h, Self.v2, at: 1_800_000)  // tick 30: full sweep
        #expect(s.entryCount == 1)
        #expect(set(h, s) == [])
    }

    @Test func emptyServiceGivesNoServer() {
        let (h, _) = primed([])
        #expect(pick(h, at: 0) == "-")
    }
}
