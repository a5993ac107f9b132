import LVSPacket
import Testing

@testable import LVSEngine

/// Random TCP traffic over an address service, a persistent one and a service group, interleaved
/// with clock jumps, short FIN/TIME_WAIT/CLOSE timeouts, removal and re-adding of real servers
/// and persistence switched on and off (what Tests/EndToEnd/nat.sh does to one lvsd). After every
/// step the table's structure is checked (free list, hash chains, timer wheel, destination
/// counters), and no entry may disappear unless its timeout passed or its server was removed.
@Suite struct ConnectionLifecyclePropertyTests {
    static let vip = IPAddress("10.0.0.100")!
    static let servers = [IPAddress("192.168.10.2")!, IPAddress("192.168.10.3")!, IPAddress("192.168.10.4")!]
    static let web = ServiceKey(.tcp, vip, 80)
    static let sticky = ServiceKey(.tcp, vip, 81)
    static let group = ServiceKey(fwmark: 5)
    static let groupMatch = ServiceMatch(.tcp, vip, ports: 9000...9001)

    struct Flow: Hashable {
        var client: IPAddress
        var port: UInt16
        var vport: UInt16
    }

    @Test(arguments: [UInt64(1), 2, 3, 4, 5, 6, 7, 8])
    func entriesOnlyGoWhenDue(seed: UInt64) throws {
        try walk(seed: seed, steps: 4_000, persist: 3_000, established: 6_000, longJump: 9_000)
    }

    /// nat.sh's figures: 30 s ESTABLISHED, 2 s in the closing states, 60 s persistence, clock
    /// jumps past the wheel's span (8192 ticks of 16 ms).
    @Test(arguments: [UInt64(11), 12, 13, 14])
    func entriesOnlyGoWhenDueWithEndToEndTimeouts(seed: UInt64) throws {
        try walk(seed: seed, steps: 6_000, persist: 60_000, established: 30_000, longJump: 140_000)
    }

    func walk(seed: UInt64, steps: Int, persist: UInt64, established: UInt64, longJump: UInt64) throws {
        let capacity = 48
        var now: UInt64 = 5_000_000
        let d = Director(DirectorConfiguration(connectionCapacity: capacity), now: Timestamp(milliseconds: now))
        var t = Timeouts.ipvsDefaults
        t[.established] = established
        t[.finWait] = 2_000
        t[.timeWait] = 2_000
        t[.close] = 2_000
        t[.synRecv] = 5_000
        t[.closeWait] = 2_000
        t[.lastAck] = 2_000
        d.setTimeouts(t)
        try d.addService(ServiceSpec(Self.web, scheduler: "rr"))
        try d.addService(ServiceSpec(Self.sticky, scheduler: "rr", persistence: Persistence(timeout: persist)))
        try d.addService(ServiceSpec(Self.group, scheduler: "rr", matches: [Self.groupMatch]))
        var present: [ServiceKey: Set<IPAddress>] = [:]
        for key in [Self.web, Self.sticky, Self.group] {
            for rs in Self.servers {
                try d.addDestination(DestinationSpec(address: rs, port: 8080), to: key)
            }
            present[key] = Set(Self.servers)
        }
        let h = FrameHarness(d)
        var rng = SplitMix64(seed: seed)
        var flows: [Flow] = []
        var groupPersistent = false

        func key(_ f: Flow) -> ServiceKey { f.vport == 80 ? Self.web : f.vport == 81 ? Self.sticky : Self.group }
        func send(_ f: Flow, _ flags: UInt8, reply: Bool) -> Verdict {
            let server = d.table.lookupIn(IPProto.tcp, client: f.client, cport: f.port, virtual: Self.vip, vport: f.vport)
            if reply {
                guard server != nilIndex else { return .notOurs }
                let c = d.table.entries[Int(server)]
                let frame = Lab.eth().ipv4(src: c.dest, dst: f.client).tcp(src: c.destPort, dst: f.port, flags: flags).bytes()
                return h.run(frame, now: Timestamp(milliseconds: now)).0
            }
            let frame = Lab.eth().ipv4(src: f.client, dst: Self.vip).tcp(src: f.port, dst: f.vport, flags: flags).bytes()
            return h.run(frame, now: Timestamp(milliseconds: now)).0
        }

        for step in 0..<steps {
            let before = liveEntries(d)
            var advancedTo: UInt64? = nil
            var touched: Flow? = nil
            switch rng.next() % 16 {
            case 0..<4:  // a new connection (sometimes a SYN reusing a finished flow's tuple)
                let f: Flow
                if !flows.isEmpty && rng.next() % 3 == 0 {
                    f = flows[Int(rng.next() % UInt64(flows.count))]
                } else {
                    let vports: [UInt16] = [80, 81, 9000, 9001]
                    f = Flow(client: IPAddress(192, 0, 2, UInt8(10 + rng.next() % 3)), port: UInt16(20_000 + rng.next() % 400),
                             vport: vports[Int(rng.next() % 4)])
                    if !flows.contains(f) { flows.append(f) }
                }
                touched = f
                _ = send(f, TCPFlag.syn, reply: false)
            case 4..<10:  // a segment of a live flow, either way
                guard !flows.isEmpty else { continue }
                let f = flows[Int(rng.next() % UInt64(flows.count))]
                touched = f
                let choices: [UInt8] = [TCPFlag.syn | TCPFlag.ack, TCPFlag.ack, TCPFlag.fin | TCPFlag.ack, TCPFlag.rst]
                _ = send(f, choices[Int(rng.next() % 4)], reply: rng.next() % 2 == 0)
            case 10..<13:  // time passes
                now += rng.next() % (rng.next() % 5 == 0 ? (rng.next() % 8 == 0 ? longJump : 9_000) : 400)
                d.advance(to: Timestamp(milliseconds: now))
                advancedTo = now
            case 13:  // a server leaves or comes back
                let keys = [Self.web, Self.sticky, Self.group]
                let k = keys[Int(rng.next() % 3)]
                let rs = Self.servers[Int(rng.next() % 3)]
                let port: UInt16 = 8080
                if present[k]!.contains(rs) {
                    try d.removeDestination(address: rs, port: port, from: k)
                    present[k]!.remove(rs)
                } else {
                    try d.addDestination(DestinationSpec(address: rs, port: port), to: k)
                    present[k]!.insert(rs)
                }
            case 14:  // persistence of the group switched (ipvsadm -E -f 5 -s rr [-p 3])
                groupPersistent.toggle()
                try d.editService(ServiceSpec(
                    Self.group, scheduler: "rr", persistence: groupPersistent ? Persistence(timeout: persist) : nil,
                    matches: [Self.groupMatch]))
            default:  // a short advance, as the data plane does between batches
                now += rng.next() % 40
                d.advance(to: Timestamp(milliseconds: now))
                advancedTo = now
            }
            try checkStructure(d, step: step)
            // Anything that vanished must have been due, or its server gone.
            let after = liveEntries(d)
            for (k, e) in before where after[k] == nil {
                let due = advancedTo.map { e.expires <= $0 } ?? false
                let serverGone = !d.dests[Int(e.destSlot)].isAvailable || e.flags & Connection.flagInUse == 0
                // A SYN may re-point a finished flow; a client's new flow may drop its invalid template.
                let reused = touched.map { k.template ? $0.client == k.client : ($0.client == k.client && $0.port == k.port && $0.vport == k.vport) } ?? false
                #expect(due || serverGone || reused,
                        "step \(step): \(k) vanished with \(Int64(e.expires) - Int64(advancedTo ?? now)) ms left")
            }
        }
    }

    struct EntryKey: Hashable, CustomStringConvertible {
        var client: IPAddress
        var port: UInt16
        var vport: UInt16
        var template: Bool
        var description: String { "\(template ? "template " : "")\(client):\(port) -> :\(vport)" }
    }

    func liveEntries(_ d: Director) -> [EntryKey: Connection] {
        var out: [EntryKey: Connection] = [:]
        for i in 0..<d.table.capacity {
            let c = d.table.entries[i]
            guard c.flags & Connection.flagInUse != 0 else { continue }
            out[EntryKey(client: c.client, port: c.clientPort, vport: c.virtualPort,
                         template: c.flags & Connection.flagTemplate != 0)] = c
        }
        return out
    }

    /// The free list, hash chains, timer wheel and destination counters agree with the entries.
    func checkStructure(_ d: Director, step: Int) throws {
        let table = d.table
        var inUse = Set<UInt32>()
        for i in 0..<table.capacity where table.entries[i].flags & Connection.flagInUse != 0 { inUse.insert(UInt32(i)) }
        try #require(inUse.count == table.count, "step \(step): count \(table.count) but \(inUse.count) in use")
        // Free list: exactly the entries not in use, no cycle.
        var free = Set<UInt32>()
        var f = table.freeHead
        while f != nilIndex {
            try #require(!inUse.contains(f), "step \(step): live entry \(f) is on the free list")
            try #require(free.insert(f).inserted, "step \(step): free list cycles at \(f)")
            f = table.entries[Int(f)].timerNext
        }
        try #require(free.count == table.capacity - table.count, "step \(step): free list holds \(free.count)")
        // Timer wheel: every live entry exactly once, with consistent back links.
        var filed = Set<UInt32>()
        for s in 0..<ConnectionTable.wheelSlots {
            var prev = ConnectionTable.headMark | UInt32(s)
            var i = table.wheel[s]
            while i != nilIndex {
                try #require(inUse.contains(i), "step \(step): free entry \(i) in wheel slot \(s)")
                try #require(filed.insert(i).inserted, "step \(step): entry \(i) filed twice")
                try #require(table.entries[Int(i)].timerPrev == prev, "step \(step): entry \(i) has a stale back link")
                prev = i
                i = table.entries[Int(i)].timerNext
            }
        }
        try #require(filed == inUse, "step \(step): \(inUse.subtracting(filed).sorted()) live but in no wheel slot")
        // Hash chains and destination counters.
        var refs: [UInt32: (conns: UInt32, templates: UInt32)] = [:]
        var outCollisions = 0
        for i in inUse {
            let c = table.entries[Int(i)]
            if c.flags & Connection.flagTemplate != 0 {
                refs[c.destSlot, default: (0, 0)].templates += 1
                continue
            }
            refs[c.destSlot, default: (0, 0)].conns += 1
            try #require(table.lookupIn(c.proto, client: c.client, cport: c.clientPort, virtual: c.virtual, vport: c.virtualPort) == i,
                         "step \(step): entry \(i) not found by its IN key")
            let (peer, peerPort) = table.outPeer(table.entries + Int(i))
            // Two flows of one client port to two ports of the VIP that reach the same server share
            // an OUT key (as in IPVS): the lookup finds one of them.
            let out = table.lookupOut(c.proto, dest: c.dest, dport: c.destPort, client: peer, cport: peerPort)
            try #require(out != nilIndex, "step \(step): entry \(i) not found by its OUT key")
            if out != i {
                let o = table.entries[Int(out)]
                try #require(o.dest == c.dest && o.destPort == c.destPort && o.client == c.client && o.clientPort == c.clientPort,
                             "step \(step): entry \(i)'s OUT key finds \(out)")
                outCollisions += 1
            }
            if c.control != nilIndex {
                try #require(inUse.contains(c.control), "step \(step): entry \(i) controlled by a free template")
            }
        }
        _ = outCollisions
        for ds in 0..<d.destHighWater {
            let s = d.dests[ds]
            let r = refs[UInt32(ds)] ?? (0, 0)
            if s.flags & DestinationState.flagInUse == 0 {
                try #require(r.conns == 0 && r.templates == 0, "step \(step): freed server slot \(ds) still referenced by \(r)")
                continue
            }
            try #require(s.activeConns &+ s.inactiveConns == r.conns, "step \(step): slot \(ds) counts \(s.activeConns)+\(s.inactiveConns), \(r.conns) entries")
            try #require(s.persistConns == r.templates, "step \(step): slot \(ds) counts \(s.persistConns) templates, \(r.templates) entries")
        }
    }
}
