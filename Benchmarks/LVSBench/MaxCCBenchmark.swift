import Glibc
import LVSEngine
import LVSPacket

/// `scripts/bench.sh maxcc`: Double-NAT's maximum concurrent connections (double-nat.md section
/// 4.2, Max-CC = ports x real servers). Every connection is created through `Director.process`
/// with a real SYN frame, until the engine refuses one; then one more is attempted to show the
/// refusal is a counted drop. The table is sized above the expected figure, so the port pool (not
/// the table) is what runs out.
enum MaxCCBenchmark {
    static let vip = IPAddress("10.0.0.100")!
    static let key = ServiceKey(.tcp, vip, 80)

    struct Result {
        var held: Int
        var refused: Int
        var seconds: Double
        var portsHeld: Int
        var exhaustedDrops: UInt64
        var repliesOK: Bool
        var tableMiB: Double
        /// Resident memory the filled director added (tables touched by the fill).
        var rssMiB: Double
    }

    /// Fills a Double-NAT service of `servers` real servers and vdport range `range`.
    static func fill(servers: Int, range: ClosedRange<UInt16>) -> Result {
        let expected = servers * range.count
        let capacity = expected + expected / 16 + 1024
        let rss0 = residentBytes()
        let d = Director(DirectorConfiguration(connectionCapacity: capacity, memoryAdvisor: EngineBenchmark.hugePages))
        try! d.addService(ServiceSpec(key, scheduler: "rr", virtualPortRange: range))
        for i in 0..<servers {
            let rip = IPAddress(v4: 0xc0a8_0a02 &+ UInt32(i))  // 192.168.10.2 + i
            try! d.addDestination(DestinationSpec(address: rip, port: 8080, method: .doubleNAT), to: key)
        }
        let template = PacketBuilder().ethernet().ipv4(src: IPAddress("172.16.0.1")!, dst: vip)
            .tcp(src: 1024, dst: 80, flags: TCPFlag.syn).bytes()
        let buf = UnsafeMutableRawPointer.allocate(byteCount: 128, alignment: 64)
        defer { buf.deallocate() }
        let now = Timestamp(milliseconds: 1000)
        var i = 0
        var held = 0
        let start = monotonicSeconds()
        // Until the first refusal (bounded: never more attempts than the table could hold).
        while i < capacity {
            let v = synVerdict(d, template, buf, i, now)
            i += 1
            if case .forward = v { held += 1 } else { break }
        }
        let seconds = monotonicSeconds() - start
        // One more attempt after the pool is full: it must be refused, cleanly.
        var refused = 1  // the attempt that ended the loop
        if case .drop(.portsExhausted) = synVerdict(d, template, buf, i, now) { refused += 1 }
        // A reply on a held connection still finds its way back (the table is intact).
        let reply = PacketBuilder().ethernet().ipv4(src: IPAddress(v4: 0xc0a8_0a02), dst: vip)
            .tcp(src: 8080, dst: range.lowerBound, flags: TCPFlag.syn | TCPFlag.ack).bytes()
        var repliesOK = false
        reply.withUnsafeBytes { buf.copyMemory(from: $0.baseAddress!, byteCount: reply.count) }
        var f = Frame(base: buf, length: reply.count, capacity: 128)
        if case .forward(side: .client, _) = d.process(&f, now: now) { repliesOK = true }
        return Result(
            held: d.connectionCount, refused: refused, seconds: seconds, portsHeld: d.virtualPortsHeld(vip),
            exhaustedDrops: d.counters[.portsExhausted], repliesOK: repliesOK,
            tableMiB: d.tableBytesPerConnection * Double(capacity) / 1_048_576,
            rssMiB: Double(residentBytes() - rss0) / 1_048_576)
    }

    /// Sends the SYN of client `i` (32,768 ports per source address) through the engine.
    @inline(__always)
    static func synVerdict(_ d: Director, _ template: [UInt8], _ buf: UnsafeMutableRawPointer, _ i: Int,
                           _ now: Timestamp) -> Verdict {
        template.withUnsafeBytes { buf.copyMemory(from: $0.baseAddress!, byteCount: template.count) }
        let (addr, port) = EngineBenchmark.client(i)
        buf.setRaw32(addr.v4Raw, 26)
        buf.setBE16(port, 34)
        var f = Frame(base: buf, length: template.count, capacity: 128)
        return d.process(&f, now: now)
    }

    static func line(_ name: String, _ r: Result, servers: Int, range: ClosedRange<UInt16>) {
        print("\(name) \(r.held) conns")
        print("\(name)_refused \(r.refused - 1) conns")
        // ports x servers, less the VIP's service port (80) when the range covers it
        print("\(name)_expected \(servers * (range.count - (range.contains(80) ? 1 : 0))) conns")
        report("\(name)_fill_rate", Double(r.held) / r.seconds / 1e6, "Mcps")
        report("\(name)_table", r.tableMiB, "MiB", digits: 1)
        report("\(name)_rss", r.rssMiB, "MiB", digits: 1)
        print("\(name)_ports_held \(r.portsHeld) holds")
        print("\(name)_ports_exhausted_drops \(r.exhaustedDrops) drops")
        print("\(name)_reply_after_full \(r.repliesOK ? 1 : 0) ok")
    }

    /// The adversarial refusal: a pool full for one real server while the second (quiesced, weight
    /// 0) holds nothing, so every port has fewer holders than the limit and each costs a table
    /// probe. Prints the time per refused SYN (bounded by `Director.maxPortProbes` probes) next to
    /// the time per accepted SYN of the fill, measured in the same run.
    static func refusalCost(range: ClosedRange<UInt16>) {
        let capacity = range.count + range.count / 16 + 1024
        let d = Director(DirectorConfiguration(connectionCapacity: capacity, memoryAdvisor: EngineBenchmark.hugePages))
        try! d.addService(ServiceSpec(key, scheduler: "rr", virtualPortRange: range))
        let r1 = IPAddress("192.168.10.2")!, r2 = IPAddress("192.168.10.3")!
        try! d.addDestination(DestinationSpec(address: r1, port: 8080, method: .doubleNAT), to: key)
        try! d.addDestination(DestinationSpec(address: r2, port: 8080, weight: 0, method: .doubleNAT), to: key)
        let template = PacketBuilder().ethernet().ipv4(src: IPAddress("172.16.0.1")!, dst: vip)
            .tcp(src: 1024, dst: 80, flags: TCPFlag.syn).bytes()
        let buf = UnsafeMutableRawPointer.allocate(byteCount: 128, alignment: 64)
        defer { buf.deallocate() }
        let now = Timestamp(milliseconds: 1000)
        var i = 0
        let start = monotonicSeconds()
        while i < capacity, case .forward = synVerdict(d, template, buf, i, now) { i += 1 }
        let fillSeconds = monotonicSeconds() - start
        let held = d.connectionCount
        let attempts = 2000
        var refused = 0
        let t0 = monotonicSeconds()
        for k in 0..<attempts {
            if case .drop(.portsExhausted) = synVerdict(d, template, buf, i + 1 + k, now) { refused += 1 }
        }
        let perRefusal = (monotonicSeconds() - t0) / Double(attempts) * 1e6
        let perAccept = fillSeconds / Double(max(held, 1)) * 1e6
        print("maxcc.one_server_full_held \(held) conns")
        print("maxcc.one_server_full_refused \(refused) of \(attempts) conns")
        report("maxcc.one_server_full_refusal_cost", perRefusal, "us")
        report("maxcc.one_server_full_accept_cost", perAccept, "us")
        report("maxcc.one_server_full_refusal_vs_accept", perRefusal / perAccept, "ratio")
        print("maxcc.max_port_probes \(Director.maxPortProbes) probes")
    }

    static func run() {
        let paper = 1024...UInt16(65535)
        let n8 = fill(servers: 8, range: paper)
        line("maxcc.doublenat_n8", n8, servers: 8, range: paper)
        report("maxcc.doublenat_n8_vs_paper", Double(n8.held) / 516_088, "ratio")
        // 1024-65535 inclusive is 64,512 ports (516,096 with N=8); the paper's 64,511 ports per
        // server (516,088) is one port fewer: the same run on 1024-65534 reproduces it exactly.
        let paperCount = UInt16(1024)...UInt16(65534)
        let exact = fill(servers: 8, range: paperCount)
        line("maxcc.doublenat_n8_1024_65534", exact, servers: 8, range: paperCount)
        let n6 = fill(servers: 6, range: paper)
        line("maxcc.doublenat_n6", n6, servers: 6, range: paper)
        let n16 = fill(servers: 16, range: paper)
        line("maxcc.doublenat_n16", n16, servers: 16, range: paper)
        let half = UInt16(1024)...UInt16(33791)
        let narrow = fill(servers: 8, range: half)
        line("maxcc.doublenat_n8_range32k", narrow, servers: 8, range: half)
        let wide = UInt16(1)...UInt16(65535)  // the whole port space; the VIP's port 80 is excluded
        let all = fill(servers: 8, range: wide)
        line("maxcc.doublenat_n8_range1_65535", all, servers: 8, range: wide)
        refusalCost(range: paper)
    }
}
