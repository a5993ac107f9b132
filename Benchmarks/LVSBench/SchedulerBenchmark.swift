import CMallocCounter
import LVSEngine
import LVSPacket

/// `scripts/bench.sh schedulers`: scheduling decisions per second of every registered scheduler
/// with 8 and 256 real servers, called directly as the Director calls it (one `schedule` per new
/// connection, through the `any Scheduler` existential).
///
/// The servers carry a fixed, uneven load (weights 1...4, 1...5 active and 0...12 inactive
/// connections), so least-connection scans cannot stop early; every server is usable. Inputs
/// cycle through 4,096 precomputed connections: distinct clients and ports (sh and mh use the
/// port flag), 256 VIPs (lblc/lblcr keep 256 entries), fresh random values (twos), and a clock
/// advancing 1 ms per decision (lblc/lblcr run their timer ticks). The baseline is the same loop
/// around a trivial decision (input.random mod servers), measured in the same run.
enum SchedulerBenchmark {
    static let inputCount = 4096
    static let minimumSeconds = 0.25

    /// A server list the way the Director holds one: a state arena and a slot list.
    final class Servers {
        let states: UnsafeMutablePointer<DestinationState>
        let slots: UnsafeMutablePointer<UInt32>
        let count: Int

        init(_ n: Int) {
            count = n
            states = .allocate(capacity: n)
            states.initialize(repeating: DestinationState(), count: n)
            slots = .allocate(capacity: n)
            for i in 0..<n {
                var d = DestinationState()
                d.address = IPAddress(v4: 0xc0a8_0000 &+ UInt32(i) &+ 10)
                d.port = 8080
                d.weight = Int32(1 + i % 4)
                d.activeConns = UInt32(1 + (i * 7) % 5)
                d.inactiveConns = UInt32((i * 13) % 13)
                d.flags = DestinationState.flagInUse | DestinationState.flagAvailable
                states[i] = d
                // Slots in reverse, as a Director that reused slots might hold them.
                slots[i] = UInt32(n - 1 - i)
            }
        }

        deinit {
            states.deallocate()
            slots.deallocate()
        }

        var list: DestinationList {
            DestinationList(states: UnsafePointer(states), slots: UnsafeBufferPointer(start: slots, count: count))
        }
    }

    static func inputs() -> [SchedulingInput] {
        var x: UInt64 = 0x9e37_79b9_7f4a_7c15
        return (0..<inputCount).map { i in
            x ^= x << 13
            x ^= x >> 7
            x ^= x << 17
            return SchedulingInput(
                proto: IPProto.tcp, clientAddress: IPAddress(v4: 0xc633_6400 &+ UInt32(truncatingIfNeeded: x >> 40)),
                clientPort: UInt16(truncatingIfNeeded: x >> 16) | 1024, virtualAddress: IPAddress(v4: 0x0a00_0000 | UInt32(i & 255)),
                virtualPort: 80, random: x &* 0x2545_f491_4f6c_dd1d, now: Timestamp(milliseconds: UInt64(i)))
        }
    }

    struct Result {
        var mdps: Double
        var mallocsPerDecision: Double
    }

    /// Decisions per second (millions) of `decide` over the inputs, timed for at least
    /// `minimumSeconds` after one warm-up pass.
    @inline(never)
    static func measure(_ inputs: [SchedulingInput], _ decide: (SchedulingInput) -> Int?) -> Result {
        let n = inputs.count
        let batch = UnsafeMutablePointer<SchedulingInput>.allocate(capacity: n)
        batch.initialize(from: inputs, count: n)
        defer { batch.deallocate() }
        var sink = 0
        var clock: UInt64 = 0
        // One pass over the inputs, the clock moving on by 1 ms per decision.
        func pass() {
            var i = 0
            while i < n {
                batch[i].now = Timestamp(milliseconds: clock &+ UInt64(i))
                sink &+= decide(batch[i]) ?? -1
                i += 1
            }
            clock &+= UInt64(n)
        }
        pass()
        var decisions = 0
        lvs_malloc_counting(1)
        let mallocsBefore = lvs_malloc_count()
        let start = monotonicSeconds()
        var elapsed = 0.0
        repeat {
            for _ in 0..<16 {
                pass()
                decisions += n
            }
            elapsed = monotonicSeconds() - start
        } while elapsed < minimumSeconds
        let mallocs = lvs_malloc_count() - mallocsBefore
        lvs_malloc_counting(0)
        if sink == 42 { print("") }  // keep the decisions observable
        return Result(mdps: Double(decisions) / elapsed / 1e6, mallocsPerDecision: Double(mallocs) / Double(decisions))
    }

    static func run(_ names: [String] = SchedulerRegistry.names) {
        let inputs = inputs()
        let baseline8 = baseline(inputs, servers: 8)
        report("schedulers.baseline", baseline8, "Mdecisions/s")
        var rows: [(String, Double)] = []
        var worstMallocs = 0.0
        for name in names {
            for n in [8, 256] {
                let servers = Servers(n)
                guard let scheduler = SchedulerRegistry.make(name) else { continue }
                scheduler.flags = name == "sh" || name == "mh" ? SchedulerFlags.port : 0
                scheduler.update(servers.list, change: .reset)
                let list = servers.list
                let r = measure(inputs) { scheduler.schedule(list, $0) }
                report("schedulers.\(name)_\(n)", r.mdps, "Mdecisions/s")
                rows.append(("\(name)_\(n)", r.mdps))
                worstMallocs = max(worstMallocs, r.mallocsPerDecision)
            }
        }
        for (row, mdps) in rows { report("schedulers.\(row)_vs_baseline", mdps / baseline8, "ratio") }
        report("schedulers.mallocs_per_decision_max", worstMallocs, "allocs", digits: 6)
    }

    /// The loop with a trivial decision: the cost of the harness itself.
    static func baseline(_ inputs: [SchedulingInput], servers: Int) -> Double {
        measure(inputs) { Int(truncatingIfNeeded: $0.random % UInt64(servers)) }.mdps
    }
}
