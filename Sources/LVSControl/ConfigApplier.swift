import LVSEngine
import LVSPacket

/// One change that bringing a `Director` in line with a configuration takes.
public enum ConfigChange: Sendable, Equatable, CustomStringConvertible {
    case removeService(ServiceKey)
    case removeDestination(ServiceKey, address: IPAddress, port: UInt16)
    /// A new scheduler or new scheduler flags for an existing service (connections keep their
    /// servers).
    case editService(ServiceSpec, old: ServiceSpec)
    /// New weight, thresholds or method for an existing server (its connections are kept).
    case editDestination(ServiceKey, DestinationSpec, old: DestinationSpec)
    case addService(ServiceSpec)
    case addDestination(ServiceKey, DestinationSpec)
    case setTimeouts(ConfigTimeouts, old: ConfigTimeouts)
    case setExpireQuiescentTemplate(Bool)
    /// A setting a running director cannot change (reported, not applied).
    case needsRestart(String)

    public var description: String {
        switch self {
        case .removeService(let key):
            return "remove service \(Self.name(key))"
        case .removeDestination(let key, let address, let port):
            return "remove real server \(Endpoint(address, port)) from \(Self.name(key))"
        case .editService(let spec, let old):
            var parts: [String] = []
            if spec.scheduler != old.scheduler { parts.append("scheduler \(old.scheduler) -> \(spec.scheduler)") }
            if spec.schedulerFlags != old.schedulerFlags || spec.scheduler != old.scheduler,
               old.schedulerFlags != 0 || spec.schedulerFlags != 0 {
                parts.append("scheduler_flags \(Self.flags(old)) -> \(Self.flags(spec))")
            }
            if spec.persistence != old.persistence {
                parts.append("persistence \(Self.persistence(old)) -> \(Self.persistence(spec))")
            }
            if spec.matches != old.matches {
                parts.append("match [\(old.matches.map(\.description).joined(separator: ", "))] -> "
                             + "[\(spec.matches.map(\.description).joined(separator: ", "))]")
            }
            if spec.onePacket != old.onePacket { parts.append("one_packet \(old.onePacket) -> \(spec.onePacket)") }
            if spec.udpTimeout != old.udpTimeout {
                func t(_ v: UInt64?) -> String { v.map { "\($0 / 1000) s" } ?? "global" }
                parts.append("udp_timeout \(t(old.udpTimeout)) -> \(t(spec.udpTimeout))")
            }
            if spec.virtualPortRange != old.virtualPortRange {
                func text(_ r: ClosedRange<UInt16>) -> String { "\(r.lowerBound)-\(r.upperBound)" }
                parts.append("vdport_range \(text(old.virtualPortRange)) -> \(text(spec.virtualPortRange))")
            }
            if spec.localAddresses != old.localAddresses {
                func text(_ l: [IPAddress]) -> String { "[" + l.map(\.description).joined(separator: ", ") + "]" }
                parts.append("local_addresses \(text(old.localAddresses)) -> \(text(spec.localAddresses))")
            }
            if spec.clientAddress != old.clientAddress {
                parts.append("client_address \(old.clientAddress.rawValue) -> \(spec.clientAddress.rawValue)")
            }
            return "edit service \(Self.name(spec.key)): " + parts.joined(separator: ", ")
        case .editDestination(let key, let d, let old):
            var parts: [String] = []
            if d.weight != old.weight { parts.append("weight \(old.weight) -> \(d.weight)") }
            if d.method != old.method { parts.append("method \(Self.method(old.method)) -> \(Self.method(d.method))") }
            if d.tunnel != old.tunnel && d.method == .tunnel {
                parts.append("tunnel \(Self.tunnel(old.tunnel)) -> \(Self.tunnel(d.tunnel))")
            }
            if d.upperThreshold != old.upperThreshold {
                parts.append("upper_threshold \(old.upperThreshold) -> \(d.upperThreshold)")
            }
            if d.lowerThreshold != old.lowerThreshold {
                parts.append("lower_threshold \(old.lowerThreshold) -> \(d.lowerThreshold)")
            }
            return "edit real server \(Endpoint(d.address, d.port)) of \(Self.name(key)): "
                + parts.joined(separator: ", ")
        case .addService(let spec):
            var text = "add service \(Self.name(spec.key)) (scheduler \(spec.scheduler)"
            if spec.schedulerFlags != 0 { text += ", scheduler_flags \(Self.flags(spec))" }
            if spec.persistence != nil { text += ", persistence \(Self.persistence(spec))" }
            return text + ")"
        case .addDestination(let key, let d):
            var text = "add real server \(Endpoint(d.address, d.port)) to \(Self.name(key)) (\(Self.method(d.method)), "
                + "weight \(d.weight)"
            if d.upperThreshold != 0 { text += ", upper_threshold \(d.upperThreshold)" }
            if d.lowerThreshold != 0 { text += ", lower_threshold \(d.lowerThreshold)" }
            return text + ")"
        case .setTimeouts(let t, let old):
            var parts: [String] = []
            if t.tcp != old.tcp { parts.append("tcp \(old.tcp) -> \(t.tcp) s") }
            if t.tcpfin != old.tcpfin { parts.append("tcpfin \(old.tcpfin) -> \(t.tcpfin) s") }
            if t.udp != old.udp { parts.append("udp \(old.udp) -> \(t.udp) s") }
            for (key, state) in ConfigTimeouts.stateKeys.sorted(by: { $0.key < $1.key }) where t.states[state] != old.states[state] {
                let was = old.states[state].map { "\($0)" } ?? "default"
                let now = t.states[state].map { "\($0)" } ?? "default"
                parts.append("\(key) \(was) -> \(now) s")
            }
            return "set timeouts: " + parts.joined(separator: ", ")
        case .setExpireQuiescentTemplate(let on):
            return "set expire_quiescent_template \(!on) -> \(on)"
        case .needsRestart(let why):
            return why
        }
    }

    /// `TCP 10.0.1.100:80`.
    static func name(_ key: ServiceKey) -> String { "\(key.proto) \(Endpoint(key.address, key.port))" }
    /// `[sh-fallback, sh-port]`, as the configuration file writes them.
    static func flags(_ spec: ServiceSpec) -> String {
        "[" + SchedulerFlagNames.names(spec.schedulerFlags, scheduler: spec.scheduler).joined(separator: ", ") + "]"
    }

    /// `{timeout: 360, netmask: 255.255.255.0}`, or `none`.
    static func persistence(_ spec: ServiceSpec) -> String {
        guard let p = spec.persistence else { return "none" }
        let mask = spec.key.address.isIPv4 ? IPAddress(v4: p.netmask).description : String(p.prefixLength)
        return "{timeout: \(p.timeout / 1000), netmask: \(mask)}"
    }

    /// The configuration file's names: nat, dr, tun, doublenat, fullnat.
    static func method(_ m: ForwardingMethod) -> String {
        switch m {
        case .masquerade: "nat"
        case .directRoute: "dr"
        case .tunnel: "tun"
        case .doubleNAT: "doublenat"
        case .fullNAT: "fullnat"
        }
    }

    /// `{type: ipip}` or `{type: gue, port: 6080, checksum: false}`.
    static func tunnel(_ t: TunnelSettings) -> String {
        t.type == .ipip ? "{type: ipip}" : "{type: gue, port: \(t.port), checksum: \(t.udpChecksum)}"
    }
}

/// Why a configuration was not applied; the director is as it was before.
public struct ConfigApplyError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Brings a running `Director` in line with a configuration by difference: services and real
/// servers that did not change are not touched, so their connections and counters stay.
///
/// Everything the director could refuse is checked before the first change (scheduler names,
/// weights, address families, thresholds, the service and real-server limits), so a refused
/// configuration leaves the director as it was. One limit cannot be seen from outside the
/// engine: slots of removed real servers that still have connections, kept from earlier reloads.
/// Should the engine still refuse a change because of them, the changes made so far are undone
/// (in reverse) before the error is thrown.
public enum ConfigApplier {
    /// The changes `apply` would make, in order, as log lines. Throws if the director would refuse
    /// the configuration.
    public static func plan(_ config: LVSDConfiguration, for director: Director) throws(ConfigApplyError) -> [String] {
        try changes(config, for: director).map(\.description)
    }

    /// The changes `apply` would make, in the order it makes them: removals (freeing slots),
    /// then edits, then additions, then timeouts.
    public static func changes(_ config: LVSDConfiguration, for director: Director) throws(ConfigApplyError)
        -> [ConfigChange]
    {
        let current = director.services()
        try validate(config, director, current)
        var byKey: [ServiceKey: ServiceSnapshot] = [:]
        for s in current { byKey[s.key] = s }
        let wanted = Set(config.services.map(\.key))
        var out: [ConfigChange] = []

        for s in current where !wanted.contains(s.key) { out.append(.removeService(s.key)) }
        for svc in config.services {
            guard let old = byKey[svc.key] else { continue }
            let keep = Set(svc.destinations.map { Endpoint($0.address, $0.port) })
            for d in old.destinations where !keep.contains(Endpoint(d.address, d.port)) {
                out.append(.removeDestination(svc.key, address: d.address, port: d.port))
            }
        }
        for svc in config.services {
            guard let old = byKey[svc.key] else { continue }
            if old.spec != svc.spec { out.append(.editService(svc.spec, old: old.spec)) }
            for d in svc.destinations {
                guard let o = old.destinations.first(where: { $0.address == d.address && $0.port == d.port }) else {
                    continue
                }
                let oldSpec = spec(of: o)
                if oldSpec != d { out.append(.editDestination(svc.key, d, old: oldSpec)) }
            }
        }
        for svc in config.services {
            let old = byKey[svc.key]
            if old == nil { out.append(.addService(svc.spec)) }
            for d in svc.destinations
            where old?.destinations.contains(where: { $0.address == d.address && $0.port == d.port }) != true {
                out.append(.addDestination(svc.key, d))
            }
        }
        let oldTimeouts = ConfigTimeouts(director.currentTimeouts)
        if oldTimeouts != config.timeouts { out.append(.setTimeouts(config.timeouts, old: oldTimeouts)) }
        if director.expireQuiescentTemplate != config.expireQuiescentTemplate {
            out.append(.setExpireQuiescentTemplate(config.expireQuiescentTemplate))
        }
        let capacity = director.configuration.connectionCapacity
        if capacity != config.connectionCapacity {
            out.append(.needsRestart(
                "connection_capacity \(capacity) -> \(config.connectionCapacity) takes effect at the next restart "
                    + "(the connection table is sized at start-up)"))
        }
        return out
    }

    /// Validates, then applies the changes; returns them as log lines.
    @discardableResult
    public static func apply(_ config: LVSDConfiguration, to director: Director) throws(ConfigApplyError) -> [String] {
        let before = director.services()
        let planned = try changes(config, for: director)
        var done: [ConfigChange] = []
        for change in planned {
            do {
                try perform(change, director)
            } catch {
                rollback(done, director, before)
                throw ConfigApplyError("configuration not applied (\(change): \(error)); the previous one is kept")
            }
            done.append(change)
        }
        return planned.map(\.description)
    }

    // MARK: Validation

    static func validate(_ config: LVSDConfiguration, _ director: Director, _ current: [ServiceSnapshot])
        throws(ConfigApplyError)
    {
        let limits = director.configuration
        guard config.services.count <= limits.maxServices else {
            throw ConfigApplyError("\(config.services.count) services configured, the director holds at most "
                                   + "\(limits.maxServices)")
        }
        var keys = Set<ServiceKey>()
        var live = 0
        for svc in config.services {
            let name = ConfigChange.name(svc.key)
            guard keys.insert(svc.key).inserted else { throw ConfigApplyError("service \(name) is configured twice") }
            guard SchedulerRegistry.make(svc.spec.scheduler) != nil else {
                throw ConfigApplyError("service \(name): unknown scheduler '\(svc.spec.scheduler)' (available: "
                                       + "\(SchedulerRegistry.names.joined(separator: ", ")))")
            }
            var endpoints = Set<Endpoint>()
            for d in svc.destinations {
                let ep = Endpoint(d.address, d.port)
                guard endpoints.insert(ep).inserted else {
                    throw ConfigApplyError("service \(name): real server \(ep) is configured twice")
                }
                guard (0...65535).contains(d.weight) else {
                    throw ConfigApplyError("service \(name), real server \(ep): weight must be 0..65535")
                }
                guard d.address.isIPv4 == svc.key.address.isIPv4 else {
                    throw ConfigApplyError("service \(name), real server \(ep): not of the service's address family")
                }
                guard d.upperThreshold == 0 || d.lowerThreshold <= d.upperThreshold else {
                    throw ConfigApplyError("service \(name), real server \(ep): lower threshold above the upper one")
                }
            }
            live += svc.destinations.count
        }
        for field in [config.timeouts.tcp, config.timeouts.tcpfin, config.timeouts.udp] + Array(config.timeouts.states.values)
        where !ConfigTimeouts.range.contains(field) {
            throw ConfigApplyError("timeouts must be \(ConfigTimeouts.range.lowerBound)..\(ConfigTimeouts.range.upperBound) s")
        }
        // Real-server slots after the change: the configured servers, plus servers this change
        // removes from surviving services that still have connections (their slots stay until the
        // connections end). Servers of removed services free their slots at once.
        var held = 0
        var wanted: [ServiceKey: Set<Endpoint>] = [:]
        for svc in config.services { wanted[svc.key] = Set(svc.destinations.map { Endpoint($0.address, $0.port) }) }
        for s in current {
            guard let keep = wanted[s.key] else { continue }
            for d in s.destinations where !keep.contains(Endpoint(d.address, d.port)) {
                if d.activeConns &+ d.inactiveConns &+ d.persistConns > 0 { held += 1 }
            }
        }
        guard live + held <= limits.maxDestinations else {
            var why = "\(live) real servers configured"
            if held > 0 { why += " (+\(held) removed ones still holding connections)" }
            throw ConfigApplyError(why + ", the director holds at most \(limits.maxDestinations)")
        }
    }

    // MARK: Applying and undoing

    static func spec(of d: DestinationSnapshot) -> DestinationSpec {
        DestinationSpec(address: d.address, port: d.port, weight: d.weight, upperThreshold: d.upperThreshold,
                        lowerThreshold: d.lowerThreshold, method: d.method, tunnel: d.tunnel)
    }

    static func perform(_ change: ConfigChange, _ director: Director) throws(DirectorError) {
        switch change {
        case .removeService(let key): try director.removeService(key)
        case .removeDestination(let key, let address, let port):
            try director.removeDestination(address: address, port: port, from: key)
        case .editService(let spec, _): try director.editService(spec)
        case .editDestination(let key, let d, _): try director.editDestination(d, in: key)
        case .addService(let spec): try director.addService(spec)
        case .addDestination(let key, let d): try director.addDestination(d, to: key)
        case .setTimeouts(let t, _): director.setTimeouts(t.engineTimeouts)
        case .setExpireQuiescentTemplate(let on): director.expireQuiescentTemplate = on
        case .needsRestart: break
        }
    }

    /// Undoes `done` in reverse. Edits and additions undo exactly; a removed real server comes
    /// back at the end of its list with its counters; a removed service comes back with its
    /// servers (its connections are gone: removal ends them).
    static func rollback(_ done: [ConfigChange], _ director: Director, _ before: [ServiceSnapshot]) {
        var byKey: [ServiceKey: ServiceSnapshot] = [:]
        for s in before { byKey[s.key] = s }
        for change in done.reversed() {
            switch change {
            case .removeService(let key):
                guard let s = byKey[key] else { continue }
                try? director.addService(s.spec)
                for d in s.destinations { try? director.addDestination(spec(of: d), to: key) }
            case .removeDestination(let key, let address, let port):
                guard let d = byKey[key]?.destinations.first(where: { $0.address == address && $0.port == port })
                else { continue }
                try? director.addDestination(spec(of: d), to: key)
            case .editService(_, let old):
                try? director.editService(old)
            case .editDestination(let key, _, let old):
                try? director.editDestination(old, in: key)
            case .addService(let spec):
                try? director.removeService(spec.key)
            case .addDestination(let key, let d):
                try? director.removeDestination(address: d.address, port: d.port, from: key)
            case .setTimeouts(_, let old):
                director.setTimeouts(old.engineTimeouts)
            case .setExpireQuiescentTemplate(let on):
                director.expireQuiescentTemplate = !on
            case .needsRestart:
                break
            }
        }
    }
}
