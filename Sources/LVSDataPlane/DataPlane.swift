#if canImport(Glibc)
import Glibc
#endif
import CLinuxNet
import Dispatch
import LVSEngine
import LVSPacket

/// The director's data plane: one worker thread that reads every interface's AF_PACKET ring in
/// batches, runs each frame through the engine, resolves next hops with its own ARP and routes,
/// and sends with sendmmsg. It answers ARP for the VIPs (the VIPs live here, not on a kernel
/// interface). Frames that are not the director's business are simply not touched: the kernel
/// receives its own copy of every frame and handles them.
///
/// The engine is owned by the worker thread; other threads reach it only through `perform`,
/// which runs a closure between two batches (no lock on the packet path).
public final class DataPlane: @unchecked Sendable {
    public let interfaces: [NetInterface]
    let rings: [PacketRing]
    let director: Director
    var routes: RouteTable
    var neighbors = NeighborTable()
    /// Frames waiting for a neighbour: fixed pool, each slot a copy (virtio header included).
    var pending: PendingFrames
    /// VIPs answered by ARP, with the interfaces they are answered on.
    var vipInterfaces: [IPAddress: [Int]] = [:]

    let wakeFD: Int32
    let lock = NSLockLike()
    var tasks: [() -> Void] = []
    var running = true
    var thread: pthread_t?
    public internal(set) var stats = DataPlaneCounters()

    /// Frames gathered for transmit per interface in one batch.
    var tx: [UnsafeMutablePointer<clinuxnet_tx>]
    var txCount: [Int]
    static let batch = 64
    /// From this many tracked connections on, batches go through the engine's warmed path: its
    /// up-front loads pay off once the table no longer fits in the caches (engine benchmark:
    /// 1.7-2.1x at 1M flows, slower at 1k).
    /// LVSD_WARM_THRESHOLD overrides it (the end-to-end tests set 0 to run every batch warmed).
    let warmThreshold = getenv("LVSD_WARM_THRESHOLD").flatMap { Int(String(cString: $0)) } ?? 65_536
    let batchSlots = UnsafeMutablePointer<PacketRing.Slot>.allocate(capacity: DataPlane.batch)
    let batchFrames = UnsafeMutablePointer<Frame>.allocate(capacity: DataPlane.batch)
    let batchVerdicts = UnsafeMutablePointer<Verdict>.allocate(capacity: DataPlane.batch)
    /// Scratch space for ARP requests the director originates.
    let scratch = UnsafeMutableRawPointer.allocate(byteCount: 2048 * 64, alignment: 64)
    var scratchUsed = 0
    /// Segments of encapsulated VS/TUN super-frames awaiting transmit (DataPlane+Tunnel).
    static let segmentSlots = 128
    static let segmentSlotSize = 9216 + 128
    let segmentBuffer = UnsafeMutableRawPointer.allocate(byteCount: DataPlane.segmentSlots * DataPlane.segmentSlotSize, alignment: 64)
    var segmentsUsed = 0

    public init(interfaces names: [String], gateway: IPAddress?, director: Director) throws(DataPlaneError) {
        guard !names.isEmpty else { throw .configuration("no data-plane interface configured") }
        var ifs: [NetInterface] = []
        for n in names { ifs.append(try NetInterface.query(n)) }
        interfaces = ifs
        routes = try RouteTable(interfaces: ifs, gateway: gateway)
        var rs: [PacketRing] = []
        for n in names { rs.append(try PacketRing(interface: n)) }
        rings = rs
        self.director = director
        director.setTunnelPath(DataPlane.tunnelPath(ifs))
        pending = PendingFrames(slots: 256, slotSize: 2048)
        wakeFD = clinuxnet_eventfd()
        tx = names.map { _ in UnsafeMutablePointer<clinuxnet_tx>.allocate(capacity: DataPlane.batch * 2) }
        txCount = Array(repeating: 0, count: names.count)
    }

    deinit {
        for t in tx { t.deallocate() }
        batchSlots.deallocate()
        batchFrames.deallocate()
        batchVerdicts.deallocate()
        scratch.deallocate()
        segmentBuffer.deallocate()
        close(wakeFD)
    }

    // MARK: Control (any thread)

    /// Runs `body` on the worker thread between batches and returns its result.
    public func perform<T>(_ body: @escaping (Director) -> T) -> T {
        if thread == nil { return body(director) }
        let done = DispatchSemaphore(value: 0)
        var result: T?
        lock.withLock { tasks.append { result = body(self.director); done.signal() } }
        clinuxnet_wake(wakeFD)
        done.wait()
        return result!
    }

    /// Declares which VIPs the data plane answers ARP for. A VIP is answered on the interfaces
    /// whose connected subnet contains it, or on all interfaces when none does.
    public func setVIPs(_ vips: [IPAddress]) {
        let table = Dictionary(uniqueKeysWithValues: Set(vips).map { vip -> (IPAddress, [Int]) in
            let on = routes.connected.filter { vip.masked(prefixLength: $0.prefixLength) == $0.network }.map(\.interface)
            return (vip, on.isEmpty ? Array(0..<interfaces.count) : on)
        })
        perform { _ in self.vipInterfaces = table }
    }

    /// Asks for the MAC addresses of `addresses` now, so first packets do not wait.
    public func resolve(_ addresses: [IPAddress]) {
        perform { _ in
            let now = monotonicMilliseconds()
            for a in addresses { if let hop = self.routes.route(a) { self.requestNeighbor(hop, now: now) } }
            self.flushTX()
        }
    }

    /// Starts the worker thread.
    public func start() {
        let box = Unmanaged.passRetained(self)
        var t = pthread_t()
        pthread_create(&t, nil, { arg in
            let dp = Unmanaged<DataPlane>.fromOpaque(arg!).takeRetainedValue()
            dp.run()
            return nil
        }, box.toOpaque())
        thread = t
    }

    /// Puts the worker thread under SCHED_RR at `priority` (1...99). Returns 0 or the errno.
    public func setRealtimePriority(_ priority: Int32) -> Int32 {
        guard let t = thread else { return ESRCH }
        var p = sched_param()
        p.sched_priority = priority
        return pthread_setschedparam(t, SCHED_RR, &p)
    }

    /// Stops the worker thread and waits for it.
    public func stop() {
        guard let t = thread else { return }
        lock.withLock { tasks.append { self.running = false } }
        clinuxnet_wake(wakeFD)
        pthread_join(t, nil)
        thread = nil
    }

    public func counters() -> DataPlaneCounters { perform { _ in self.stats } }

    // MARK: The worker loop

    func run() {
        var fds = rings.map(\.fd)
        fds.append(wakeFD)
        let wakeBit: Int64 = 1 << Int64(rings.count)
        var lastAdvance: UInt64 = 0
        while running {
            // One system call per wake-up when idle; the rings are drained before sleeping again.
            let ready = clinuxnet_poll_in(fds, Int32(fds.count), 50)
            var now = monotonicMilliseconds()
            var more = true
            while more {
                more = false
                for i in 0..<rings.count {
                    if processBatch(interface: i, now: now) == DataPlane.batch { more = true }
                }
                now = monotonicMilliseconds()
            }
            if now != lastAdvance {
                director.advance(to: Timestamp(milliseconds: now))
                if pending.waiting > 0 { pending.expire(now: now) { self.stats.neighborTimeouts += 1 } }
                lastAdvance = now
            }
            if ready > 0 && ready & wakeBit != 0 {
                clinuxnet_drain(wakeFD)
                let work: [() -> Void] = lock.withLock {
                    let w = tasks
                    tasks.removeAll()
                    return w
                }
                for w in work { w() }
            }
        }
    }

    /// Processes up to one batch from ring `i`; returns how many frames it took.
    func processBatch(interface i: Int, now: UInt64) -> Int {
        let ring = rings[i]
        let time = Timestamp(milliseconds: now)
        var taken = 0
        var n = 0
        while taken < DataPlane.batch, let slot = ring.next() {
            taken += 1
            stats.received += 1
            if slot.truncated {
                stats.truncated += 1
                continue
            }
            let partial = slot.vnet.u8(0) & UInt8(VIRTIO_NET_HDR_F_NEEDS_CSUM) != 0
            batchSlots[n] = slot
            batchFrames[n] = Frame(base: slot.frame, length: slot.length, capacity: slot.capacity, checksumPartial: partial,
                                   gsoSize: DataPlane.gsoSize(slot.vnet))
            n += 1
        }
        guard taken > 0 else { return 0 }
        if director.connectionCount >= warmThreshold {
            // Large table: issue the batch's table loads together (Director+Batch).
            director.process(UnsafeMutableBufferPointer(start: batchFrames, count: n), verdicts: batchVerdicts, now: time)
        } else {
            for j in 0..<n { batchVerdicts[j] = director.process(&batchFrames[j], now: time) }
        }
        for j in 0..<n {
            let slot = batchSlots[j]
            let length = batchFrames[j].length
            switch batchVerdicts[j] {
            case let .forward(_, nextHop):
                if batchFrames[j].encapsulation != 0 {
                    forwardEncapsulated(slot, frame: batchFrames[j], nextHop: nextHop, now: now)
                } else {
                    forward(slot, length: length, nextHop: nextHop, now: now)
                }
            case .reply:
                // An answer written by the engine: full checksums, no offload metadata.
                clearVNet(slot.vnet)
                queue(i, slot.vnet, length + PacketRing.vnetHeaderSize)
                stats.replies += 1
            case .drop:
                stats.dropped += 1
            case .notOurs:
                handleNotOurs(slot, length: length, interface: i, now: now)
            }
        }
        flushTX()
        ring.releaseAll()
        return taken
    }

    func clearVNet(_ p: UnsafeMutableRawPointer) {
        p.setRaw64(0, 0)
        p.setRaw16(0, 8)
    }

    /// Routes a frame the engine forwarded and queues it with the right Ethernet addresses.
    func forward(_ slot: PacketRing.Slot, length: Int, nextHop: IPAddress, now: UInt64) {
        guard let hop = routes.route(nextHop) else {
            stats.noRoute += 1
            return
        }
        let out = hop.interface
        guard let mac = neighbors.lookup(hop.nextHop, now: now) else {
            stats.neighborMisses += 1
            if pending.add(slot.vnet, length: length + PacketRing.vnetHeaderSize, waitingFor: hop.nextHop, interface: out, now: now) {
                requestNeighbor(hop, now: now)
            } else {
                stats.neighborDrops += 1
            }
            return
        }
        mac.store(to: slot.frame, 0)
        interfaces[out].mac.store(to: slot.frame, 6)
        queue(out, slot.vnet, length + PacketRing.vnetHeaderSize)
        stats.forwarded += 1
    }

    /// ARP and IPv6 neighbour discovery: answer for the VIPs, learn neighbours. Everything else
    /// is the kernel's (it has its own copy of every frame).
    func handleNotOurs(_ slot: PacketRing.Slot, length: Int, interface i: Int, now: UInt64) {
        let f = slot.frame
        guard length >= HeaderSize.ethernet + HeaderSize.arpIPv4 else { return }
        if f.be16(12) == EtherType.ipv6 {
            handleNDP(slot, length: length, interface: i, now: now)
            return
        }
        guard f.be16(12) == EtherType.arp else { return }
        let arp = ARPView(unsafe: f + HeaderSize.ethernet)
        guard arp.isEthernetIPv4 else { return }
        let sender = arp.senderIP
        if sender != .zeroV4, routes.connectedRoute(sender)?.interface == i {
            neighbors.learn(sender, mac: arp.senderMAC, interface: i, now: now)
            sendPending(for: sender, mac: arp.senderMAC)
        }
        if arp.operation == ARPView.request, let on = vipInterfaces[arp.targetIP], on.contains(i) {
            ARP.answer(f, arpOffset: HeaderSize.ethernet, mac: interfaces[i].mac)
            clearVNet(slot.vnet)
            queue(i, slot.vnet, HeaderSize.ethernet + HeaderSize.arpIPv4 + PacketRing.vnetHeaderSize)
            stats.arpReplies += 1
        }
    }

    func handleNDP(_ slot: PacketRing.Slot, length: Int, interface i: Int, now: UInt64) {
        let f = slot.frame
        var p = PacketInfo()
        guard PacketParser.parse(f, length: length, into: &p) == nil, p.l4Protocol == IPProto.icmpv6 else { return }
        if let target = NDP.solicitationTarget(f, p) {
            if p.src != .zero, routes.connectedRoute(p.src)?.interface == i,
                let mac = NDP.linkLayerOption(f, p, type: NDP.sourceLinkLayer)
            {
                neighbors.learn(p.src, mac: mac, interface: i, now: now)
                sendPending(for: p.src, mac: mac)
            }
            if let on = vipInterfaces[target], on.contains(i) {
                var frame = Frame(base: f, length: length, capacity: slot.capacity)
                if NDP.advertise(&frame, p, mac: interfaces[i].mac) {
                    clearVNet(slot.vnet)
                    queue(i, slot.vnet, frame.length + PacketRing.vnetHeaderSize)
                    stats.arpReplies += 1
                }
            }
        } else if let target = NDP.advertisementTarget(f, p), routes.connectedRoute(target)?.interface == i,
            let mac = NDP.linkLayerOption(f, p, type: NDP.targetLinkLayer)
        {
            neighbors.learn(target, mac: mac, interface: i, now: now)
            sendPending(for: target, mac: mac)
        }
    }

    func requestNeighbor(_ hop: RouteTable.Hop, now: UInt64) {
        guard neighbors.shouldRequest(hop.nextHop, now: now), let c = routes.connectedRoute(hop.nextHop),
            scratchUsed < 64
        else { return }
        let p = scratch + scratchUsed * 2048
        scratchUsed += 1
        clearVNet(p)
        let len = hop.nextHop.isIPv4
            ? ARP.request(p + PacketRing.vnetHeaderSize, senderMAC: interfaces[c.interface].mac,
                          senderIP: c.localAddress, target: hop.nextHop)
            : NDP.solicit(p + PacketRing.vnetHeaderSize, senderMAC: interfaces[c.interface].mac,
                          senderIP: c.localAddress, target: hop.nextHop)
        queue(c.interface, p, len + PacketRing.vnetHeaderSize)
        stats.arpRequests += 1
    }

    func sendPending(for address: IPAddress, mac: MACAddress) {
        pending.take(waitingFor: address) { p, length, out in
            let frame = p + PacketRing.vnetHeaderSize
            mac.store(to: frame, 0)
            interfaces[out].mac.store(to: frame, 6)
            queue(out, p, length)
            stats.forwarded += 1
        }
    }

    func queue(_ i: Int, _ base: UnsafeMutableRawPointer, _ length: Int) {
        if txCount[i] == DataPlane.batch * 2 { flushTX() }
        tx[i][txCount[i]] = clinuxnet_tx(base: UnsafeRawPointer(base), len: length)
        txCount[i] += 1
    }

    func flushTX() {
        for i in 0..<rings.count where txCount[i] > 0 {
            let sent = rings[i].send(tx[i], count: txCount[i])
            stats.sent += UInt64(sent)
            stats.sendErrors += UInt64(txCount[i] - sent)
            txCount[i] = 0
        }
        scratchUsed = 0
        segmentsUsed = 0
        if pending.queued > 0 { pending.recycleSent() }
    }
}

/// Data-plane counters (frames seen by the rings and what became of them).
public struct DataPlaneCounters: Sendable, Equatable {
    public var received: UInt64 = 0
    public var forwarded: UInt64 = 0
    public var replies: UInt64 = 0
    public var dropped: UInt64 = 0
    public var sent: UInt64 = 0
    public var sendErrors: UInt64 = 0
    public var truncated: UInt64 = 0
    public var noRoute: UInt64 = 0
    public var neighborMisses: UInt64 = 0
    public var neighborDrops: UInt64 = 0
    public var neighborTimeouts: UInt64 = 0
    /// ARP replies and IPv6 neighbour advertisements sent for VIPs.
    public var arpReplies: UInt64 = 0
    /// ARP requests and IPv6 neighbour solicitations sent.
    public var arpRequests: UInt64 = 0
    /// VS/TUN super-frames cut into segments in software, and ones that could not be.
    public var tunnelSegmented: UInt64 = 0
    public var tunnelSegmentDrops: UInt64 = 0
    public init() {}
}

/// CLOCK_MONOTONIC in milliseconds: the engine's time base in the daemon.
public func monotonicMilliseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1000 + UInt64(ts.tv_nsec) / 1_000_000
}

/// A pthread mutex with a closure API (the data plane avoids Foundation).
final class NSLockLike: @unchecked Sendable {
    var m = pthread_mutex_t()
    init() { pthread_mutex_init(&m, nil) }
    deinit { pthread_mutex_destroy(&m) }
    func withLock<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(&m)
        defer { pthread_mutex_unlock(&m) }
        return body()
    }
}
