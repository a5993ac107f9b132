// mh (spec 1.2, ip_vs_mh.c): Maglev with M = 4093 slots. Slot shares, turns and rshift are worked
// out by hand below. Slot positions depend on SipHash, which cannot be done by hand: the
// hsiphash function is checked against the kernel's own self-test vectors (lib/siphash_kunit.c,
// 64-bit), and the expected picks for concrete clients come from an independent re-statement of
// ip_vs_mh.c and lib/siphash.c written for these tests (not from running this code).
//
// Harness servers are 192.168.1.10, .11, .12 ... port 8080, in list order.
import LVSPacket
import Testing

@testable import LVSEngine

@Suite("mh scheduler")
struct MaglevHashingSchedulerTests {
    static let clients = (1...8).map { IPAddress(192, 0, 2, UInt8($0)) }

    func primed(_ weights: [Int32], flags: UInt32 = 0) -> (SchedulerHarness, MaglevHashingScheduler) {
        let s = MaglevHashingScheduler()
        let h = SchedulerHarness(s, weights: weights)
        h.setFlags(flags)
        return (h, s)
    }

    func row(_ h: SchedulerHarness, port: UInt16 = 40000) -> [String] {
        Self.clients.map { h.pick(SchedulerHarness.input(client: $0, port: port)) ?? "-" }
    }

    func slots(_ s: MaglevHashingScheduler, _ n: Int) -> [Int] {
        var counts = [Int](repeating: 0, count: n)
        for i in 0..<MaglevHashingScheduler.tableSize where s.lookup[i] >= 0 { counts[Int(s.lookup[i])] += 1 }
        return counts
    }

    func table(_ s: MaglevHashingScheduler) -> [Int32] { (0..<MaglevHashingScheduler.tableSize).map { s.lookup[$0] } }

    // MARK: The hash

    @Test func hsiphashMatchesTheKernelSelfTestVectors() {
        // test_key_hsiphash (64-bit) = {0x0706050403020100, 0x0f0e0d0c0b0a0908}, message bytes
        // 0, 1, ..., len - 1; test_vectors_hsiphash[len].
        let key: (UInt64, UInt64) = (0x0706_0504_0302_0100, 0x0f0e_0d0c_0b0a_0908)
        let vectors: [Int: UInt32] = [
            0: 0x050f_c4dc, 1: 0x7d57_ca93, 2: 0x4dc7_d44d, 3: 0xe7dd_f7fb, 4: 0x88d3_8328, 7: 0x9bb1_1140,
            8: 0x8d29_9a8e, 9: 0x6c06_3de4, 15: 0x2a51_9956, 16: 0x7d90_8b66, 63: 0xb7bb_b3a8,
        ]
        for (len, expected) in vectors {
            #expect(MaglevHashingScheduler.hsiphash(bytes: (0..<len).map { UInt8($0) }, key) == expected, "len \(len)")
        }
        // The 4-byte fast path used for scheduling: bytes 00 01 02 03 are v = 0x03020100 in memory.
        #expect(MaglevHashingScheduler.hsiphash(0x0302_0100, key) == 0x88d3_8328)
        var x: UInt32 = 0x1234_5678
        for _ in 0..<100 {
            x = x &* 1_664_525 &+ 1_013_904_223
            let bytes = withUnsafeBytes(of: x.littleEndian) { Array($0) }
            #expect(MaglevHashingScheduler.hsiphash(x, MaglevHashingScheduler.key1)
                    == MaglevHashingScheduler.hsiphash(bytes: bytes, MaglevHashingScheduler.key1))
        }
    }

    @Test func permutationOfAServer() {
        // 192.168.1.10:8080: h(key1) = 1495899047 -> offset 1495899047 % 4093 = 1686;
        // h(key2) = 3779374080 -> skip 3779374080 % 4092 + 1 = 2881.
        let fold = IPAddress(192, 168, 1, 10).v4
        #expect(MaglevHashingScheduler.hashKey(fold, port: 8080, MaglevHashingScheduler.key1, offset: 0) == 1_495_899_047)
        #expect(MaglevHashingScheduler.hashKey(fold, port: 8080, MaglevHashingScheduler.key2, offset: 0) == 3_779_374_080)
        #expect(MaglevHashingScheduler.tableSize == 4093)
        #expect(MaglevHashingScheduler.primes[MaglevHashingScheduler.tableIndex - 8] == 4093)
    }

    // MARK: The table

    @Test func slotSharesFollowTurns() {
        // Equal weights: one slot each per round, the first server takes the odd one out.
        #expect(slots(primed([1, 1]).1, 2) == [2047, 2046])
        #expect(slots(primed([1, 1, 1]).1, 3) == [1365, 1364, 1364])
        // 2:1 -> turns 2, 1: rounds of A A B; 4093 = 3 * 1364 + 1.
        #expect(slots(primed([2, 1]).1, 2) == [2729, 1364])
        // gcd: 4:2 is 2:1.
        #expect(slots(primed([4, 2]).1, 2) == [2729, 1364])
        // 1:2:1 -> rounds of A B B C; 4093 = 4 * 1023 + 1.
        #expect(slots(primed([1, 2, 1]).1, 3) == [1024, 2046, 1023])
        // 100:1 -> fls(100) = 7 > IP_VS_MH_TAB_BITS = 6, rshift = 1: turns 50 and (1 >> 1 = 0 -> 1);
        // rounds of 51: 4093 = 51 * 80 + 13 -> A 80 * 50 + 13.
        #expect(slots(primed([100, 1]).1, 2) == [4013, 80])
        // A server added with weight 0 has last_weight 0: no slot.
        #expect(slots(primed([0, 5, 0]).1, 3) == [0, 4093, 0])
        // No positive weight at all: an empty table.
        #expect(slots(primed([0, 0]).1, 2) == [0, 0])
    }

    @Test func goldenPicks() {
        // From the independent re-statement, three servers of weight 1.
        let (h, _) = primed([1, 1, 1])
        #expect(row(h) == sched("C B A B A A B B"))
        // An IPv6 client folds to the IPv4 value of its XOR: 2001:db8::1 -> 0x20010db9 = 32.1.13.185.
        #expect(h.pick(SchedulerHarness.input(client: IPAddress("2001:db8::1")!)) == "A")
        #expect(h.pick(SchedulerHarness.input(client: IPAddress("32.1.13.185")!)) == "A")
    }

    @Test func quiescingKeepsTheTableAndFailsWithoutFallback() {
        let (h, s) = primed([1, 1, 1])
        let before = table(s)
        h.setWeight("B", 0)
        // last_weight stays 1: the table is unchanged, and B's clients get no server.
        #expect(table(s) == before)
        #expect(row(h) == sched("C - A - A A - -"))
        // With mh-fallback they are spread over the others; the rest do not move.
        h.setFlags(SchedulerFlags.fallback)
        #expect(row(h) == sched("C A A C A A C A"))
        // B back at weight 1: the same table, the original picks.
        h.setWeight("B", 1)
        #expect(table(s) == before)
        #expect(row(h) == sched("C B A B A A B B"))
    }

    @Test func weightChangeAndOverloadMidSequence() {
        let (h, _) = primed([1, 1, 1])
        #expect(row(h) == sched("C B A B A A B B"))
        // B 1 -> 2 rebuilds with turns 1, 2, 1.
        h.setWeight("B", 2)
        #expect(row(h) == sched("B B B B B A B B"))
        // A overloaded (no rebuild): its client gets nothing, or with fallback B.
        h.setOverloaded("A")
        #expect(row(h) == sched("B B B B B - B B"))
        h.setFlags(SchedulerFlags.fallback)
        #expect(row(h) == sched("B B B B B B B B"))
        for n in ["A", "B", "C"] { h.setOverloaded(n) }
        #expect(row(h) == sched("- - - - - - - -"))
    }

    @Test func portFlag() {
        let (h, _) = primed([1, 1, 1], flags: SchedulerFlags.port)
        let picks = (40000..<40008).map {
            h.pick(SchedulerHarness.input(client: IPAddress(192, 0, 2, 1), port: UInt16($0))) ?? "-"
        }
        #expect(picks == sched("B A B C C B A A"))
        // Not for other protocols: the address alone (C, as in goldenPicks).
        #expect(h.pick(SchedulerHarness.input(client: IPAddress(192, 0, 2, 1), port: 40001, proto: 1)) == "C")
        // Without the flag the port is ignored.
        h.setFlags(0)
        #expect(h.pick(SchedulerHarness.input(client: IPAddress(192, 0, 2, 1), port: 40001)) == "C")
    }

    // MARK: Consistency

    @Test func identicalTablesAcrossInstances() {
        let (_, a) = primed([3, 1, 2, 5, 1])
        let (_, b) = primed([3, 1, 2, 5, 1])
        #expect(table(a) == table(b))
        // Built incrementally (add one by one) rather than all at once: the same table.
        let c = MaglevHashingScheduler()
        let h = SchedulerHarness(c)
        for (i, w) in [Int32(3), 1, 2, 5, 1].enumerated() { h.add("S\(i)", weight: w) }
        #expect(table(c) == table(a))
    }

    /// Slots whose server (by address) differs between two tables, as a fraction of M.
    func moved(_ a: [IPAddress?], _ b: [IPAddress?]) -> Double {
        Double(zip(a, b).filter { $0 != $1 }.count) / Double(MaglevHashingScheduler.tableSize)
    }

    func owners(_ s: MaglevHashingScheduler, _ h: SchedulerHarness) -> [IPAddress?] {
        table(s).map { $0 < 0 ? nil : h.state(h.names[Int($0)]).pointee.address }
    }

    @Test func minimalDisruptionOnRemovalAndAddition() {
        let n = 10
        let s = MaglevHashingScheduler()
        let h = SchedulerHarness(s, weights: [Int32](repeating: 1, count: n), names: (0..<n).map { "S\($0)" })
        let before = owners(s, h)
        // Removing one of N: its ~1/N of the slots must move; Maglev moves only a little more.
        h.remove("S4")
        let afterRemoval = owners(s, h)
        let removed = moved(before, afterRemoval)
        #expect(removed >= 0.09 && removed <= 0.15, "moved \(removed)")
        // Slots that were not S4's mostly stay put.
        let kept = zip(before, afterRemoval).filter { $0.0 != IPAddress(192, 168, 1, 14) }
        let strayed = Double(kept.filter { $0.0 != $0.1 }.count) / Double(kept.count)
        #expect(strayed <= 0.05, "other slots moved \(strayed)")
        // Adding one to N - 1 takes ~1/N of the slots, again with little other movement.
        h.add("S10", weight: 1, address: IPAddress(192, 168, 1, 99))
        let afterAdd = owners(s, h)
        let added = moved(afterRemoval, afterAdd)
        #expect(added >= 0.09 && added <= 0.15, "moved \(added)")
        #expect(afterAdd.filter { $0 == IPAddress(192, 168, 1, 99) }.count >= 400)
    }

    @Test func clientsKeepTheirServerAcrossDirectors() throws {
        // Two directors with different seeds and the same servers send a client to the same server.
        let key = ServiceKey(.tcp, IPAddress("10.0.0.100")!, 80)
        var chosen: [[IPAddress]] = []
        for seed in [UInt64(1), 0xdead_beef] {
            let d = Director(DirectorConfiguration(connectionCapacity: 4096, seed: seed))
            try d.addService(ServiceSpec(key, scheduler: "mh"))
            for i in 0..<5 {
                try d.addDestination(DestinationSpec(address: IPAddress(192, 168, 1, UInt8(10 + i)), port: 8080), to: key)
            }
            let pump = PacketPump(d)
            for c in 1...50 {
                _ = pump.tcp(IPAddress(198, 51, 100, UInt8(c)), 40000, key.address, 80, TCPFlag.syn,
                             now: Timestamp(milliseconds: 1))
            }
            let conns = d.connections(now: Timestamp(milliseconds: 1)).sorted { $0.client.address < $1.client.address }
            chosen.append(conns.map(\.destination.address))
        }
        #expect(chosen[0].count == 50)
        #expect(chosen[0] == chosen[1])
    }
}
