// dh (spec 1.2): 256 buckets, bucket i -> server i mod n in list order (weights ignored), refilled
// when servers are added or removed; a connection takes the bucket hash_32(ntohl(daddr), 8) of
// its destination (the VIP), where hash_32(v, 8) = (v * 0x61C88647 mod 2^32) >> 24. A server with
// weight <= 0 or OVERLOAD gives no server: no fallback.
//
// Buckets worked out with that formula, e.g. 10.0.0.1 = 0x0A000001:
// 0x0A000000 * 0x61C88647 mod 2^32 = (10 * 0x47 mod 256) << 24 = 0xC6000000, + 0x61C88647 =
// 0x27C88647 -> top byte 0x27 = 39.
//   10.0.0.1 -> 39   10.0.0.2 -> 137   10.0.0.3 -> 235   10.0.0.5 -> 174   10.0.0.6 -> 16
//   10.0.0.100 -> 248   2001:db8::1 (fold 0x20010db8 ^ 0 ^ 0 ^ 1 = 0x20010db9) -> 63
import LVSPacket
import Testing

@testable import LVSEngine

@Suite("dh scheduler")
struct DestinationHashingSchedulerTests {
    func primed(_ weights: [Int32]) -> SchedulerHarness {
        SchedulerHarness(DestinationHashingScheduler(), weights: weights)
    }

    func pick(_ h: SchedulerHarness, _ vip: String) -> String {
        h.pick(SchedulerHarness.input(vip: IPAddress(vip)!)) ?? "-"
    }

    static let vips = ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.5", "10.0.0.6", "10.0.0.100"]

    @Test func bucketHash() {
        #expect(DestinationHashingScheduler.bucket(IPAddress("10.0.0.1")!) == 39)
        #expect(DestinationHashingScheduler.bucket(IPAddress("10.0.0.100")!) == 248)
        #expect(DestinationHashingScheduler.bucket(IPAddress("2001:db8::1")!) == 63)
        // The IPv6 fold equals the IPv4 address with the same 32 bits.
        #expect(DestinationHashingScheduler.bucket(IPAddress("32.1.13.185")!) == 63)
    }

    @Test func deterministicMappingThroughAddsAndRemovals() {
        let h = primed([1, 1, 1])
        // mod 3: 39 -> 0, 137 -> 2, 235 -> 1, 174 -> 0, 16 -> 1, 248 -> 2
        #expect(Self.vips.map { pick(h, $0) } == sched("A C B A B C"))
        // Same destination, any client: the same server.
        #expect(h.pick(SchedulerHarness.input(client: IPAddress("198.51.100.9")!, vip: IPAddress("10.0.0.2")!)) == "C")
        // Four servers, mod 4: 39 -> 3, 137 -> 1, 235 -> 3, 174 -> 2, 16 -> 0, 248 -> 0
        h.add("D", weight: 1)
        #expect(Self.vips.map { pick(h, $0) } == sched("D B D C A A"))
        // B removed: A C D, mod 3 again: 0 -> A, 2 -> D, 1 -> C
        h.remove("B")
        #expect(Self.vips.map { pick(h, $0) } == sched("A D C A C D"))
        #expect(pick(h, "2001:db8::1") == "A")  // 63 mod 3 = 0
    }

    @Test func weightsAreIgnoredButWeightZeroAndOverloadGiveNoServer() {
        let h = primed([1, 1, 1])
        h.setWeight("A", 50)
        #expect(Self.vips.map { pick(h, $0) } == sched("A C B A B C"))
        // Quiesced A: its destinations get no server, the others are unaffected.
        h.setWeight("A", 0)
        #expect(Self.vips.map { pick(h, $0) } == sched("- C B - B C"))
        // Overloaded C: likewise, there is no fallback.
        h.setWeight("A", 1)
        h.setOverloaded("C")
        #expect(Self.vips.map { pick(h, $0) } == sched("A - B A B -"))
        h.setOverloaded("C", false)
        #expect(Self.vips.map { pick(h, $0) } == sched("A C B A B C"))
    }

    @Test func emptyServiceGivesNoServer() {
        let h = primed([1])
        h.remove("A")
        #expect(pick(h, "10.0.0.1") == "-")
    }

    @Test func bucketSharesAreEvenWhateverTheWeights() {
        let s = DestinationHashingScheduler()
        let h = SchedulerHarness(s, weights: [9, 1, 3])
        var counts = [0, 0, 0]
        for i in 0..<DestinationHashingScheduler.tableSize { counts[Int(s.buckets[i])] += 1 }
        // 256 = 3 * 85 + 1: bucket 255 goes to A.
        #expect(counts == [86, 85, 85])
        _ = h
    }
}
