// sh (spec 1.2): 256 buckets filled in list order, each server taking `weight` consecutive buckets
// (at least one) before the next, cycling; the client's source address (plus its source port with
// sh-port, for TCP/UDP/SCTP) picks bucket (offset + hash_32(port + addr, 8)) & 255, offset 0.
// Unavailable = weight <= 0 or OVERLOAD: no server, or with sh-fallback the probes
// roffset = (offset + ihash) % 256, bucket (roffset + ihash) & 255 = (offset + 2 * ihash) & 255
// for offset = 0, 1, ..., stopping at an empty bucket.
//
// Buckets from hash_32(v, 8) = (v * 0x61C88647 mod 2^32) >> 24 on the host-order address:
//   192.0.2.1 -> 50   192.0.2.2 -> 148   192.0.2.3 -> 246   192.0.2.4 -> 88
//   192.0.2.5 -> 185  192.0.2.6 -> 27
// and for 192.0.2.1 with sh-port, v = port + 0xC0000201:
//   port 40000 -> 214   40001 -> 56   40002 -> 154   40003 -> 252
import LVSPacket
import Testing

@testable import LVSEngine

@Suite("sh scheduler")
struct SourceHashingSchedulerTests {
    static let clients = ["192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4", "192.0.2.5", "192.0.2.6"]

    func primed(_ weights: [Int32], flags: UInt32 = 0) -> SchedulerHarness {
        let h = SchedulerHarness(SourceHashingScheduler(), weights: weights)
        h.setFlags(flags)
        return h
    }

    func pick(_ h: SchedulerHarness, _ client: String, port: UInt16 = 40000, proto: UInt8 = IPProto.tcp) -> String {
        h.pick(SchedulerHarness.input(client: IPAddress(client)!, port: port, proto: proto)) ?? "-"
    }

    func row(_ h: SchedulerHarness) -> [String] { Self.clients.map { pick(h, $0) } }

    @Test func weightedFillAndDeterministicMapping() {
        // Weights 1, 2, 1: the buckets repeat A B B C, so server = bucket mod 4 -> [A, B, B, C].
        // 50 -> 2 B, 148 -> 0 A, 246 -> 2 B, 88 -> 0 A, 185 -> 1 B, 27 -> 3 C
        let h = primed([1, 2, 1])
        #expect(row(h) == sched("B A B A B C"))
        // The client port plays no part without sh-port.
        #expect(pick(h, "192.0.2.1", port: 1) == "B")
        // A second instance (another director) with the same servers chooses the same.
        #expect(row(primed([1, 2, 1])) == row(h))
    }

    @Test func bucketSharesFollowTheWeights() {
        let s = SourceHashingScheduler()
        _ = SchedulerHarness(s, weights: [1, 2, 1])
        var counts = [0, 0, 0]
        for i in 0..<SourceHashingScheduler.tableSize { counts[Int(s.buckets[i])] += 1 }
        #expect(counts == [64, 128, 64])
        // A weight above the table size fills it all.
        let big = SourceHashingScheduler()
        _ = SchedulerHarness(big, weights: [300, 1])
        #expect((0..<SourceHashingScheduler.tableSize).allSatisfy { big.buckets[$0] == 0 })
    }

    @Test func quiescedServerKeepsABucketButGivesNoServer() {
        let h = primed([1, 2, 1])
        // B -> 0 refills with one bucket each: A B C repeating, server = bucket mod 3.
        // 50 -> 2 C, 148 -> 1 B (quiesced: -), 246 -> 0 A, 88 -> 1 -, 185 -> 2 C, 27 -> 0 A
        h.setWeight("B", 0)
        #expect(row(h) == sched("C - A - C A"))
    }

    @Test func fallbackProbesDeterministically() {
        let h = primed([1, 2, 1], flags: SchedulerFlags.fallback)
        h.setWeight("B", 0)
        // 192.0.2.2: ihash 148 -> B; probes (0 + 296) & 255 = 40 -> 40 mod 3 = 1 B, 41 -> 2 C.
        // 192.0.2.4: ihash 88 -> B; probes 176 -> 176 mod 3 = 2 C.
        #expect(row(h) == sched("C C A C C A"))
    }

    @Test func overloadWithAndWithoutFallback() {
        let h = primed([1, 2, 1])
        // Overload does not refill: the table stays A B B C.
        h.setOverloaded("B")
        #expect(row(h) == sched("- A - A - C"))
        h.setFlags(SchedulerFlags.fallback)
        // 192.0.2.1: 50 -> B; probe 100 -> 100 mod 4 = 0 A.
        // 192.0.2.3: 246 -> B; probe 492 & 255 = 236 -> 0 A.
        // 192.0.2.5: 185 -> B; probes 370 & 255 = 114 -> 2 B, 115 -> 3 C.
        #expect(row(h) == sched("A A A A C C"))
        // Every server unavailable: the probes find none.
        h.setOverloaded("A")
        h.setOverloaded("C")
        #expect(row(h) == sched("- - - - - -"))
        h.setOverloaded("A", false)
        h.setOverloaded("B", false)
        h.setOverloaded("C", false)
        #expect(row(h) == sched("B A B A B C"))
    }

    @Test func portFlagHashesTheSourcePort() {
        let h = primed([1, 2, 1], flags: SchedulerFlags.port)
        // 214 -> 2 B, 56 -> 0 A, 154 -> 2 B, 252 -> 0 A
        #expect([40000, 40001, 40002, 40003].map { pick(h, "192.0.2.1", port: UInt16($0)) } == sched("B A B A"))
        #expect(pick(h, "192.0.2.1", port: 40001, proto: IPProto.udp) == "A")
        // No ports for other protocols: the address alone (bucket 50).
        #expect(pick(h, "192.0.2.1", port: 40001, proto: 1) == "B")
        // Both flags together.
        h.setFlags(SchedulerFlags.port | SchedulerFlags.fallback)
        h.setOverloaded("A")
        // port 40001: 56 -> A overloaded; probes 112 -> 0 A, 113 -> 1 B.
        #expect(pick(h, "192.0.2.1", port: 40001) == "B")
    }

    @Test func removalRefillsAndEmptyGivesNoServer() {
        let h = primed([1, 2, 1])
        h.remove("A")
        // B(2) C(1): B B C repeating, server = bucket mod 3 in [B, B, C].
        // 50 -> 2 C, 148 -> 1 B, 246 -> 0 B, 88 -> 1 B, 185 -> 2 C, 27 -> 0 B
        #expect(row(h) == sched("C B B B C B"))
        h.remove("B")
        h.remove("C")
        #expect(row(h) == sched("- - - - - -"))
    }

    @Test func ipv6SourcesAreFolded() {
        // 2001:db8::1 folds to 0x20010db9, the same 32 bits as 32.1.13.185.
        let h = primed([1, 2, 1])
        #expect(pick(h, "2001:db8::1") == pick(h, "32.1.13.185"))
    }
}
