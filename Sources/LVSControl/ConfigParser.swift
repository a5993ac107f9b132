#if canImport(Glibc)
import Glibc
#endif
import LVSEngine
import LVSPacket
import Yams

extension LVSDConfiguration {
    /// Reads and parses the YAML file at `path`. Errors name the file as `path`.
    public static func load(path: String) throws(ConfigError) -> LVSDConfiguration {
        let text = try ConfigFile.read(path)
        return try parse(text: text, file: path)
    }

    /// Parses YAML `text`; `file` is the name errors carry (`FILE:LINE:COLUMN: message`).
    /// Either the whole configuration is valid and returned, or the first error is thrown.
    public static func parse(text: String, file: String = "<config>") throws(ConfigError) -> LVSDConfiguration {
        try ConfigParser(file: file).parse(text)
    }

    /// The whole text of a configuration file (for parsers of other sections, such as LVSL7's).
    public static func readFile(_ path: String) throws(ConfigError) -> String { try ConfigFile.read(path) }
}

/// Whole-file reading without Foundation (a bounded read of a regular file).
enum ConfigFile {
    static let maxBytes = 16 << 20

    static func read(_ path: String) throws(ConfigError) -> String {
        func fail(_ why: String) -> ConfigError { ConfigError(file: path, line: nil, column: nil, message: why) }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw fail("cannot open: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw fail("cannot read: \(String(cString: strerror(errno)))")
            }
            if n == 0 { break }
            bytes += chunk[0..<n]
            guard bytes.count <= maxBytes else { throw fail("file is larger than \(maxBytes >> 20) MiB") }
        }
        guard let text = String(validating: bytes, as: UTF8.self) else { throw fail("not valid UTF-8") }
        return text
    }
}

/// YAML nodes to `LVSDConfiguration`, checking every value and pointing errors at their node.
struct ConfigParser {
    let file: String

    static let topKeys = ["control_socket", "metrics_listen", "connection_capacity", "interfaces", "gateway", "realtime_priority",
                          "timeouts", "expire_quiescent_template", "services", "l7"]
    static let timeoutKeys = ["tcp", "tcpfin", "udp"] + ConfigTimeouts.stateKeys.keys.sorted()
    static let serviceKeys = ["protocol", "address", "port", "fwmark", "match", "scheduler", "scheduler_flags",
                              "persistence", "one_packet", "udp_timeout", "vdport_range", "local_addresses",
                              "client_address", "real_servers"]
    static let persistenceKeys = ["timeout", "netmask"]
    static let serverKeys = ["address", "port", "weight", "method", "tunnel", "upper_threshold", "lower_threshold"]

    /// The longest unix socket path (sun_path is 108 bytes with the terminating NUL).
    static let maxSocketPath = 107
    /// IFNAMSIZ - 1.
    static let maxInterfaceName = 15

    // MARK: Errors

    func error(at mark: Mark?, _ message: String) -> ConfigError {
        ConfigError(file: file, line: mark?.line ?? 1, column: mark?.column ?? 1, message: message)
    }

    func error(line: Int, column: Int, _ message: String) -> ConfigError {
        ConfigError(file: file, line: line, column: column, message: message)
    }

    func error(_ node: Node, _ message: String) -> ConfigError { error(at: node.mark, message) }

    func syntaxError(_ e: Error) -> ConfigError {
        guard let y = e as? YamlError else { return error(at: nil, "YAML error: \(e)") }
        func withContext(_ problem: String, _ context: YamlError.Context?) -> String {
            guard let context else { return "YAML syntax error: \(problem)" }
            return "YAML syntax error: \(problem) (\(context.text) at line \(context.mark.line), column \(context.mark.column))"
        }
        switch y {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
             .composer(let context, let problem, let mark, _):
            return error(at: mark, withContext(problem, context))
        case .duplicatedKeysInMapping(let duplicates, let context):
            // Yams points at the first occurrence of the first duplicated key.
            let names = duplicates.map { "'\($0)'" }.joined(separator: ", ")
            return error(at: context.mark, "duplicate key \(names) in the same mapping")
        case .reader(let problem, let offset, _, let yaml):
            var line = 1
            var column = 1
            for ch in yaml.prefix(offset ?? 0) {
                if ch == "\n" { line += 1; column = 1 } else { column += 1 }
            }
            return error(line: line, column: column, "YAML reader error: \(problem)")
        default:
            return error(at: nil, "YAML error: \(y)")
        }
    }

    // MARK: Node helpers

    static func isNull(_ node: Node) -> Bool {
        guard case .scalar(let s) = node, s.style == .plain || s.style == .any else { return false }
        return ["", "~", "null", "Null", "NULL"].contains(s.string)
    }

    /// How a value reads in an error message.
    static func describe(_ node: Node) -> String {
        switch node {
        case .mapping: return "a mapping"
        case .sequence: return "a sequence"
        case .alias: return "an alias"
        case .scalar(let s):
            if isNull(node) { return "null" }
            let quoted = s.style == .singleQuoted || s.style == .doubleQuoted
            return (quoted ? "the quoted string " : "") + "'\(s.string)'"
        }
    }

    /// The fields of a mapping, keyed by name; unknown keys are errors.
    struct Fields {
        let node: Node
        let what: String
        var values: [String: Node] = [:]
        var keyNodes: [String: Node] = [:]

        subscript(_ key: String) -> Node? { values[key] }
        /// The value, or nil when the key is absent or null (optional keys take their default).
        func optional(_ key: String) -> Node? {
            guard let v = values[key], !ConfigParser.isNull(v) else { return nil }
            return v
        }
    }

    func fields(_ node: Node, _ what: String, allowed: [String]) throws(ConfigError) -> Fields {
        guard case .mapping(let mapping) = node else {
            throw error(node, "\(what) must be a mapping, got \(Self.describe(node))")
        }
        var f = Fields(node: node, what: what)
        for (k, v) in mapping {
            guard case .scalar(let ks) = k, !Self.isNull(k) else {
                throw error(k, "keys in \(what) must be names, got \(Self.describe(k))")
            }
            guard allowed.contains(ks.string) else {
                throw error(k, "unknown key '\(ks.string)' in \(what) (allowed: \(allowed.joined(separator: ", ")))")
            }
            f.values[ks.string] = v
            f.keyNodes[ks.string] = k
        }
        return f
    }

    func required(_ f: Fields, _ key: String) throws(ConfigError) -> Node {
        guard let v = f[key] else { throw error(f.node, "\(f.what) is missing the required key '\(key)'") }
        return v
    }

    func string(_ node: Node, _ name: String) throws(ConfigError) -> String {
        guard case .scalar(let s) = node, !Self.isNull(node) else {
            throw error(node, "'\(name)' must be a string, got \(Self.describe(node))")
        }
        return s.string
    }

    /// A plain decimal integer within `range`.
    func integer<T: FixedWidthInteger>(_ node: Node, _ name: String, _ range: ClosedRange<T>) throws(ConfigError) -> T {
        guard case .scalar(let s) = node, s.style == .plain || s.style == .any, !Self.isNull(node) else {
            throw error(node, "'\(name)' must be an integer, got \(Self.describe(node))")
        }
        var digits = Substring(s.string)
        var negative = false
        if let first = digits.first, first == "-" || first == "+" {
            negative = first == "-"
            digits = digits.dropFirst()
        }
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            throw error(node, "'\(name)' must be an integer, got \(Self.describe(node))")
        }
        let outOfRange = error(node, "'\(name)' must be \(range.lowerBound)..\(range.upperBound), got \(s.string)")
        guard let magnitude = Int64(digits) else { throw outOfRange }
        let value = negative ? -magnitude : magnitude
        guard value >= Int64(range.lowerBound), value <= Int64(range.upperBound) else { throw outOfRange }
        return T(value)
    }

    /// `true` or `false`.
    func boolean(_ node: Node, _ name: String) throws(ConfigError) -> Bool {
        guard case .scalar(let s) = node, s.style == .plain || s.style == .any else {
            throw error(node, "'\(name)' must be true or false, got \(Self.describe(node))")
        }
        switch s.string {
        case "true": return true
        case "false": return false
        default: throw error(node, "'\(name)' must be true or false, got \(Self.describe(node))")
        }
    }

    /// A unicast IPv4 or IPv6 address.
    func address(_ node: Node, _ name: String) throws(ConfigError) -> IPAddress {
        let text = try string(node, name)
        guard let a = IPAddress(text) else {
            throw error(node, "'\(name)' is not an IPv4 or IPv6 address: '\(text)'")
        }
        let multicast = a.isIPv4 ? (a.v4 >> 28) == 0xe : a.bytes[0] == 0xff
        guard a != .zeroV4, a != .zero, !multicast, !(a.isIPv4 && a.v4 == 0xffff_ffff) else {
            throw error(node, "'\(name)' must be a unicast address, got \(a)")
        }
        return a
    }

    // MARK: The document

    func parse(_ text: String) throws(ConfigError) -> LVSDConfiguration {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            throw syntaxError(error)
        }
        guard let root, !Self.isNull(root) else {
            throw error(line: 1, column: 1, "the configuration is empty (at least 'interfaces' is required)")
        }
        guard case .mapping = root else {
            throw error(root, "the configuration must be a mapping of settings, got \(Self.describe(root))")
        }
        let f = try fields(root, "the configuration", allowed: Self.topKeys)

        var config = LVSDConfiguration(interfaces: [])
        if let v = f.optional("control_socket") { config.controlSocket = try controlSocket(v) }
        if let v = f.optional("metrics_listen") { config.metricsListen = try listenAddress(v, "metrics_listen") }
        if let v = f.optional("connection_capacity") {
            config.connectionCapacity = try integer(v, "connection_capacity", LVSDConfiguration.connectionCapacityRange)
        }
        // The `l7` section (parsed by LVSL7) runs without a data plane: interfaces are optional then.
        if f["l7"] == nil || f["interfaces"] != nil { config.interfaces = try interfaces(try required(f, "interfaces")) }
        if let v = f.optional("gateway") { config.gateway = try address(v, "gateway") }
        if let v = f.optional("realtime_priority") {
            config.realtimePriority = try integer(v, "realtime_priority", LVSDConfiguration.realtimePriorityRange)
        }
        if let v = f.optional("timeouts") { config.timeouts = try timeouts(v) }
        if let v = f.optional("expire_quiescent_template") {
            config.expireQuiescentTemplate = try boolean(v, "expire_quiescent_template")
        }
        if let v = f.optional("services") { config.services = try services(v) }
        return config
    }

    func controlSocket(_ node: Node) throws(ConfigError) -> String {
        let path = try string(node, "control_socket")
        guard path.hasPrefix("/") else { throw error(node, "'control_socket' must be an absolute path, got '\(path)'") }
        guard path.utf8.count <= Self.maxSocketPath else {
            throw error(node, "'control_socket' is longer than a unix socket path may be (\(Self.maxSocketPath) bytes)")
        }
        return path
    }

    /// `ADDRESS:PORT` or `[IPV6]:PORT`, loopback only.
    func listenAddress(_ node: Node, _ name: String) throws(ConfigError) -> ListenAddress {
        let text = try string(node, name)
        let malformed = error(node, "'\(name)' must be ADDRESS:PORT (e.g. 127.0.0.1:9117 or [::1]:9117), got '\(text)'")
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
                throw malformed
            }
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":"), !text[..<colon].contains(":") else { throw malformed }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        }
        guard let a = IPAddress(host) else { throw malformed }
        guard !portText.isEmpty, portText.allSatisfy({ $0.isASCII && $0.isNumber }), let port = Int(portText) else {
            throw malformed
        }
        guard (1...65535).contains(port) else { throw error(node, "the port of '\(name)' must be 1..65535, got \(port)") }
        guard ListenAddress.isLoopback(a) else {
            throw error(node, "'\(name)' must be a loopback address (127.0.0.0/8 or ::1), got \(a)")
        }
        return ListenAddress(a, UInt16(port))
    }

    func interfaces(_ node: Node) throws(ConfigError) -> [String] {
        guard case .sequence(let seq) = node else {
            throw error(node, "'interfaces' must be a list of interface names, got \(Self.describe(node))")
        }
        guard !seq.isEmpty else { throw error(node, "'interfaces' must list at least one interface") }
        var names: [String] = []
        for item in seq {
            let name = try string(item, "interfaces")
            guard (1...Self.maxInterfaceName).contains(name.utf8.count) else {
                throw error(item, "interface name '\(name)' must be 1..\(Self.maxInterfaceName) bytes long")
            }
            guard name != ".", name != "..",
                  !name.unicodeScalars.contains(where: { $0 == "/" || $0 == ":" || $0.properties.isWhitespace })
            else {
                throw error(item, "'\(name)' is not a valid interface name")
            }
            guard !names.contains(name) else { throw error(item, "interface '\(name)' is listed twice") }
            names.append(name)
        }
        return names
    }

    func timeouts(_ node: Node) throws(ConfigError) -> ConfigTimeouts {
        let f = try fields(node, "'timeouts'", allowed: Self.timeoutKeys)
        var t = ConfigTimeouts()
        if let v = f.optional("tcp") { t.tcp = try integer(v, "tcp", ConfigTimeouts.range) }
        if let v = f.optional("tcpfin") { t.tcpfin = try integer(v, "tcpfin", ConfigTimeouts.range) }
        if let v = f.optional("udp") { t.udp = try integer(v, "udp", ConfigTimeouts.range) }
        for (key, state) in ConfigTimeouts.stateKeys {
            if let v = f.optional(key) { t.states[state] = try integer(v, key, ConfigTimeouts.range) }
        }
        return t
    }

    // MARK: Services

    func services(_ node: Node) throws(ConfigError) -> [ConfiguredService] {
        guard case .sequence(let seq) = node else {
            throw error(node, "'services' must be a list of services, got \(Self.describe(node))")
        }
        var out: [ConfiguredService] = []
        var seen: [ServiceKey: Int] = [:]
        for item in seq {
            let svc = try service(item)
            if let line = seen[svc.key] {
                throw error(item, "duplicate service \(name(svc.key)) (first defined at line \(line))")
            }
            seen[svc.key] = item.mark?.line ?? 0
            out.append(svc)
        }
        return out
    }

    /// `TCP 10.0.1.100:80`, or `FWM  7` for a group.
    func name(_ key: ServiceKey) -> String { key.description }

    func service(_ node: Node) throws(ConfigError) -> ConfiguredService {
        let f = try fields(node, "a service", allowed: Self.serviceKeys)
        var proto = TransportProtocol.tcp
        if let v = f.optional("protocol") {
            switch try string(v, "protocol") {
            case "tcp": proto = .tcp
            case "udp": proto = .udp
            default: throw error(v, "'protocol' must be tcp or udp, got \(Self.describe(v))")
            }
        }
        let key: ServiceKey
        var matches: [ServiceMatch] = []
        if let markNode = f.optional("fwmark") {
            // A service group: `fwmark: 7` with `match: [tcp:10.0.1.100:80, tcp:10.0.1.100:8000-8010]`.
            for k in ["address", "port", "protocol"] where f[k] != nil {
                throw error(f.keyNodes[k] ?? markNode, "a group ('fwmark') takes its addresses from 'match', not '\(k)'")
            }
            let mark: UInt32 = try integer(markNode, "fwmark", 1...UInt32.max)
            matches = try self.matches(try required(f, "match"))
            key = ServiceKey(fwmark: mark, ipv6: !matches[0].address.isIPv4)
        } else {
            if let m = f.optional("match") { throw error(m, "'match' is only for groups: add 'fwmark: N' to the service") }
            let vip = try address(try required(f, "address"), "address")
            let portNode = try required(f, "port")
            let port: UInt16 = try integer(portNode, "port", 0...65535)
            if port == 0 && f["persistence"] == nil {
                throw error(portNode, "port 0 (all ports) needs 'persistence' (as in ipvsadm)")
            }
            key = ServiceKey(proto, vip, port)
        }
        var scheduler = SchedulerRegistry.defaultName
        if let v = f.optional("scheduler") {
            scheduler = try string(v, "scheduler")
            guard SchedulerRegistry.make(scheduler) != nil else {
                throw error(v, "unknown scheduler '\(scheduler)' (available: \(SchedulerRegistry.names.joined(separator: ", ")))")
            }
        }
        var flags: UInt32 = 0
        if let v = f.optional("scheduler_flags") { flags = try schedulerFlags(v, scheduler: scheduler) }
        var persistence: Persistence? = nil
        if let v = f.optional("persistence") { persistence = try self.persistence(v, of: key) }
        var onePacket = false
        if let v = f.optional("one_packet") {
            onePacket = try boolean(v, "one_packet")
            if onePacket && !key.isGroup && key.proto != .udp {
                throw error(v, "one-packet scheduling is only for UDP services and groups")
            }
        }
        var udpTimeout: UInt64? = nil
        if let v = f.optional("udp_timeout") {
            guard key.isGroup || key.proto == .udp else { throw error(v, "'udp_timeout' is only for UDP services and groups") }
            let seconds: UInt64 = try integer(v, "udp_timeout", ConfigTimeouts.range)
            udpTimeout = seconds * 1000
        }
        var vdportRange = defaultVirtualPortRange
        if let v = f.optional("vdport_range") { vdportRange = try portRange(v, "vdport_range") }
        var lips: [IPAddress] = []
        if let v = f.optional("local_addresses") {
            guard case .sequence(let seq) = v else {
                throw error(v, "'local_addresses' must be a list of addresses, got \(Self.describe(v))")
            }
            for item in seq {
                let a = try address(item, "local_addresses")
                if a.isIPv4 != key.address.isIPv4 {
                    throw error(item, "local address \(a) and the virtual service \(name(key)) must be of the same address family")
                }
                if lips.contains(a) { throw error(item, "local address \(a) is listed twice") }
                lips.append(a)
            }
            if lips.count > Director.maxLocalAddressesPerService {
                throw error(v, "at most \(Director.maxLocalAddressesPerService) local addresses per service")
            }
        }
        var clientAddress = ClientAddressDelivery.none
        if let v = f.optional("client_address") {
            switch try string(v, "client_address") {
            case "none": clientAddress = .none
            case "proxy_v2", "toa":
                guard proto == .tcp else { throw error(v, "'client_address: \(try string(v, "client_address"))' is for TCP services only") }
                clientAddress = try string(v, "client_address") == "toa" ? .toa : .proxyV2
            default: throw error(v, "'client_address' must be none, proxy_v2 or toa, got \(Self.describe(v))")
            }
        }
        var servers: [DestinationSpec] = []
        if let v = f.optional("real_servers") {
            guard case .sequence(let seq) = v else {
                throw error(v, "'real_servers' must be a list of real servers, got \(Self.describe(v))")
            }
            var seen: [Endpoint: Int] = [:]
            for item in seq {
                let d = try realServer(item, of: key)
                let ep = Endpoint(d.address, d.port)
                if let line = seen[ep] {
                    throw error(item, "duplicate real server \(ep) in service \(name(key)) (first defined at line \(line))")
                }
                seen[ep] = item.mark?.line ?? 0
                if d.method == .fullNAT && lips.isEmpty {
                    throw error(item, "real server \(ep) is fullnat, so service \(name(key)) needs 'local_addresses'")
                }
                servers.append(d)
            }
        }
        return ConfiguredService(
            ServiceSpec(key, scheduler: scheduler, schedulerFlags: flags, persistence: persistence, matches: matches,
                        onePacket: onePacket, udpTimeout: udpTimeout, virtualPortRange: vdportRange,
                        localAddresses: lips, clientAddress: clientAddress),
            servers)
    }

    /// A group's `match` list: `proto:address:port[-port]` strings (port 0 = every port), one family.
    func matches(_ node: Node) throws(ConfigError) -> [ServiceMatch] {
        guard case .sequence(let seq) = node, !seq.isEmpty else {
            throw error(node, "'match' must be a non-empty list such as [tcp:10.0.1.100:80, tcp:10.0.1.100:8000-8010], "
                        + "got \(Self.describe(node))")
        }
        var out: [ServiceMatch] = []
        for item in seq {
            let text = try string(item, "match")
            guard let m = ServiceMatch(Substring(text)) else {
                throw error(item, "'match' entry '\(text)' is not tcp|udp:ADDRESS:PORT[-PORT] (port 0 = all ports)")
            }
            if let first = out.first, first.address.isIPv4 != m.address.isIPv4 {
                throw error(item, "'match' entries of one group must be of one address family: \(first) and \(m)")
            }
            if let other = out.first(where: { $0.proto == m.proto && $0.address == m.address && $0.ports.overlaps(m.ports) }) {
                throw error(item, "'match' entry \(m) overlaps \(other)")
            }
            out.append(m)
        }
        return out
    }

    /// `1024-65535`: a port range, LOW <= HIGH, both in 1...65535.
    func portRange(_ node: Node, _ field: String) throws(ConfigError) -> ClosedRange<UInt16> {
        let text = try string(node, field)
        guard let range = parseVirtualPortRange(Substring(text)) else {
            throw error(node, "'\(field)' must be LOW-HIGH with 1 <= LOW <= HIGH <= 65535, got \(Self.describe(node))")
        }
        return range
    }

    /// `persistence: {timeout: 360, netmask: 255.255.255.0}` (ipvsadm -p/-M; `{}` takes the defaults:
    /// 360 s, /32). IPv6 services give the netmask as a prefix length (`netmask: 64`).
    func persistence(_ node: Node, of key: ServiceKey) throws(ConfigError) -> Persistence {
        let f = try fields(node, "'persistence'", allowed: Self.persistenceKeys)
        var p = Persistence()
        if let v = f.optional("timeout") {
            let seconds: UInt64 = try integer(v, "timeout", 1...UInt64(86_400 * 31))
            p.timeout = seconds * 1000
        }
        if let v = f.optional("netmask") {
            if key.address.isIPv4 {
                let text = try string(v, "netmask")
                guard let a = IPAddress(text), a.isIPv4 else {
                    throw error(v, "'netmask' must be a dotted IPv4 netmask such as 255.255.255.0, got '\(text)'")
                }
                p.netmask = a.v4
            } else {
                p.prefixLength = try integer(v, "netmask", 1...128)
            }
        }
        if key.port == 21 && !key.isGroup {
            throw error(node, "persistent FTP services (port 21) are not supported: SwiftLVS has no FTP helper")
        }
        return p
    }

    /// `scheduler_flags: [sh-port, sh-fallback]`: ipvsadm's -b names, each valid for the
    /// service's scheduler (sh-* for sh, mh-* for mh, flag-1..3 for any).
    func schedulerFlags(_ node: Node, scheduler: String) throws(ConfigError) -> UInt32 {
        guard case .sequence(let seq) = node else {
            throw error(node, "'scheduler_flags' must be a list of flag names, got \(Self.describe(node))")
        }
        let valid = SchedulerFlagNames.names(SchedulerFlags.all, scheduler: scheduler)
        var flags: UInt32 = 0
        for item in seq {
            let name = try string(item, "scheduler_flags")
            switch SchedulerFlagNames.flag(name, scheduler: scheduler) {
            case .success(let bit):
                guard flags & bit == 0 else { throw error(item, "scheduler flag '\(name)' is listed twice") }
                flags |= bit
            case .failure(let problem):
                let what = problem == .incompatible
                    ? "scheduler flag '\(name)' does not apply to the \(scheduler) scheduler"
                    : "unknown scheduler flag '\(name)'"
                throw error(item, "\(what) (\(scheduler) takes: \(valid.joined(separator: ", ")))")
            }
        }
        return flags
    }

    func realServer(_ node: Node, of key: ServiceKey) throws(ConfigError) -> DestinationSpec {
        let f = try fields(node, "a real server", allowed: Self.serverKeys)
        let addressNode = try required(f, "address")
        let rip = try address(addressNode, "address")
        var method = ForwardingMethod.masquerade
        if let v = f.optional("method") {
            switch try string(v, "method") {
            case "nat": method = .masquerade
            case "dr": method = .directRoute
            case "tun": method = .tunnel
            case "doublenat": method = .doubleNAT
            case "fullnat": method = .fullNAT
            default: throw error(v, "'method' must be nat, dr, tun, doublenat or fullnat, got \(Self.describe(v))")
            }
        }
        if rip.isIPv4 != key.address.isIPv4 {
            func family(_ a: IPAddress) -> String { a.isIPv4 ? "IPv4" : "IPv6" }
            throw error(addressNode, "real server \(rip) is \(family(rip)) but the virtual service \(name(key)) is "
                        + "\(family(key.address)): both must be of the same address family")
        }
        var port = key.port
        if let v = f.optional("port") {
            // Port 0 (the packet's own port) only for groups and port-0 services.
            port = try integer(v, "port", key.isGroup || key.port == 0 ? 0...65535 : 1...65535)
            if (method == .directRoute || method == .tunnel) && port != key.port && !key.isGroup {
                throw error(v, "a \(method == .tunnel ? "tun" : "dr") real server receives packets unchanged, so its port must be the service port "
                            + "\(key.port), got \(port)")
            }
        }
        var d = DestinationSpec(address: rip, port: port, method: method,
                                tunnel: try tunnel(f.optional("tunnel"), method: method))
        if let v = f.optional("weight") { d.weight = try integer(v, "weight", 0...65535) }
        if let v = f.optional("upper_threshold") { d.upperThreshold = try integer(v, "upper_threshold", 0...UInt32.max) }
        if let v = f.optional("lower_threshold") {
            d.lowerThreshold = try integer(v, "lower_threshold", 0...UInt32.max)
            if d.upperThreshold != 0 && d.lowerThreshold > d.upperThreshold {
                throw error(v, "'lower_threshold' (\(d.lowerThreshold)) must not exceed 'upper_threshold' "
                            + "(\(d.upperThreshold))")
            }
        }
        return d
    }
}
