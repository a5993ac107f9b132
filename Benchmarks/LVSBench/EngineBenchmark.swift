import CMallocCounter
import Glibc
import LVSEngine
import LVSPacket

/// `scripts/bench.sh engine`: single-threaded engine throughput on established NAT flows, new
/// connections per second, memory per connection, and allocations on the packet path.
enum EngineBenchmark {
    static let vip = IPAddress("10.0.0.100")!
    static let key = ServiceKey(.tcp, vip, 80)
    static let slot = 64  // bytes per frame buffer

    /// Backs large tables with transparent huge pages, as lvsd does.
    static let hugePages: MemoryAdvisor = { p, n in _ = madvise(p, n, MADV_HUGEPAGE) }

    static func director(capacity: Int, scheduler: String = "rr", advise: MemoryAdvisor? = hugePages) -> Director {
        let d = Director(DirectorConfiguration(connectionCapacity: capacity, memoryAdvisor: advise))
        try! d.addService(ServiceSpec(key, scheduler: scheduler))
        for i in 0..<8 {
            try! d.addDestination(DestinationSpec(address: IPAddress(192, 168, 10, UInt8(2 + i)), port: 8080), to: key)
        }
        return d
    }

    /// Client endpoint of flow `i`: 32,768 flows (ports 1024...33791) per source address.
    static func client(_ i: Int) -> (IPAddress, UInt16) {
        (IPAddress(v4: 0xac10_0000 &+ UInt32(i >> 15)), UInt16(1024 + (i & 0x7fff)))
    }

    /// `n` frames of `slot` bytes each: client i -> VIP:80 with `flags`.
    static func frames(_ n: Int, flags: UInt8) -> UnsafeMutableRawPointer {
        let mem = UnsafeMutableRawPointer.allocate(byteCount: n * slot, alignment: 64)
        for i in 0..<n {
            let (addr, port) = client(i)
            let bytes = PacketBuilder().ethernet().ipv4(src: addr, dst: vip).tcp(src: port, dst: 80, flags: flags).bytes()
            precondition(bytes.count <= slot)
            bytes.withUnsafeBytes { (mem + i * slot).copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
        }
        return mem
    }

    /// Swaps IPv4 source/destination addresses and ports of an untagged frame: turns a NAT-ed
    /// request into the server's reply and a NAT-ed reply back into the client's request, without
    /// touching checksums (a swap leaves the sums unchanged).
    @inline(__always)
    static func swapEnds(_ f: UnsafeMutableRawPointer) {
        let s = f.raw32(26)
        f.setRaw32(f.raw32(30), 26)
        f.setRaw32(s, 30)
        let sp = f.raw16(34)
        f.setRaw16(f.raw16(36), 34)
        f.setRaw16(sp, 36)
    }

    static func permutation(_ n: Int) -> [Int] {
        var order = Array(0..<n)
        var x: UInt64 = 0x1234_5678
        for i in stride(from: n - 1, to: 0, by: -1) {
            x ^= x << 13
            x ^= x >> 7
            x ^= x << 17
            order.swapAt(i, Int(x % UInt64(i + 1)))
        }
        return order
    }

    /// Established-flow NAT packets per second with `flows` flows; each iteration sends one request
    /// and one reply through the engine. Returns Mpps.
    static func established(flows: Int, packets: Int, advise: MemoryAdvisor? = hugePages) -> (mpps: Double, mallocs: UInt64) {
        let d = director(capacity: max(flows + flows / 4, 4096), advise: advise)
        let syns = frames(flows, flags: TCPFlag.syn)
        let acks = frames(flows, flags: TCPFlag.ack)
        defer {
            syns.deallocate()
            acks.deallocate()
        }
        let now = Timestamp(milliseconds: 1000)
        for i in 0..<flows {
            var f = Frame(base: syns + i * slot, length: 54)
            guard case .forward = d.process(&f, now: now) else { fatalError("SYN \(i) not forwarded") }
        }
        precondition(d.connectionCount == flows)
        let order = permutation(flows)
        var sent = 0
        // Warm-up pass: moves every flow to ESTABLISHED.
        for i in order {
            var f = Frame(base: acks + i * slot, length: 54)
            _ = d.process(&f, now: now)
            swapEnds(acks + i * slot)
            _ = d.process(&f, now: now)
            swapEnds(acks + i * slot)
        }
        lvs_malloc_counting(1)
        let before = lvs_malloc_count()
        let t0 = monotonicSeconds()
        var forwarded = 0
        while sent < packets {
            let now = Timestamp(milliseconds: 2000 + UInt64(sent >> 20))
            for i in order {
                let p = acks + i * slot
                var f = Frame(base: p, length: 54)
                if case .forward = d.process(&f, now: now) { forwarded &+= 1 }
                swapEnds(p)
                if case .forward = d.process(&f, now: now) { forwarded &+= 1 }
                swapEnds(p)
            }
            sent += 2 * flows
        }
        let t1 = monotonicSeconds()
        lvs_malloc_counting(0)
        let mallocs = lvs_malloc_count() - before
        precondition(forwarded == sent, "every packet of an established flow must be forwarded")
        return (Double(sent) / (t1 - t0) / 1e6, mallocs)
    }

    /// Established flows through the batched entry point: batches of `batch` requests, then the
    /// same frames swapped into replies as a batch. Returns Mpps.
    static func establishedBatched(flows: Int, packets: Int, batch: Int = 32) -> Double {
        let d = director(capacity: max(flows + flows / 4, 4096))
        let syns = frames(flows, flags: TCPFlag.syn)
        let acks = frames(flows, flags: TCPFlag.ack)
        defer {
            syns.deallocate()
            acks.deallocate()
        }
        let now = Timestamp(milliseconds: 1000)
        for i in 0..<flows {
            var f = Frame(base: syns + i * slot, length: 54)
            _ = d.process(&f, now: now)
        }
        let order = permutation(flows)
        let fr = UnsafeMutableBufferPointer<Frame>.allocate(capacity: batch)
        let verdicts = UnsafeMutablePointer<Verdict>.allocate(capacity: batch)
        defer {
            fr.deallocate()
            verdicts.deallocate()
        }
        var sent = 0
        var forwarded = 0
        var first = true
        var t0 = monotonicSeconds()
        while sent < packets {
            var k = 0
            while k < flows {
                let m = min(batch, flows - k)
                for j in 0..<m { fr[j] = Frame(base: acks + order[k + j] * slot, length: 54) }
                let slice = UnsafeMutableBufferPointer(rebasing: fr[0..<m])
                d.process(slice, verdicts: verdicts, now: now)
                for j in 0..<m { if case .forward = verdicts[j] { forwarded &+= 1 }; swapEnds(fr[j].base) }
                d.process(slice, verdicts: verdicts, now: now)
                for j in 0..<m { if case .forward = verdicts[j] { forwarded &+= 1 }; swapEnds(fr[j].base) }
                k += m
            }
            if first {
                // The first pass moved every flow to ESTABLISHED: time from here.
                first = false
                forwarded = 0
                t0 = monotonicSeconds()
                continue
            }
            sent += 2 * flows
        }
        let t1 = monotonicSeconds()
        precondition(forwarded == sent, "every packet of an established flow must be forwarded")
        return Double(sent) / (t1 - t0) / 1e6
    }

    /// The same loop with only the parser: the floor any engine path pays.
    static func parseOnly(flows: Int, packets: Int) -> Double {
        let acks = frames(flows, flags: TCPFlag.ack)
        defer { acks.deallocate() }
        let order = permutation(flows)
        var sent = 0
        var ok = 0
        let t0 = monotonicSeconds()
        while sent < packets {
            for i in order {
                let p = acks + i * slot
                if case .ok(let info) = PacketParser.parse(p, length: 54) { ok &+= Int(info.dstPort & 1) }
                swapEnds(p)
                if case .ok(let info) = PacketParser.parse(p, length: 54) { ok &+= Int(info.dstPort & 1) }
                swapEnds(p)
            }
            sent += 2 * flows
        }
        let t1 = monotonicSeconds()
        precondition(ok >= 0)
        return Double(sent) / (t1 - t0) / 1e6
    }

    /// New connections per second: SYN -> schedule -> insert -> rewrite, into an empty table.
    static func newConnections(count: Int, rounds: Int, scheduler: String) -> Double {
        let pristine = frames(count, flags: TCPFlag.syn)
        let work = UnsafeMutableRawPointer.allocate(byteCount: count * slot, alignment: 64)
        defer {
            pristine.deallocate()
            work.deallocate()
        }
        var best = 0.0
        for _ in 0..<rounds {
            let d = director(capacity: count * 2, scheduler: scheduler)
            work.copyMemory(from: pristine, byteCount: count * slot)
            let now = Timestamp(milliseconds: 1000)
            var created = 0
            let t0 = monotonicSeconds()
            for i in 0..<count {
                var f = Frame(base: work + i * slot, length: 54)
                if case .forward = d.process(&f, now: now) { created &+= 1 }
            }
            let t1 = monotonicSeconds()
            precondition(created == count && d.connectionCount == count)
            best = max(best, Double(count) / (t1 - t0) / 1e6)
        }
        return best
    }

    /// Resident bytes per tracked connection: RSS growth while building and filling a table of
    /// `count` connections, divided by `count`.
    static func bytesPerConnection(count: Int) -> (rss: Double, allocated: Double) {
        let syns = frames(count, flags: TCPFlag.syn)
        defer { syns.deallocate() }
        let before = residentBytes()
        let d = director(capacity: count)
        let now = Timestamp(milliseconds: 1000)
        for i in 0..<count {
            var f = Frame(base: syns + i * slot, length: 54)
            _ = d.process(&f, now: now)
        }
        precondition(d.connectionCount == count)
        let after = residentBytes()
        return (Double(after - before) / Double(count), d.tableBytesPerConnection)
    }

    static func run() {
        let p1k = parseOnly(flows: 1000, packets: 20_000_000)
        let e1k = established(flows: 1000, packets: 20_000_000)
        report("engine.established_1k", e1k.mpps, "Mpps")
        let e1m = established(flows: 1_000_000, packets: 6_000_000)
        report("engine.established_1m", e1m.mpps, "Mpps")
        let e1m4k = established(flows: 1_000_000, packets: 4_000_000, advise: nil)
        report("engine.established_1m_4k_pages", e1m4k.mpps, "Mpps")
        let b1m = establishedBatched(flows: 1_000_000, packets: 6_000_000)
        report("engine.established_1m_batched", b1m, "Mpps")
        let b1k = establishedBatched(flows: 1000, packets: 20_000_000)
        report("engine.established_1k_batched", b1k, "Mpps")
        let cps = newConnections(count: 1_000_000, rounds: 3, scheduler: "rr")
        report("engine.new_conns", cps, "Mcps")
        let mem = bytesPerConnection(count: 1_000_000)
        // The allocated figure counts every byte the table reserves per connection of capacity
        // (entries, buckets, wheel); the RSS growth is the same seen by the kernel, which can come
        // out lower when freed memory from an earlier step is reused.
        report("engine.bytes_per_conn", mem.allocated, "B", digits: 1)
        report("engine.bytes_per_conn_rss", mem.rss, "B", digits: 1)
        report("engine.new_conns_wlc", newConnections(count: 1_000_000, rounds: 2, scheduler: "wlc"), "Mcps")
        report("engine.mallocs_per_packet", Double(e1k.mallocs + e1m.mallocs) / 26_000_000, "allocs", digits: 6)
        report("engine.baseline_parse_1k", p1k, "Mpps")
        report("engine.established_1k_vs_parse", e1k.mpps / p1k, "ratio")
        report("engine.established_1k_vs_goal", e1k.mpps / 20, "ratio")
        report("engine.established_1m_vs_goal", e1m.mpps / 5, "ratio")
        report("engine.established_1m_batched_vs_goal", b1m / 5, "ratio")
        report("engine.established_1m_batched_vs_single", b1m / e1m.mpps, "ratio")
        report("engine.new_conns_vs_goal", cps / 2, "ratio")
    }

    /// `LVSBench alloc-check`: fails (exit 1) if the established-flow path allocates.
    static func allocCheck() -> Bool {
        // Self-test: the interposer must see an allocation we make on purpose, or a 0 below means
        // nothing.
        lvs_malloc_counting(1)
        let probeBefore = lvs_malloc_count()
        let probe = [Int](unsafeUninitializedCapacity: 64) { _, n in n = 0 }
        let probeCount = lvs_malloc_count() - probeBefore
        lvs_malloc_counting(0)
        guard probeCount > 0, probe.capacity >= 64 else {
            print("engine.alloc_check: the malloc interposer counted nothing; cannot check")
            return false
        }
        let r = established(flows: 1000, packets: 2_000_000)
        print("engine.alloc_check.mallocs \(r.mallocs) allocs")
        return r.mallocs == 0
    }
}
