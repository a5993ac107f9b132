// lblc (spec 1.2 and "LBLC"): keyed by the destination address (the VIP here). A hit refreshes
// the entry's use time and keeps its server when it has weight > 0 and is not overloaded in the
// LBLC sense (activeconns > weight AND some server has 2 * activeconns < weight); otherwise, and
// on a miss, the weighted-least-connection server of the service (wlc's rule) is chosen and
// cached. Entries unused for lblc_expiration (24 h) go in the full sweep every 30th tick of the
// 60 s timer; over 16,384 entries, entries idle >= 6 min are collected 4/3 of the excess at a time.
//
// All servers have weight 2 unless stated: "LBLC-overloaded" means active >= 3 while some server
// has active 0 (2 * 0 < 2); active 1 does not count as spare (2 * 1 < 2 is false).
import LVSPacket
import Testing

@testable import LVSEngine

@Suite("lblc scheduler")
struct LocalityBasedLeastConnectionSchedulerTests {
    static let v1 = IPAddress(10, 0, 0, 1)
    static let v2 = IPAddress(10, 0, 0, 2)
    static let v3 = IPAddress(10, 0, 0, 3)

    func primed(_ weights: [Int32]) -> (SchedulerHarness, LocalityBasedLeastConnectionScheduler) {
        let s = LocalityBasedLeastConnectionScheduler()
        return (SchedulerHarness(s, weights: weights), s)
    }

    func pick(_ h: SchedulerHarness, _ vip: IPAddress, at ms: UInt64 = 1000) -> String {
        h.pick(SchedulerHarness.input(vip: vip, now: ms)) ?? "-"
    }

    @Test func localityIsKeptUntilLBLCOverload() {
        let (h, _) = primed([2, 2, 2])
        #expect(pick(h, Self.v1) == "A")  // miss, all idle: WLC -> A
        h.setConns("A", active: 0, inactive: 5)
        #expect(pick(h, Self.v2) == "B")  // miss: WLC over A (5), B (0), C (0) -> B
        // V1 stays on A although A is the busiest.
        #expect(pick(h, Self.v1) == "A")
        h.setConns("A", active: 2, inactive: 5)  // active == weight: not over
        #expect(pick(h, Self.v1) == "A")
        // A active 3 > 2 and B has 2 * 0 < 2: LBLC-overloaded -> WLC: A 3*256+5, B 0, C 0 -> B.
        h.setConns("A", active: 3, inactive: 5)
        #expect(pick(h, Self.v1) == "B")
        #expect(pick(h, Self.v1) == "B")  // the entry now says B
        // B over its weight, but nobody has spare capacity (A 3, C 1: 2 * 1 < 2 is false): kept.
        h.setConns("B", active: 3, inactive: 0)
        h.setConns("C", active: 1, inactive: 0)
        #expect(pick(h, Self.v1) == "B")
        // As in IPVS, the OVERLOAD flag of the cached server is not consulted on a hit.
        h.setOverloaded("B")
        #expect(pick(h, Self.v1) == "B")
        h.setOverloaded("B", false)
        // Quiescing B invalidates the entry: WLC over A (3*256+5) and C (256) -> C.
        h.setWeight("B", 0)
        #expect(pick(h, Self.v1) == "C")
        h.setWeight("B", 2)
        #expect(pick(h, Self.v1) == "C")
        // V2's entry (B) is still there and valid.
        #expect(pick(h, Self.v2) == "B")
    }

    @Test func overloadFlagKeepsAServerOutOfTheLeastConnectionPass() {
        let (h, _) = primed([2, 2, 2])
        h.setOverloaded("A")
        #expect(pick(h, Self.v1) == "B")
        for n in ["B", "C"] { h.setOverloaded(n) }
        #expect(pick(h, Self.v2) == "-")  // miss and every server OVERLOAD
        #expect(pick(h, Self.v1) == "B")  // a hit still uses its server
    }

    @Test func removedServerLeavesItsEntriesAndPositionsShift() {
        let (h, s) = primed([2, 2, 2])
        #expect(pick(h, Self.v1) == "A")
        h.setConns("A", active: 0, inactive: 1)
        #expect(pick(h, Self.v2) == "B")
        h.setConns("B", active: 0, inactive: 1)
        #expect(pick(h, Self.v3) == "C")
        h.remove("A")
        // V2 and V3 keep B and C (now at positions 0 and 1); V1 is re-scheduled: WLC over B (1), C (0).
        #expect(pick(h, Self.v2) == "B")
        #expect(pick(h, Self.v3) == "C")
        #expect(pick(h, Self.v1) == "C")
        h.add("D", weight: 2)
        #expect(pick(h, Self.v1) == "C")
        #expect(s.entryCount == 3)
    }

    @Test func fullSweepForgetsUnusedEntriesOnThe30thTick() {
        let (h, s) = primed([2, 2, 2])
        s.expiration = 600_000  // lblc_expiration = 10 min
        #expect(pick(h, Self.v1, at: 0) == "A")  // starts the timer: ticks at 60 s, 120 s, ...
        h.setConns("A", active: 0, inactive: 10)
        // V2 every minute drives ticks 1..29 (counter 1 -> 30); nothing is swept.
        for minute in 1...29 { _ = pick(h, Self.v2, at: UInt64(minute) * 60_000) }
        #expect(s.table.find(Self.v1) >= 0)
        // Tick 30 at 1800 s is a full sweep: V1 (used at 0, 0 + 600 s <= 1800 s) goes, V2 (used at
        // 1740 s) stays.
        _ = pick(h, Self.v2, at: 1_800_000)
        #expect(s.table.find(Self.v1) < 0)
        #expect(s.entryCount == 1)
        // V1 is scheduled afresh: WLC -> B rather than the cached A.
        #expect(pick(h, Self.v1, at: 1_800_001) == "B")
    }

    @Test func entriesLiveTwentyFourHoursByDefault() {
        // A director idle for a day: the missed ticks are caught up by one full sweep at the
        // current time.
        let (h, s) = primed([2, 2, 2])
        #expect(pick(h, Self.v1, at: 0) == "A")
        h.setConns("A", active: 0, inactive: 10)
        let day: UInt64 = 86_400_000
        #expect(pick(h, Self.v1, at: day - 60_000) == "A")  // 23:59 unused: kept (and used again)
        #expect(s.table.entries[s.table.find(Self.v1)].lastUse == day - 60_000)
        #expect(pick(h, Self.v1, at: 2 * day - 120_000) == "A")
        // Unused for exactly 24 h at the next sweep: gone, WLC -> B.
        #expect(pick(h, Self.v1, at: 3 * day - 120_000) == "B")
    }

    @Test func garbageCollectionOverMaxSize() {
        let (h, s) = primed([1])
        let excess = 300
        let total = LocalityTable.maxSize + excess
        for i in 0..<total {
            _ = pick(h, IPAddress(v4: 0x0a01_0000 &+ UInt32(i)), at: 0)
        }
        #expect(s.entryCount == total)
        var longest = 0
        for b in 0..<LocalityTable.bucketCount {
            var n = 0
            var e = Int(s.table.heads[b])
            while e >= 0 {
                n += 1
                e = Int(s.table.entries[e].next)
            }
            longest = max(longest, n)
        }
        // Ticks 1..5 (60..300 s): over max_size, but nothing has been idle 6 min yet.
        let probe = IPAddress(10, 2, 0, 1)
        _ = pick(h, probe, at: 300_000)
        #expect(s.entryCount == total + 1)
        // Tick 6 (360 s): goal = 300 * 4 / 3 = 400 entries idle >= 6 min, whole buckets at a time
        // (the probe, used at 300 s, is not idle long enough).
        _ = pick(h, probe, at: 360_000)
        let removed = total + 1 - s.entryCount
        #expect(removed >= 400 && removed < 400 + longest, "removed \(removed)")
        // Now under max_size: the following ticks only count towards the full sweep.
        _ = pick(h, probe, at: 420_000)
        #expect(total + 1 - s.entryCount == removed)
    }

    @Test func tableIsBounded() {
        let (h, s) = primed([1, 1])
        for i in 0..<(LocalityTable.capacity + 10) {
            #expect(pick(h, IPAddress(v4: 0x0a10_0000 &+ UInt32(i)), at: 0) != "-")
        }
        // Beyond the bound the server is used without caching it, as on IPVS's allocation failure.
        #expect(s.entryCount == LocalityTable.capacity)
    }

    @Test func ipv6DestinationsAreDistinctEntries() {
        let (h, s) = primed([2, 2])
        let a = IPAddress("2001:db8::1")!
        let b = IPAddress("2001:db8::1:0:0")!  // same XOR fold, another address
        #expect(pick(h, a) == "A")
        h.setConns("A", active: 0, inactive: 3)
        #expect(pick(h, b) == "B")
        #expect(pick(h, a) == "A")
        #expect(s.entryCount == 2)
    }

    @Test func schedulingTimeComesFromThePacket() throws {
        let key = ServiceKey(.tcp, IPAddress("10.0.0.100")!, 80)
        let d = Director(DirectorConfiguration(connectionCapacity: 1024))
        try d.addService(ServiceSpec(key, scheduler: "lblc"))
        try d.addDestination(DestinationSpec(address: IPAddress("192.168.1.10")!, port: 8080), to: key)
        let pump = PacketPump(d)
        _ = pump.tcp(IPAddress("198.51.100.1")!, 40000, key.address, 80, TCPFlag.syn, now: Timestamp(milliseconds: 5000))
        let s = try #require(d.records.compactMap { $0 }.first?.scheduler as? LocalityBasedLeastConnectionScheduler)
        let e = s.table.find(key.address)
        #expect(e >= 0)
        #expect(s.table.entries[e].lastUse == 5000)
    }
}
