import LVSEngine
import LVSPacket

/// A keepalived.conf read into lvsd's model, with the warnings about what lvsd ignores.
public struct KeepalivedConfiguration: Sendable {
    public var configuration: LVSDConfiguration
    public var warnings: [KeepalivedWarning]
}

extension LVSDConfiguration {
    /// True when `path` is a keepalived.conf rather than lvsd YAML: the name ends in `.conf`, or
    /// (any other name but `.yaml`/`.yml`) its first word is a keepalived top-level keyword.
    public static func isKeepalivedFormat(path: String, text: String) -> Bool {
        if path.hasSuffix(".yaml") || path.hasSuffix(".yml") { return false }
        if path.hasSuffix(".conf") { return true }
        for line in text.split(separator: "\n") {
            let t = line.drop(while: { $0 == " " || $0 == "\t" })
            if t.isEmpty || t.hasPrefix("#") || t.hasPrefix("!") { continue }
            let word = t.prefix(while: { $0 != " " && $0 != "\t" && $0 != "{" })
            return KeepalivedSchema.top.contains(String(word)) || word == "include"
        }
        return false
    }

    /// Reads either format (see `isKeepalivedFormat`); warnings are only produced for keepalived.conf.
    public static func loadAny(path: String) throws(ConfigError) -> KeepalivedConfiguration {
        let text = try ConfigFile.read(path)
        if isKeepalivedFormat(path: path, text: text) { return try parseKeepalived(text: text, file: path) }
        return KeepalivedConfiguration(configuration: try parse(text: text, file: path), warnings: [])
    }

    /// Parses the LVS part of a keepalived.conf: all of it is valid or the first error is thrown.
    public static func parseKeepalived(text: String, file: String = "<keepalived.conf>") throws(ConfigError)
        -> KeepalivedConfiguration
    {
        var tokenizer = KeepalivedTokenizer()
        let tokens = try tokenizer.tokenize(text: text, file: file, stack: [file])
        var syntax = KeepalivedSyntax(tokens)
        let items = try syntax.parseFile()
        var mapper = KeepalivedMapper()
        mapper.warnings = tokenizer.warnings
        let config = try mapper.map(items)
        return KeepalivedConfiguration(configuration: config, warnings: mapper.warnings)
    }
}

/// keepalived.conf statements to `LVSDConfiguration` + `ServiceHealth`.
struct KeepalivedMapper {
    var warnings: [KeepalivedWarning] = []
    var groups: [String: [KeepalivedItem]] = [:]
    var localAddressGroups: [String: (KeepalivedToken, [IPAddress])] = [:]

    func fail(_ t: KeepalivedToken, _ message: String) -> ConfigError { KeepalivedSyntax.error(t, message) }

    mutating func warn(_ t: KeepalivedToken, _ message: String) {
        warnings.append(KeepalivedWarning(file: t.file, line: t.line, message: message))
    }

    // MARK: Values

    func arg(_ item: KeepalivedItem, _ i: Int, _ what: String) throws(ConfigError) -> KeepalivedToken {
        guard i < item.args.count else { throw fail(item.keyword, "\(item.name) needs \(what)") }
        return item.args[i]
    }

    func noBlock(_ item: KeepalivedItem) throws(ConfigError) {
        if item.block != nil { throw fail(item.keyword, "\(item.name) does not take a block") }
    }

    func exactArgs(_ item: KeepalivedItem, _ n: Int) throws(ConfigError) {
        try noBlock(item)
        if item.args.count > n {
            throw fail(item.args[n], "unexpected '\(item.args[n].text)' after \(item.name) (takes \(n) value\(n == 1 ? "" : "s"))")
        }
        if item.args.count < n { throw fail(item.keyword, "\(item.name) needs \(n) value\(n == 1 ? "" : "s")") }
    }

    func int(_ t: KeepalivedToken, _ range: ClosedRange<Int>, _ what: String) throws(ConfigError) -> Int {
        guard let v = Int(t.text), range.contains(v) else {
            throw fail(t, "\(what) must be an integer in \(range.lowerBound)...\(range.upperBound), got '\(t.text)'")
        }
        return v
    }

    func seconds(_ t: KeepalivedToken, _ what: String, min: Double = 0) throws(ConfigError) -> Double {
        guard let v = Double(t.text), v.isFinite, v >= min, v <= 86_400 else {
            throw fail(t, "\(what) must be a number of seconds (\(min == 0 ? "0" : "\(min)")...86400), got '\(t.text)'")
        }
        return v
    }

    func ip(_ t: KeepalivedToken, _ what: String) throws(ConfigError) -> IPAddress {
        guard let a = IPAddress(t.text) else { throw fail(t, "\(what) must be an IPv4 or IPv6 address, got '\(t.text)'") }
        return a
    }

    func port(_ t: KeepalivedToken, _ what: String) throws(ConfigError) -> UInt16 {
        UInt16(try int(t, 0...65535, what))
    }

    func method(_ t: KeepalivedToken) throws(ConfigError) -> ForwardingMethod {
        switch t.text.uppercased() {
        case "NAT": return .masquerade
        case "DR": return .directRoute
        case "TUN": return .tunnel
        case "FNAT", "FULLNAT": return .fullNAT
        case "DNAT", "DOUBLE_NAT", "DOUBLE-NAT", "DOUBLENAT": return .doubleNAT
        default: throw fail(t, "lb_kind must be NAT, DR, TUN, FNAT or DOUBLE_NAT, got '\(t.text)'")
        }
    }

    // MARK: Top level

    mutating func map(_ items: [KeepalivedItem]) throws(ConfigError) -> LVSDConfiguration {
        var config = LVSDConfiguration(interfaces: [])
        for item in items where item.name == "virtual_server_group" {
            let name = try arg(item, 0, "a group name")
            guard let block = item.block else { throw fail(item.keyword, "virtual_server_group needs a { } block") }
            guard groups[name.text] == nil else { throw fail(name, "virtual_server_group \(name.text) is defined twice") }
            groups[name.text] = block
        }
        // FULLNAT local addresses, as the LVS FULLNAT fork of keepalived writes them:
        // `local_address_group NAME { 172.16.40.10  172.16.40.11 }`, named by `laddr_group_name`.
        for item in items where item.name == "local_address_group" {
            let name = try arg(item, 0, "a group name")
            guard let block = item.block else { throw fail(item.keyword, "local_address_group needs a { } block") }
            guard localAddressGroups[name.text] == nil else {
                throw fail(name, "local_address_group \(name.text) is defined twice")
            }
            var lips: [IPAddress] = []
            for entry in block {
                for t in [entry.keyword] + entry.args {
                    let a = try ip(t, "local address")
                    if lips.contains(a) { throw fail(t, "local address \(a) is listed twice in \(name.text)") }
                    lips.append(a)
                }
            }
            guard !lips.isEmpty else { throw fail(name, "local_address_group \(name.text) is empty") }
            localAddressGroups[name.text] = (name, lips)
        }
        for item in items {
            switch item.name {
            case "global_defs":
                guard let block = item.block else { throw fail(item.keyword, "global_defs needs a { } block") }
                try globalDefs(block, &config)
            case "virtual_server":
                try virtualServer(item, &config)
            case "virtual_server_group", "local_address_group":
                break
            case let k where KeepalivedSchema.top.contains(k):
                warn(item.keyword, "\(k) ignored: lvsd implements the LVS part of keepalived.conf only (no VRRP, SSL or static routes)")
            default:
                warn(item.keyword, "unknown keyword '\(item.name)' ignored")
            }
        }
        return config
    }

    mutating func globalDefs(_ items: [KeepalivedItem], _ config: inout LVSDConfiguration) throws(ConfigError) {
        for item in items {
            switch item.name {
            case "lvsd_interfaces":
                guard !item.args.isEmpty else { throw fail(item.keyword, "lvsd_interfaces needs interface names") }
                for a in item.args where a.text.isEmpty || a.text.utf8.count > ConfigParser.maxInterfaceName {
                    throw fail(a, "interface name '\(a.text)' must be 1...\(ConfigParser.maxInterfaceName) bytes")
                }
                config.interfaces = item.args.map(\.text)
            case "lvsd_gateway":
                try exactArgs(item, 1)
                config.gateway = try ip(item.args[0], "lvsd_gateway")
            case "lvsd_control_socket":
                try exactArgs(item, 1)
                guard item.args[0].text.utf8.count <= ConfigParser.maxSocketPath else {
                    throw fail(item.args[0], "lvsd_control_socket is longer than \(ConfigParser.maxSocketPath) bytes")
                }
                config.controlSocket = item.args[0].text
            case "lvsd_metrics_listen":
                try exactArgs(item, 1)
                let t = item.args[0]
                guard let colon = t.text.lastIndex(of: ":"),
                      let a = IPAddress(String(t.text[..<colon]).trimmingBrackets),
                      let p = UInt16(t.text[t.text.index(after: colon)...]), ListenAddress.isLoopback(a)
                else { throw fail(t, "lvsd_metrics_listen must be a loopback ADDRESS:PORT, got '\(t.text)'") }
                config.metricsListen = ListenAddress(a, p)
            case "lvsd_realtime_priority":
                try exactArgs(item, 1)
                config.realtimePriority = try int(item.args[0], LVSDConfiguration.realtimePriorityRange, "lvsd_realtime_priority")
            case "lvsd_connection_capacity":
                try exactArgs(item, 1)
                let r = LVSDConfiguration.connectionCapacityRange
                config.connectionCapacity = try int(item.args[0], r, "lvsd_connection_capacity")
            case "lvs_timeouts":
                try noBlock(item)
                var i = 0
                while i < item.args.count {
                    let k = item.args[i]
                    guard i + 1 < item.args.count else { throw fail(k, "lvs_timeouts \(k.text) needs a value") }
                    let v = UInt64(try int(item.args[i + 1], 1...2_592_000, "lvs_timeouts \(k.text)"))
                    switch k.text {
                    case "tcp": config.timeouts.tcp = v
                    case "tcpfin": config.timeouts.tcpfin = v
                    case "udp": config.timeouts.udp = v
                    default: throw fail(k, "lvs_timeouts takes tcp, tcpfin and udp, got '\(k.text)'")
                    }
                    i += 2
                }
            default:
                warn(item.keyword, "global_defs \(item.name) ignored by lvsd")
            }
        }
    }

    // MARK: virtual_server

    /// Settings a virtual_server passes down to its real servers and checkers.
    struct Inherited {
        var delayLoop: Double = 60
        var connectTimeout: Double?
        var retry: Int?
        var delayBeforeRetry: Double?
        var inhibit = false
        var alpha = false
        var method: ForwardingMethod = .masquerade
        var virtualhost: String?
    }

    /// A checker timer set on a virtual_server or real_server; the checkers below inherit it.
    func timer(_ s: KeepalivedItem, into inherited: inout Inherited) throws(ConfigError) {
        try exactArgs(s, 1)
        switch s.name {
        case "delay_loop": inherited.delayLoop = try seconds(s.args[0], "delay_loop", min: 0.001)
        case "connect_timeout": inherited.connectTimeout = try seconds(s.args[0], "connect_timeout", min: 0.001)
        case "delay_before_retry": inherited.delayBeforeRetry = try seconds(s.args[0], "delay_before_retry")
        default: inherited.retry = try int(s.args[0], 0...1000, s.name)  // retry, nb_get_retry, nb_sock_retry
        }
    }

    mutating func virtualServer(_ item: KeepalivedItem, _ config: inout LVSDConfiguration) throws(ConfigError) {
        guard let block = item.block else { throw fail(item.keyword, "virtual_server needs a { } block") }
        let first = try arg(item, 0, "an address and port, 'fwmark N' or 'group NAME'")
        var addresses: [(IPAddress, UInt16, KeepalivedToken)] = []
        switch first.text {
        case "fwmark":
            let m = try arg(item, 1, "a mark")
            _ = try int(m, 1...Int(UInt32.max), "fwmark")
            throw fail(first, "virtual_server fwmark \(m.text): netfilter marks do not exist in lvsd's userspace data plane; list the addresses and ports in a virtual_server_group (or use a YAML group: fwmark + match, docs/CONFIGURATION.md)")
        case "group":
            let name = try arg(item, 1, "a group name")
            guard let members = groups[name.text] else { throw fail(name, "virtual_server_group '\(name.text)' is not defined") }
            for m in members { addresses += try groupMember(m) }
            guard !addresses.isEmpty else { throw fail(name, "virtual_server_group '\(name.text)' is empty") }
        default:
            try exactArgs(KeepalivedItem(keyword: item.keyword, args: item.args, block: nil), 2)
            addresses = [(try ip(first, "virtual_server address"), try port(item.args[1], "virtual_server port"), first)]
        }

        var inherited = Inherited()
        var scheduler = SchedulerRegistry.defaultName
        var flags: UInt32 = 0
        var proto = TransportProtocol.tcp
        var persistence: Persistence?
        var granularity: KeepalivedToken?
        var health = ServiceHealth(key: ServiceKey(.tcp, addresses[0].0, addresses[0].1))
        var realServers: [KeepalivedItem] = []
        var sorry: (KeepalivedToken, IPAddress, UInt16?)?
        var onePacket: KeepalivedToken?
        var laddrGroup: KeepalivedToken?
        var vdportRange: (KeepalivedToken, ClosedRange<UInt16>)?
        var clientAddress: ClientAddressDelivery = .none
        var pendingFlags: [KeepalivedToken] = []  // resolved once the scheduler is known
        // First pass: the service's own settings (real servers inherit them whatever the order).
        for s in block {
            switch s.name {
            case "lb_algo", "lvs_sched":
                try exactArgs(s, 1)
                guard SchedulerRegistry.make(s.args[0].text) != nil else {
                    throw fail(s.args[0], "unknown scheduler '\(s.args[0].text)' (known: \(SchedulerRegistry.names.joined(separator: ", ")))")
                }
                scheduler = s.args[0].text
            case "lb_kind", "lvs_method":
                try noBlock(s)
                inherited.method = try method(try arg(s, 0, "NAT or DR"))
                if s.args.count > 1 { warn(s.args[1], "\(s.name) options after the method ignored") }
            case "protocol":
                try exactArgs(s, 1)
                switch s.args[0].text.uppercased() {
                case "TCP": proto = .tcp
                case "UDP": proto = .udp
                case "SCTP": throw fail(s.args[0], "protocol SCTP is not supported by this lvsd (TCP and UDP are)")
                default: throw fail(s.args[0], "protocol must be TCP or UDP, got '\(s.args[0].text)'")
                }
            case "persistence_timeout":
                try noBlock(s)
                if s.args.count > 1 { throw fail(s.args[1], "unexpected '\(s.args[1].text)' after persistence_timeout SECONDS") }
                var p = persistence ?? Persistence()
                if let t = s.args.first {
                    let v = try int(t, 0...(31 * 86_400), "persistence_timeout")
                    p.timeout = UInt64(v) * 1000
                    // 0 is common in the wild and means what ipvsadm without -p means.
                    persistence = v == 0 ? nil : p
                } else {
                    persistence = p
                }
            case "persistence_granularity":
                try exactArgs(s, 1)
                granularity = s.args[0]
            case "sh-port", "sh-fallback", "mh-port", "mh-fallback", "flag-1", "flag-2", "flag-3":
                try exactArgs(s, 0)
                pendingFlags.append(s.keyword)
            case "delay_loop", "connect_timeout", "retry", "nb_get_retry", "nb_sock_retry", "delay_before_retry":
                try timer(s, into: &inherited)
            case "inhibit_on_failure":
                try exactArgs(s, 0)
                inherited.inhibit = true
            case "alpha":
                try exactArgs(s, 0)
                inherited.alpha = true
            case "quorum":
                try exactArgs(s, 1)
                health.quorum = try int(s.args[0], 0...Int(Int32.max), "quorum")
            case "hysteresis":
                try exactArgs(s, 1)
                health.hysteresis = try int(s.args[0], 0...Int(Int32.max), "hysteresis")
            case "quorum_up":
                try exactArgs(s, 1)
                health.quorumUp = s.args[0].text
            case "quorum_down":
                try exactArgs(s, 1)
                health.quorumDown = s.args[0].text
            case "sorry_server":
                try noBlock(s)
                let a = try ip(try arg(s, 0, "an address"), "sorry_server address")
                if s.args.count > 2 { throw fail(s.args[2], "unexpected '\(s.args[2].text)' after sorry_server ADDRESS PORT") }
                sorry = (s.keyword, a, s.args.count > 1 ? try port(s.args[1], "sorry_server port") : nil)
            case "virtualhost":
                try exactArgs(s, 1)
                inherited.virtualhost = s.args[0].text
            case "real_server":
                realServers.append(s)
            case "warmup":
                warn(s.keyword, "warmup ignored: checks start at once")
            case "ops", "one_packet_scheduling":
                try exactArgs(s, 0)
                onePacket = s.keyword
            case "laddr_group_name":
                try exactArgs(s, 1)
                laddrGroup = s.args[0]
            case "vdport_range":
                try exactArgs(s, 1)
                guard let range = parseVirtualPortRange(Substring(s.args[0].text)) else {
                    throw fail(s.args[0], "vdport_range must be LOW-HIGH with 1 <= LOW <= HIGH <= 65535, got '\(s.args[0].text)'")
                }
                vdportRange = (s.args[0], range)
            case "client_address":
                try exactArgs(s, 1)
                switch s.args[0].text {
                case "none": clientAddress = .none
                case "proxy_v2": clientAddress = .proxyV2
                case "toa": clientAddress = .toa
                default: throw fail(s.args[0], "client_address must be none, proxy_v2 or toa, got '\(s.args[0].text)'")
                }
            default:
                if KeepalivedSchema.virtualServer.contains(s.name) {
                    warn(s.keyword, "virtual_server \(s.name) is not supported by lvsd and is ignored")
                } else {
                    warn(s.keyword, "unknown keyword '\(s.name)' in virtual_server ignored")
                }
            }
        }
        if let t = onePacket, proto != .udp {
            throw fail(t, "\(t.text): one-packet scheduling is only for UDP virtual servers")
        }
        for t in pendingFlags {
            switch SchedulerFlagNames.flag(t.text, scheduler: scheduler) {
            case .success(let f): flags |= f
            case .failure: throw fail(t, "\(t.text) is a flag of the \(t.text.prefix(2)) scheduler, not of \(scheduler)")
            }
        }
        if let g = granularity {
            guard persistence != nil else {
                throw fail(g, "persistence_granularity needs a non-zero persistence_timeout")
            }
            if let m = IPAddress(g.text), m.isIPv4 {
                let v = m.v4
                guard (~v & (~v &+ 1)) == 0 else {
                    throw fail(g, "persistence_granularity \(g.text) is not a contiguous netmask")
                }
                persistence!.netmask = v
            } else if let n = Int(g.text), (1...128).contains(n) {
                persistence!.prefixLength = n
            } else {
                throw fail(g, "persistence_granularity must be a netmask (255.255.255.0) or an IPv6 prefix length, got '\(g.text)'")
            }
        }

        var destinations: [DestinationSpec] = []
        for rs in realServers {
            let (d, h) = try realServer(rs, defaultPort: addresses[0].1, inherited)
            if destinations.contains(where: { $0.address == d.address && $0.port == d.port }) {
                throw fail(rs.keyword, "real_server \(Endpoint(d.address, d.port)) is listed twice in this virtual_server")
            }
            destinations.append(d)
            health.servers.append(h)
        }
        if let (t, a, p) = sorry {
            health.sorryServer = DestinationSpec(address: a, port: p ?? addresses[0].1, weight: 1, method: inherited.method)
            if destinations.contains(where: { $0.address == a && $0.port == (p ?? addresses[0].1) }) {
                throw fail(t, "sorry_server is also a real_server of this virtual_server")
            }
        }
        for (a, p, t) in addresses {
            let key = ServiceKey(proto, a, p)
            if config.services.contains(where: { $0.key == key }) {
                throw fail(t, "virtual_server \(key) is defined twice")
            }
            if a.isIPv4 != destinations.allSatisfy({ $0.address.isIPv4 }) && !destinations.isEmpty {
                throw fail(t, "virtual_server \(key) mixes IPv4 and IPv6 real servers")
            }
            var lips: [IPAddress] = []
            if let g = laddrGroup {
                guard let (_, list) = localAddressGroups[g.text] else {
                    throw fail(g, "local_address_group '\(g.text)' is not defined")
                }
                lips = list
                if let bad = lips.first(where: { $0.isIPv4 != a.isIPv4 }) {
                    throw fail(g, "local address \(bad) and virtual_server \(key) must be of the same address family")
                }
            }
            if destinations.contains(where: { $0.method == .fullNAT }) && lips.isEmpty {
                throw fail(t, "virtual_server \(key) has FNAT real servers: it needs laddr_group_name (a local_address_group)")
            }
            if clientAddress != .none && proto != .tcp {
                throw fail(t, "client_address \(clientAddress.rawValue) is for TCP virtual servers only")
            }
            let spec = ServiceSpec(key, scheduler: scheduler, schedulerFlags: flags, persistence: persistence,
                                   onePacket: onePacket != nil,
                                   virtualPortRange: vdportRange?.1 ?? defaultVirtualPortRange, localAddresses: lips,
                                   clientAddress: clientAddress)
            // Real servers without a port take the virtual port (each member's, for groups).
            config.services.append(ConfiguredService(spec, destinations))
            var h = health
            h.key = key
            config.health.append(h)
        }
    }

    func groupMember(_ m: KeepalivedItem) throws(ConfigError) -> [(IPAddress, UInt16, KeepalivedToken)] {
        if m.name == "fwmark" {
            throw fail(m.keyword, "fwmark in a virtual_server_group: netfilter marks do not exist in lvsd's userspace data plane; list the group's addresses and ports instead")
        }
        try noBlock(m)
        guard m.args.count == 1 else { throw fail(m.keyword, "a virtual_server_group entry is 'ADDRESS PORT' or 'A.B.C.D-E PORT'") }
        let p = try port(m.args[0], "virtual_server_group port")
        let text = m.name
        if let dash = text.lastIndex(of: "-"), !text.contains(":") {
            let base = String(text[..<dash])
            guard let start = IPAddress(base), start.isIPv4, let last = UInt32(text[text.index(after: dash)...]),
                  last <= 255, last >= start.v4 & 0xff
            else { throw fail(m.keyword, "'\(text)' is not an IPv4 range A.B.C.D-E (E ≥ D, ≤ 255)") }
            return ((start.v4 & 0xff)...last).map { (IPAddress(v4: (start.v4 & 0xffff_ff00) | $0), p, m.keyword) }
        }
        return [(try ip(m.keyword, "virtual_server_group address"), p, m.keyword)]
    }

    // MARK: real_server

    mutating func realServer(_ item: KeepalivedItem, defaultPort: UInt16, _ vs: Inherited) throws(ConfigError)
        -> (DestinationSpec, RealServerHealth)
    {
        let a = try ip(try arg(item, 0, "an address"), "real_server address")
        if item.args.count > 2 { throw fail(item.args[2], "unexpected '\(item.args[2].text)' after real_server ADDRESS PORT") }
        let p = item.args.count > 1 ? try port(item.args[1], "real_server port") : defaultPort
        var d = DestinationSpec(address: a, port: p, weight: 1, method: vs.method)
        var h = RealServerHealth(address: a, port: p, inhibitOnFailure: vs.inhibit, alpha: vs.alpha)
        var inherited = vs
        var checkers: [KeepalivedItem] = []
        for s in item.block ?? [] {
            switch s.name {
            case "weight":
                try exactArgs(s, 1)
                d.weight = Int32(try int(s.args[0], 0...65535, "weight"))
            case "lb_kind", "lvs_method":
                try noBlock(s)
                d.method = try method(try arg(s, 0, "NAT or DR"))
            case "uthreshold":
                try exactArgs(s, 1)
                d.upperThreshold = UInt32(try int(s.args[0], 0...Int(UInt32.max), "uthreshold"))
            case "lthreshold":
                try exactArgs(s, 1)
                d.lowerThreshold = UInt32(try int(s.args[0], 0...Int(UInt32.max), "lthreshold"))
            case "inhibit_on_failure":
                try exactArgs(s, 0)
                h.inhibitOnFailure = true
            case "alpha":
                try exactArgs(s, 0)
                h.alpha = true
            case "notify_up":
                try exactArgs(s, 1)
                h.notifyUp = s.args[0].text
            case "notify_down":
                try exactArgs(s, 1)
                h.notifyDown = s.args[0].text
            case "delay_loop", "connect_timeout", "retry", "nb_get_retry", "nb_sock_retry", "delay_before_retry":
                try timer(s, into: &inherited)
            case "virtualhost":
                try exactArgs(s, 1)
                inherited.virtualhost = s.args[0].text
            case let k where KeepalivedSchema.checkers.contains(k):
                checkers.append(s)
            case "warmup":
                warn(s.keyword, "warmup ignored: checks start at once")
            default:
                warn(s.keyword, "unknown keyword '\(s.name)' in real_server ignored")
            }
        }
        for c in checkers { h.checks.append(try checker(c, inherited)) }
        return (d, h)
    }

    // MARK: Checkers

    mutating func checker(_ item: KeepalivedItem, _ vs: Inherited) throws(ConfigError) -> HealthCheckSpec {
        if !item.args.isEmpty { throw fail(item.args[0], "unexpected '\(item.args[0].text)' after \(item.name)") }
        let block = item.block ?? []
        var spec = HealthCheckSpec(kind: .tcp, delayLoop: vs.delayLoop, connectTimeout: vs.connectTimeout ?? 5,
                                   retry: vs.retry ?? 1, delayBeforeRetry: vs.delayBeforeRetry ?? 1)
        switch item.name {
        case "TCP_CHECK": break
        case "HTTP_GET", "SSL_GET":
            spec.delayBeforeRetry = vs.delayBeforeRetry ?? 3
        case "MISC_CHECK":
            spec.retry = vs.retry ?? 0
        case "UDP_CHECK": break
        case "DNS_CHECK":
            spec.retry = vs.retry ?? 3
            spec.delayBeforeRetry = vs.delayBeforeRetry ?? vs.delayLoop
        case "AGENT_CHECK":
            spec.retry = 0
        default:
            throw fail(item.keyword, "\(item.name) is not supported by lvsd (supported: TCP_CHECK, HTTP_GET, SSL_GET, MISC_CHECK, UDP_CHECK, DNS_CHECK, AGENT_CHECK)")
        }
        var urls: [HTTPCheckURL] = []
        var virtualhost = vs.virtualhost
        var miscPath: String?
        var miscTimeout: Double?
        var miscDynamic = false
        var payload: [UInt8] = []
        var dnsName = "."
        var dnsType: UInt16 = 1
        for s in block {
            func only(_ kinds: [String]) throws(ConfigError) {
                guard kinds.contains(item.name) else {
                    throw fail(s.keyword, "\(s.name) is not a keyword of \(item.name)")
                }
            }
            switch s.name {
            case "connect_ip":
                try exactArgs(s, 1)
                spec.connectIP = try ip(s.args[0], "connect_ip")
            case "connect_port":
                try exactArgs(s, 1)
                spec.connectPort = try port(s.args[0], "connect_port")
            case "bindto":
                try exactArgs(s, 1)
                spec.bindTo = try ip(s.args[0], "bindto")
            case "delay_loop":
                try exactArgs(s, 1)
                spec.delayLoop = try seconds(s.args[0], "delay_loop", min: 0.001)
            case "connect_timeout":
                try exactArgs(s, 1)
                spec.connectTimeout = try seconds(s.args[0], "connect_timeout", min: 0.001)
            case "retry", "nb_get_retry", "nb_sock_retry":
                try exactArgs(s, 1)
                spec.retry = try int(s.args[0], 0...1000, s.name)
            case "delay_before_retry":
                try exactArgs(s, 1)
                spec.delayBeforeRetry = try seconds(s.args[0], "delay_before_retry")
            case "url":
                try only(["HTTP_GET", "SSL_GET"])
                urls.append(try url(s))
            case "virtualhost":
                try only(["HTTP_GET", "SSL_GET"])
                try exactArgs(s, 1)
                virtualhost = s.args[0].text
            case "misc_path":
                try only(["MISC_CHECK"])
                try exactArgs(s, 1)
                miscPath = s.args[0].text
            case "misc_timeout":
                try only(["MISC_CHECK"])
                try exactArgs(s, 1)
                miscTimeout = try seconds(s.args[0], "misc_timeout", min: 0.001)
            case "misc_dynamic":
                try only(["MISC_CHECK"])
                try exactArgs(s, 0)
                miscDynamic = true
            case "payload":
                try only(["UDP_CHECK"])
                try exactArgs(s, 1)
                payload = try hex(s.args[0])
            case "name":
                try only(["DNS_CHECK"])
                try exactArgs(s, 1)
                dnsName = s.args[0].text
            case "type":
                try only(["DNS_CHECK"])
                try exactArgs(s, 1)
                let types: [String: UInt16] = ["A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "MX": 15, "TXT": 16, "AAAA": 28]
                guard let v = types[s.args[0].text.uppercased()] else {
                    throw fail(s.args[0], "DNS_CHECK type must be one of \(types.keys.sorted().joined(separator: ", ")), got '\(s.args[0].text)'")
                }
                dnsType = v
            case "http_protocol", "fast_recovery", "log_all_failures", "require_reply", "user", "alpha", "warmup",
                 "bind_port", "bind_if", "fwmark", "enable_sni", "sni_name", "tls_compliant":
                warn(s.keyword, "\(item.name) \(s.name) is not supported by lvsd and is ignored")
            default:
                warn(s.keyword, "unknown keyword '\(s.name)' in \(item.name) ignored")
            }
        }
        switch item.name {
        case "HTTP_GET", "SSL_GET":
            guard !urls.isEmpty else { throw fail(item.keyword, "\(item.name) needs at least one url { path ... } block") }
            spec.kind = item.name == "HTTP_GET" ? .http(urls, virtualhost: virtualhost) : .ssl(urls, virtualhost: virtualhost)
        case "MISC_CHECK":
            guard let miscPath else { throw fail(item.keyword, "MISC_CHECK needs misc_path") }
            spec.kind = .misc(command: miscPath, timeout: miscTimeout, dynamic: miscDynamic)
        case "UDP_CHECK": spec.kind = .udp(payload: payload)
        case "DNS_CHECK": spec.kind = .dns(name: dnsName, type: dnsType)
        case "AGENT_CHECK":
            guard spec.connectPort != nil else { throw fail(item.keyword, "AGENT_CHECK needs connect_port (the agent's port)") }
            spec.kind = .agent
        default: break
        }
        return spec
    }

    func url(_ item: KeepalivedItem) throws(ConfigError) -> HTTPCheckURL {
        guard let block = item.block else { throw fail(item.keyword, "url needs a { path ... } block") }
        var path: String?
        var codes: [ClosedRange<Int>] = []
        var digest: String?
        for s in block {
            switch s.name {
            case "path":
                try exactArgs(s, 1)
                path = s.args[0].text
                guard path!.hasPrefix("/") else { throw fail(s.args[0], "url path must start with '/', got '\(path!)'") }
            case "status_code":
                try noBlock(s)
                guard !s.args.isEmpty else { throw fail(s.keyword, "status_code needs codes (200, 200-299, ...)") }
                for a in s.args {
                    let parts = a.text.split(separator: "-", omittingEmptySubsequences: false)
                    guard parts.count <= 2, let lo = Int(parts[0]), let hi = Int(parts.last!), (100...599).contains(lo),
                          (100...599).contains(hi), lo <= hi
                    else { throw fail(a, "status_code must be a code or range within 100...599, got '\(a.text)'") }
                    codes.append(lo...hi)
                }
            case "digest":
                try exactArgs(s, 1)
                let d = s.args[0].text.lowercased()
                guard d.utf8.count == 32, d.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }) else {
                    throw fail(s.args[0], "digest must be 32 hex digits (an MD5), got '\(s.args[0].text)'")
                }
                digest = d
            case "regex", "regex_no_match", "regex_options", "regex_stack", "regex_min_offset", "regex_max_offset":
                throw fail(s.keyword, "url \(s.name) is not supported by lvsd (status_code and digest are)")
            case "virtualhost":
                throw fail(s.keyword, "url virtualhost is not supported by lvsd; set virtualhost in HTTP_GET")
            default:
                throw fail(s.keyword, "unknown keyword '\(s.name)' in url")
            }
        }
        guard let path else { throw fail(item.keyword, "url needs a path") }
        return HTTPCheckURL(path: path, statusCodes: codes.isEmpty ? [200...299] : codes, digest: digest)
    }

    func hex(_ t: KeepalivedToken) throws(ConfigError) -> [UInt8] {
        var out: [UInt8] = []
        let s = Array(t.text.utf8)
        guard s.count % 2 == 0 else { throw fail(t, "payload must be hex digits in pairs, got '\(t.text)'") }
        var i = 0
        while i < s.count {
            guard let v = UInt8(String(decoding: s[i..<i + 2], as: UTF8.self), radix: 16) else {
                throw fail(t, "payload must be hex digits, got '\(t.text)'")
            }
            out.append(v)
            i += 2
        }
        return out
    }
}

extension String {
    var trimmingBrackets: String {
        hasPrefix("[") && hasSuffix("]") ? String(dropFirst().dropLast()) : self
    }
}
