import LVSEngine
import LVSPacket
import NIOConcurrencyHelpers

/// A pool at run time: the engine's scheduler over the pool's servers, passive health and
/// per-server counters. Shared by every event loop, so one lock guards it (a decision is a few
/// hundred nanoseconds; the lock is held for nothing else).
///
/// The servers are `DestinationState` records, the engine's own type, so every SwiftLVS
/// scheduler runs unchanged: in-flight requests count as active connections (lc, wlc, sed, nq,
/// lblc), and a server taken out by health gets weight 0 and the overload flag, which every
/// scheduler honours. Content-aware keys reach the engine's hashing schedulers as addresses: the
/// request key's hash is the "destination address" lblc/lblcr/dh key on, and the "client
/// address" sh/mh key on when a `hash_key` is configured.
public final class L7Pool: @unchecked Sendable {
    public let configuration: L7PoolConfiguration
    let lock = NIOLock()
    let scheduler: any Scheduler
    let states: UnsafeMutablePointer<DestinationState>
    let slots: UnsafeMutablePointer<UInt32>
    var health: [Health]
    var random: UInt64 = 0x9e37_79b9_7f4a_7c15
    let hashesClient: Bool
    /// Whether the scheduler reads the request key (hashing and locality schedulers).
    public let usesKey: Bool

    struct Health {
        var consecutiveFailures = 0
        /// Monotonic ms until which the server is out; 0 when in.
        var downUntil: UInt64 = 0
        var failures: UInt64 = 0
        /// Active health: the server's checker says it is down (it stays out until it passes).
        var checkDown = false
        /// The checker's last reason; nil when the pool has no `health_check`.
        var checkReason: String?
    }

    public init(_ c: L7PoolConfiguration) {
        configuration = c
        scheduler = SchedulerRegistry.make(c.scheduler) ?? RoundRobinScheduler()
        scheduler.flags = c.schedulerFlags
        let n = max(c.servers.count, 1)
        states = .allocate(capacity: n)
        states.initialize(repeating: DestinationState(), count: n)
        slots = .allocate(capacity: n)
        for (i, s) in c.servers.enumerated() {
            slots[i] = UInt32(i)
            states[i].address = s.address
            states[i].port = s.port
            states[i].weight = s.weight
            states[i].flags = DestinationState.flagInUse | DestinationState.flagAvailable
        }
        health = Array(repeating: Health(checkReason: c.healthCheck == nil ? nil : "not checked yet"),
                       count: c.servers.count)
        hashesClient = c.hashKey != nil
        usesKey = ["lblc", "lblcr", "dh", "sh", "mh"].contains(c.scheduler)
        scheduler.update(list, change: .reset)
    }

    deinit {
        states.deallocate()
        slots.deallocate()
    }

    var list: DestinationList {
        DestinationList(states: states, slots: UnsafeBufferPointer(start: slots, count: configuration.servers.count))
    }

    public var servers: [L7Server] { configuration.servers }

    /// The server for a request: the one its persistence cookie names if that one is up, else
    /// the scheduler's choice; nil when none may take it. `avoid` (a server that just failed
    /// this request) is skipped when another server is up. Counts the request as in flight.
    public func pick(key: UInt64, client: IPAddress, cookieServer: Int?, avoid: Int? = nil,
                     now: UInt64) -> Int? {
        lock.withLock {
            reviveExpired(now)
            var chosen: Int?
            if let c = cookieServer, c != avoid, isUp(c) {
                chosen = c
            } else {
                let keyAddress = IPAddress(hi: 0x2001_0db8_0000_0000, lo: key)
                random = random &* 6364136223846793005 &+ 1442695040888963407
                let input = SchedulingInput(
                    proto: 6, clientAddress: hashesClient ? keyAddress : client, clientPort: 0,
                    virtualAddress: keyAddress, virtualPort: 80, random: random,
                    now: Timestamp(milliseconds: now))
                chosen = scheduler.schedule(list, input)
                if let a = avoid, chosen == a || chosen == nil {
                    // The scheduler's choice is the server that just failed (hashing) or none: take
                    // the next one up, in list order.
                    chosen = nil
                    for step in 1..<max(configuration.servers.count, 1) {
                        let p = (a + step) % configuration.servers.count
                        if isUp(p) {
                            chosen = p
                            break
                        }
                    }
                }
            }
            if let p = chosen {
                states[p].activeConns &+= 1
                states[p].stats.connections &+= 1
            }
            return chosen
        }
    }

    func isUp(_ p: Int) -> Bool {
        p >= 0 && p < configuration.servers.count && health[p].downUntil == 0 && !health[p].checkDown
        && states[p].weight > 0
    }

    /// A request on `server` is over: `failed` when the server could not be reached or broke the
    /// exchange (transport failures, not HTTP status codes).
    public func finished(_ server: Int, failed: Bool, bytesIn: Int, bytesOut: Int, now: UInt64) {
        lock.withLock {
            states[server].activeConns &-= 1
            states[server].stats.inBytes &+= UInt64(bytesIn)
            states[server].stats.outBytes &+= UInt64(bytesOut)
            if failed {
                health[server].failures &+= 1
                health[server].consecutiveFailures += 1
                if health[server].consecutiveFailures >= configuration.failThreshold && health[server].downUntil == 0 {
                    health[server].downUntil = max(now + configuration.failTimeoutMilliseconds, 1)
                    applyHealth(server)
                }
            } else {
                health[server].consecutiveFailures = 0
            }
        }
    }

    /// Servers whose time out is over get traffic again (a failure takes them out again at once
    /// only after `failThreshold` more).
    func reviveExpired(_ now: UInt64) {
        for i in health.indices where health[i].downUntil != 0 && health[i].downUntil <= now {
            health[i].downUntil = 0
            health[i].consecutiveFailures = 0
            applyHealth(i)
        }
    }

    /// Brings server `i`'s scheduler record in line with its health: out (weight 0, overload)
    /// while passive health has it timed out or its checker says down, else its configured weight.
    func applyHealth(_ i: Int) {
        let out = health[i].downUntil != 0 || health[i].checkDown
        states[i].weight = out ? 0 : configuration.servers[i].weight
        if out {
            states[i].flags |= DestinationState.flagOverload
        } else {
            states[i].flags &= ~DestinationState.flagOverload
        }
        scheduler.update(list, change: .edited(position: i))
    }

    /// An active checker's verdict on `server` (from a checker thread, never an event loop).
    /// A server whose check comes back up also leaves a passive time-out at once: the failures
    /// that caused it were most likely the outage the checker saw end.
    public func checked(_ server: Int, up: Bool, reason: String) {
        lock.withLock {
            health[server].checkReason = reason
            guard health[server].checkDown == up else { return }
            health[server].checkDown = !up
            if up {
                health[server].downUntil = 0
                health[server].consecutiveFailures = 0
            }
            applyHealth(server)
        }
    }

    /// The server a persistence cookie value names.
    public func server(cookieValue: Substring) -> Int? {
        configuration.servers.firstIndex { $0.cookieValue == cookieValue }
    }

    /// A consistent copy of the counters, for listings and tests.
    public func snapshot(now: UInt64) -> [L7ServerStats] {
        lock.withLock {
            reviveExpired(now)
            return configuration.servers.indices.map { i in
                L7ServerStats(server: configuration.servers[i], up: health[i].downUntil == 0 && !health[i].checkDown,
                              inFlight: states[i].activeConns, requests: states[i].stats.connections,
                              failures: health[i].failures, bytesIn: states[i].stats.inBytes,
                              bytesOut: states[i].stats.outBytes,
                              checkUp: health[i].checkReason == nil ? nil : !health[i].checkDown,
                              checkReason: health[i].checkReason)
            }
        }
    }
}

/// One server's counters.
public struct L7ServerStats: Sendable, Equatable {
    public var server: L7Server
    public var up: Bool
    public var inFlight: UInt32
    public var requests: UInt64
    public var failures: UInt64
    /// Bytes from the server (response) and to it (request), bodies included.
    public var bytesIn: UInt64
    public var bytesOut: UInt64
    /// The active checker's state (nil: the pool has no `health_check`) and its last reason.
    public var checkUp: Bool? = nil
    public var checkReason: String? = nil
}

/// The key a pool's hashing schedulers see for a request.
extension L7HashKey {
    static func hash(_ key: L7HashKey?, _ r: some L7RequestFields, client: IPAddress) -> UInt64 {
        var h = FNV1a()
        switch key {
        case nil, .path?: h.add(r.path)
        case .uri?: h.add(r.target)
        case .host?: h.add(r.hostName ?? "")
        case .client?: return client.hi ^ client.lo &* 0x9e37_79b9_7f4a_7c15
        case .header(let name)?: h.add(r.header(name) ?? "")
        case .cookie(let name)?: h.add(L7Cookies.value(of: name, in: r.header("cookie")) ?? "")
        }
        return h.value
    }
}

/// Reading a cookie from a Cookie header ("a=1; b=2").
public enum L7Cookies {
    public static func value(of name: String, in header: String?) -> Substring? {
        guard let header else { return nil }
        for part in header.split(separator: ";") {
            let p = part.drop { $0 == " " }
            guard let eq = p.firstIndex(of: "=") else { continue }
            if p[..<eq] == name { return p[p.index(after: eq)...] }
        }
        return nil
    }
}
