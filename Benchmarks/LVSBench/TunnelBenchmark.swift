import CMallocCounter
import LVSEngine
import LVSPacket

/// VS/TUN encapsulation on established flows: each packet is copied into a work buffer (the
/// engine grows it in place) and run through the engine to a real server by IPIP or GUE.
enum TunnelBenchmark {
    static let room = 256

    /// Mpps and mallocs of `packets` established-flow packets over `flows` flows.
    static func established(type: TunnelType, flows: Int, packets: Int) -> (mpps: Double, mallocs: UInt64) {
        let d = Director(DirectorConfiguration(connectionCapacity: max(flows * 2, 4096)))
        d.setTunnelPath(TunnelPath(source4: IPAddress(192, 168, 10, 1), mtu: 1500))
        try! d.addService(ServiceSpec(EngineBenchmark.key, scheduler: "rr"))
        for i in 0..<8 {
            try! d.addDestination(DestinationSpec(
                address: IPAddress(192, 168, 10, UInt8(2 + i)), port: 80, method: .tunnel,
                tunnel: TunnelSettings(type: type, port: 6080)), to: EngineBenchmark.key)
        }
        let syns = EngineBenchmark.frames(flows, flags: TCPFlag.syn)
        let acks = EngineBenchmark.frames(flows, flags: TCPFlag.ack)
        let work = UnsafeMutableRawPointer.allocate(byteCount: room, alignment: 64)
        defer {
            syns.deallocate()
            acks.deallocate()
            work.deallocate()
        }
        let now = Timestamp(milliseconds: 1000)
        func run(_ src: UnsafeMutableRawPointer) -> Bool {
            work.copyMemory(from: src, byteCount: 54)
            var f = Frame(base: work, length: 54, capacity: room)
            guard case .forward = d.process(&f, now: now) else { return false }
            return f.encapsulation != 0
        }
        for i in 0..<flows { precondition(run(syns + i * EngineBenchmark.slot), "SYN \(i) not tunnelled") }
        let order = EngineBenchmark.permutation(flows)
        lvs_malloc_counting(1)
        let before = lvs_malloc_count()
        let t0 = monotonicSeconds()
        var sent = 0
        var tunnelled = 0
        while sent < packets {
            for i in order where run(acks + i * EngineBenchmark.slot) { tunnelled &+= 1 }
            sent += flows
        }
        let t1 = monotonicSeconds()
        lvs_malloc_counting(0)
        let mallocs = lvs_malloc_count() - before
        precondition(tunnelled == sent, "every packet of an established flow must be tunnelled")
        return (Double(sent) / (t1 - t0) / 1e6, mallocs)
    }

    static func run() {
        let ipip = established(type: .ipip, flows: 1000, packets: 4_000_000)
        let gue = established(type: .gue, flows: 1000, packets: 4_000_000)
        report("engine.tunnel_ipip_1k", ipip.mpps, "Mpps")
        report("engine.tunnel_gue_1k", gue.mpps, "Mpps")
        report("engine.tunnel_mallocs_per_packet", Double(ipip.mallocs + gue.mallocs) / 8_000_000, "allocs",
                               digits: 6)
    }

    /// Part of `LVSBench alloc-check`: the VS/TUN path must not allocate either.
    static func allocCheck() -> Bool {
        let ipip = established(type: .ipip, flows: 1000, packets: 1_000_000)
        let gue = established(type: .gue, flows: 1000, packets: 1_000_000)
        print("engine.alloc_check.tunnel_mallocs \(ipip.mallocs + gue.mallocs) allocs")
        return ipip.mallocs + gue.mallocs == 0
    }
}
