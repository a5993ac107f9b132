// Test support for the scheduler tests: a hand-driven server list for calling a Scheduler
// directly, and a small packet pump for driving a Director with real frames.
import LVSPacket
import Testing

@testable import LVSEngine

/// Owns a `DestinationState` arena and a slot list (list order = positions), and drives one
/// scheduler instance over it the way the Director does: `update(_:change:)` after every add, edit
/// or removal, `schedule` for each new connection.
///
/// Servers are named ("A", "B", ...) so expectations read like the spec's examples. Slots are
/// handed out from the top of the arena downwards, so a position is never equal to its slot:
/// a scheduler that confused the two would fail.
final class SchedulerHarness {
    let scheduler: any Scheduler
    let capacity: Int
    let states: UnsafeMutablePointer<DestinationState>
    /// Slot of each server, in list order.
    private(set) var slots: [UInt32] = []
    /// Name of each server, in list order (parallel to `slots`).
    private(set) var names: [String] = []
    private var nextSlot: Int

    init(_ scheduler: any Scheduler, capacity: Int = 64) {
        self.scheduler = scheduler
        self.capacity = capacity
        states = .allocate(capacity: capacity)
        states.initialize(repeating: DestinationState(), count: capacity)
        nextSlot = capacity - 1
    }

    /// A scheduler that takes over an already populated list (`update(.reset)`, as when a
    /// service's scheduler is switched, or IPVS's init_service on a list that has servers).
    convenience init(_ scheduler: any Scheduler, weights: [Int32], names: [String]? = nil) {
        self.init(scheduler)
        let names = names ?? weights.indices.map { String(UnicodeScalar(UInt8(65 + $0))) }
        for (n, w) in zip(names, weights) { append(n, weight: w) }
        notify(.reset)
    }

    deinit {
        states.deinitialize(count: capacity)
        states.deallocate()
    }

    var count: Int { slots.count }

    func position(_ name: String) -> Int {
        guard let p = names.firstIndex(of: name) else { fatalError("no server \(name)") }
        return p
    }

    func state(_ name: String) -> UnsafeMutablePointer<DestinationState> { states + Int(slots[position(name)]) }

    /// Appends a server without telling the scheduler. Its address is 192.168.1.(10 + position)
    /// unless given.
    private func append(_ name: String, weight: Int32, address: IPAddress? = nil, port: UInt16 = 8080) {
        precondition(nextSlot >= 0, "harness full")
        let s = UInt32(nextSlot)
        nextSlot -= 1
        var d = DestinationState()
        d.address = address ?? IPAddress(192, 168, 1, UInt8(truncatingIfNeeded: slots.count + 10))
        d.port = port
        d.weight = weight
        d.flags = DestinationState.flagInUse | DestinationState.flagAvailable
        states[Int(s)] = d
        slots.append(s)
        names.append(name)
    }

    func notify(_ change: DestinationChange) {
        let ro = UnsafePointer(states)
        slots.withUnsafeBufferPointer { scheduler.update(DestinationList(states: ro, slots: $0), change: change) }
    }

    /// ipvsadm -a: appended at the tail, then `update(.added)`.
    func add(_ name: String, weight: Int32, address: IPAddress? = nil, port: UInt16 = 8080) {
        append(name, weight: weight, address: address, port: port)
        notify(.added(position: slots.count - 1))
    }

    /// ipvsadm -e with a new weight, then `update(.edited)`.
    func setWeight(_ name: String, _ weight: Int32) {
        state(name).pointee.weight = weight
        notify(.edited(position: position(name)))
    }

    /// ipvsadm -d, then `update(.removed)`.
    func remove(_ name: String) {
        let p = position(name)
        slots.remove(at: p)
        names.remove(at: p)
        notify(.removed(position: p))
    }

    /// Sets or clears IP_VS_DEST_F_OVERLOAD (the engine does this on bind/unbind, without
    /// notifying the scheduler).
    func setOverloaded(_ name: String, _ on: Bool = true) {
        if on {
            state(name).pointee.flags |= DestinationState.flagOverload
        } else {
            state(name).pointee.flags &= ~DestinationState.flagOverload
        }
    }

    func setConns(_ name: String, active: UInt32, inactive: UInt32) {
        state(name).pointee.activeConns = active
        state(name).pointee.inactiveConns = inactive
    }

    static let input = SchedulingInput(
        proto: IPProto.tcp, clientAddress: IPAddress(192, 0, 2, 1), clientPort: 40000,
        virtualAddress: IPAddress(10, 0, 0, 100), virtualPort: 80, random: 0x1234_5678)

    /// The position `schedule` returns, or nil.
    func schedulePosition() -> Int? {
        let ro = UnsafePointer(states)
        return slots.withUnsafeBufferPointer { scheduler.schedule(DestinationList(states: ro, slots: $0), Self.input) }
    }

    /// The name of the chosen server, or nil.
    func pick() -> String? {
        guard let p = schedulePosition() else { return nil }
        precondition(p >= 0 && p < slots.count, "scheduler returned position \(p) of \(slots.count)")
        return names[p]
    }

    /// `n` choices; "-" stands for nil.
    func picks(_ n: Int) -> [String] { (0..<n).map { _ in pick() ?? "-" } }

    /// A new connection's fields, for schedulers that key on them (hashing, locality, twos).
    static func input(client: IPAddress = IPAddress(192, 0, 2, 1), port: UInt16 = 40000,
                      vip: IPAddress = IPAddress(10, 0, 0, 100), proto: UInt8 = IPProto.tcp, random: UInt64 = 0x1234_5678,
                      now: UInt64 = 0) -> SchedulingInput {
        SchedulingInput(proto: proto, clientAddress: client, clientPort: port, virtualAddress: vip, virtualPort: 80,
                        random: random, now: Timestamp(milliseconds: now))
    }

    /// The name of the server chosen for `input`, or nil.
    func pick(_ input: SchedulingInput) -> String? {
        let ro = UnsafePointer(states)
        guard let p = slots.withUnsafeBufferPointer({ scheduler.schedule(DestinationList(states: ro, slots: $0), input) })
        else { return nil }
        precondition(p >= 0 && p < slots.count, "scheduler returned position \(p) of \(slots.count)")
        return names[p]
    }

    /// `n` choices, each bound as an ESTABLISHED connection (active += 1): what sed, nq, ovf and
    /// LBLC's overload rule look at.
    func picksBindingActive(_ n: Int) -> [String] {
        (0..<n).map { _ in
            guard let name = pick() else { return "-" }
            state(name).pointee.activeConns += 1
            return name
        }
    }

    func setActive(_ name: String, _ n: UInt32) { state(name).pointee.activeConns = n }

    /// Active connections of every server, in list order.
    var active: [UInt32] { slots.map { states[Int($0)].activeConns } }

    /// The service's scheduler flags, as the Director hands them over.
    func setFlags(_ flags: UInt32) { scheduler.flags = flags }

    /// `n` choices, each bound as a new connection (inactive += 1), as the engine does for a
    /// connection that has just been created.
    func picksBinding(_ n: Int) -> [String] {
        (0..<n).map { _ in
            guard let name = pick() else { return "-" }
            state(name).pointee.inactiveConns += 1
            return name
        }
    }
}

/// "A A B" -> ["A", "A", "B"], for writing expected sequences compactly.
func sched(_ s: String) -> [String] { s.split(separator: " ").map(String.init) }

/// Runs frames built by PacketBuilder through a Director, reusing one buffer.
final class PacketPump {
    let director: Director
    let buffer: UnsafeMutableRawBufferPointer

    init(_ director: Director) {
        self.director = director
        buffer = .allocate(byteCount: 4096, alignment: 16)
    }

    deinit { buffer.deallocate() }

    func send(_ bytes: [UInt8], now: Timestamp) -> Verdict {
        precondition(bytes.count <= buffer.count)
        buffer.copyBytes(from: bytes)
        var frame = Frame(base: buffer.baseAddress!, length: bytes.count, capacity: buffer.count)
        return director.process(&frame, now: now)
    }

    func tcp(_ src: IPAddress, _ sport: UInt16, _ dst: IPAddress, _ dport: UInt16, _ flags: UInt8,
             now: Timestamp) -> Verdict {
        send(PacketBuilder().ethernet().ipv4(src: src, dst: dst).tcp(src: sport, dst: dport, flags: flags).bytes(),
             now: now)
    }

    func udp(_ src: IPAddress, _ sport: UInt16, _ dst: IPAddress, _ dport: UInt16, now: Timestamp) -> Verdict {
        send(PacketBuilder().ethernet().ipv4(src: src, dst: dst).udp(src: sport, dst: dport).payload("q").bytes(),
             now: now)
    }
}
