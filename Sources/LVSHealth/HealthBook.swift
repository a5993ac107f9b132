import LVSControl
import LVSEngine
import LVSPacket

/// A real server of a service, as health checking names it.
public struct ServerID: Hashable, Sendable, CustomStringConvertible {
    public var service: ServiceKey
    public var address: IPAddress
    public var port: UInt16
    public init(_ service: ServiceKey, _ address: IPAddress, _ port: UInt16) {
        self.service = service
        self.address = address
        self.port = port
    }
    public var description: String { "\(Endpoint(address, port))" }
}

/// One checker of one real server.
public struct CheckerID: Hashable, Sendable {
    public var server: ServerID
    public var index: Int
}

/// Something health checking changed, with the reason; lvsd logs each one and runs its command.
public enum HealthEvent: Sendable, Equatable, CustomStringConvertible {
    case serverUp(ServerID, reason: String)
    case serverDown(ServerID, reason: String, inhibited: Bool)
    case weightChanged(ServerID, from: Int32, to: Int32, reason: String)
    case quorumLost(ServiceKey, aliveWeight: Int, quorum: Int, sorry: DestinationSpec?)
    case quorumGained(ServiceKey, aliveWeight: Int, quorum: Int)

    public var description: String {
        switch self {
        case .serverUp(let id, let reason):
            return "real server \(id) of \(id.service) UP: \(reason)"
        case .serverDown(let id, let reason, let inhibited):
            return "real server \(id) of \(id.service) DOWN (\(inhibited ? "weight 0, inhibit_on_failure" : "removed")): \(reason)"
        case .weightChanged(let id, let from, let to, let reason):
            return "real server \(id) of \(id.service) weight \(from) -> \(to): \(reason)"
        case .quorumLost(let key, let alive, let quorum, let sorry):
            return "service \(key) lost its quorum (live weight \(alive) < \(quorum))"
                + (sorry.map { ": sorry server \(Endpoint($0.address, $0.port)) takes over" } ?? "")
        case .quorumGained(let key, let alive, let quorum):
            return "service \(key) has its quorum again (live weight \(alive) >= \(quorum))"
        }
    }
}

/// The health of every checked server and service, and the engine configuration it implies.
///
/// Pure: the clock comes in as `now` (seconds), probes come in as outcomes, and the result is an
/// `LVSDConfiguration` for `ConfigApplier` (the same path as a reload or lvsadm edit). The
/// configured weights stay the source of truth; this only derives effective ones:
/// - a dead server is removed, or kept at weight 0 with inhibit_on_failure;
/// - misc_dynamic replaces the weight; an agent's percentage scales it; agent "drain" makes it 0;
/// - while a service's live weight is below its quorum (with hysteresis), its real servers are
///   taken out and the sorry server (if any) is installed.
public struct HealthBook: Sendable {
    public private(set) var config: LVSDConfiguration
    public private(set) var checkers: [CheckerID: CheckerMachine] = [:]
    /// Per service: does it have its quorum?
    public private(set) var quorumUp: [ServiceKey: Bool] = [:]

    public init(_ config: LVSDConfiguration, now: Double) {
        self.config = config
        for sh in config.health {
            for s in sh.servers {
                for (i, c) in s.checks.enumerated() {
                    let id = CheckerID(server: ServerID(sh.key, s.address, s.port), index: i)
                    checkers[id] = CheckerMachine(spec: c, alpha: s.alpha, now: now)
                }
            }
        }
        for sh in config.health { quorumUp[sh.key] = liveWeight(sh) >= sh.quorum }
    }

    /// A book for a new configuration that keeps the state of every checker whose server and
    /// spec did not change (SIGHUP must not bounce healthy servers).
    public func reconfigured(_ fresh: LVSDConfiguration, now: Double) -> HealthBook {
        var book = HealthBook(fresh, now: now)
        for (id, machine) in book.checkers {
            if let old = checkers[id], old.spec == machine.spec { book.checkers[id] = old }
        }
        for sh in fresh.health {
            if let was = quorumUp[sh.key] { book.quorumUp[sh.key] = was }
        }
        return book
    }

    func serviceHealth(_ key: ServiceKey) -> ServiceHealth? { config.health.first { $0.key == key } }

    func configuredDestination(_ id: ServerID) -> DestinationSpec? {
        config.services.first { $0.key == id.service }?.destinations.first { $0.address == id.address && $0.port == id.port }
    }

    func machines(_ id: ServerID) -> [CheckerMachine] {
        guard let s = serviceHealth(id.service)?.server(id.address, id.port) else { return [] }
        return (0..<s.checks.count).compactMap { checkers[CheckerID(server: id, index: $0)] }
    }

    /// Alive when every checker is up (a server without checkers always is).
    public func isAlive(_ id: ServerID) -> Bool { machines(id).allSatisfy(\.isUp) }

    /// Why the server is in its state: the first down checker's reason, else the last checker's.
    public func reason(_ id: ServerID) -> String {
        let m = machines(id)
        return (m.first { !$0.isUp } ?? m.last)?.reason ?? "no checker"
    }

    /// The weight the server gets while alive: configured, misc_dynamic, agent percentage/drain.
    public func liveWeight(_ id: ServerID) -> Int32 {
        guard let d = configuredDestination(id) else { return 0 }
        var w = Int(d.weight)
        for m in machines(id) {
            if let dw = m.dynamicWeight { w = dw }
        }
        for m in machines(id) where m.spec.kind == .agent {
            if let p = m.agentPercent {
                let scaled = (w * p + 50) / 100
                w = p > 0 && w > 0 ? max(1, scaled) : 0
            }
            if m.agentDrain { w = 0 }
        }
        return Int32(min(max(w, 0), 65535))
    }

    func liveWeight(_ sh: ServiceHealth) -> Int {
        sh.servers.reduce(0) { sum, s in
            let id = ServerID(sh.key, s.address, s.port)
            return sum + (isAlive(id) ? Int(liveWeight(id)) : 0)
        }
    }

    /// The checker due first, and when.
    public var nextDue: (CheckerID, Double)? {
        checkers.min { $0.value.nextDue < $1.value.nextDue }.map { ($0.key, $0.value.nextDue) }
    }

    /// Records one probe outcome; returns what changed.
    public mutating func record(_ id: CheckerID, _ outcome: ProbeOutcome, now: Double) -> [HealthEvent] {
        guard var m = checkers[id], let sh = serviceHealth(id.server.service),
              let rs = sh.server(id.server.address, id.server.port)
        else { return [] }
        let wasAlive = isAlive(id.server)
        let oldWeight = liveWeight(id.server)
        _ = m.record(outcome, now: now)
        checkers[id] = m
        var events: [HealthEvent] = []
        let alive = isAlive(id.server)
        let weight = liveWeight(id.server)
        if wasAlive && !alive {
            events.append(.serverDown(id.server, reason: reason(id.server), inhibited: rs.inhibitOnFailure))
        } else if !wasAlive && alive {
            events.append(.serverUp(id.server, reason: m.reason))
        }
        if alive && wasAlive && weight != oldWeight {
            events.append(.weightChanged(id.server, from: oldWeight, to: weight, reason: m.reason))
        }
        let live = liveWeight(sh)
        let had = quorumUp[sh.key] ?? true
        if had && live < sh.quorum - sh.hysteresis {
            quorumUp[sh.key] = false
            events.append(.quorumLost(sh.key, aliveWeight: live, quorum: sh.quorum, sorry: sh.sorryServer))
        } else if !had && live >= sh.quorum + sh.hysteresis {
            quorumUp[sh.key] = true
            events.append(.quorumGained(sh.key, aliveWeight: live, quorum: sh.quorum))
        }
        return events
    }

    /// The configuration the engine should run now.
    public var effectiveConfiguration: LVSDConfiguration {
        var out = config
        for (i, service) in out.services.enumerated() {
            guard let sh = serviceHealth(service.key) else { continue }
            let quorate = quorumUp[sh.key] ?? true
            var dests: [DestinationSpec] = []
            for d in service.destinations {
                let id = ServerID(sh.key, d.address, d.port)
                let inhibit = sh.server(d.address, d.port)?.inhibitOnFailure ?? false
                var e = d
                if isAlive(id) && quorate {
                    e.weight = liveWeight(id)
                    dests.append(e)
                } else if inhibit {
                    e.weight = 0
                    dests.append(e)
                }
            }
            if !quorate, let sorry = sh.sorryServer { dests.append(sorry) }
            out.services[i].destinations = dests
        }
        return out
    }

    /// Every checked server's state, for listings and metrics.
    public var servers: [(id: ServerID, alive: Bool, configured: Int32, effective: Int32, reason: String)] {
        let eff = effectiveConfiguration
        var out: [(id: ServerID, alive: Bool, configured: Int32, effective: Int32, reason: String)] = []
        for sh in config.health {
            let effService = eff.services.first { $0.key == sh.key }
            for s in sh.servers {
                let id = ServerID(sh.key, s.address, s.port)
                let e = effService?.destinations.first { $0.address == s.address && $0.port == s.port }?.weight ?? 0
                out.append((id, isAlive(id), configuredDestination(id)?.weight ?? 0, e, reason(id)))
            }
        }
        return out
    }
}
