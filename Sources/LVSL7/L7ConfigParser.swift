import LVSControl
import LVSEngine
import LVSPacket
import Yams

/// Reads the `l7` section of lvsd's configuration file (docs/L7.md). The rest of the file is
/// LVSControl's; both read the same text, and errors carry FILE:LINE:COLUMN the same way.
public enum L7ConfigParser {
    /// The `l7` section of the file at `path`, or nil when it has none.
    public static func load(path: String) throws(ConfigError) -> L7Configuration? {
        try parse(text: LVSDConfiguration.readFile(path), file: path)
    }

    public static func parse(text: String, file: String = "<config>") throws(ConfigError) -> L7Configuration? {
        let p = Parser(file: file)
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            throw ConfigError(file: file, line: nil, column: nil, message: "YAML error: \(error)")
        }
        guard let root, case .mapping(let m) = root, let section = m["l7"] else { return nil }
        return try p.section(section)
    }

    struct Parser {
        let file: String

        func error(_ node: Node, _ message: String) -> ConfigError {
            ConfigError(file: file, line: node.mark?.line ?? 1, column: node.mark?.column ?? 1, message: message)
        }

        func fields(_ node: Node, _ what: String, _ allowed: [String]) throws(ConfigError) -> [String: Node] {
            guard case .mapping(let mapping) = node else { throw error(node, "\(what) must be a mapping") }
            var out: [String: Node] = [:]
            for (k, v) in mapping {
                guard case .scalar(let ks) = k else { throw error(k, "keys in \(what) must be names") }
                guard allowed.contains(ks.string) else {
                    throw error(k, "unknown key '\(ks.string)' in \(what) (allowed: \(allowed.joined(separator: ", ")))")
                }
                out[ks.string] = v
            }
            return out
        }

        func string(_ node: Node, _ name: String) throws(ConfigError) -> String {
            guard case .scalar(let s) = node, !s.string.isEmpty else {
                throw error(node, "'\(name)' must be a non-empty string")
            }
            return s.string
        }

        func integer(_ node: Node, _ name: String, _ range: ClosedRange<Int64>) throws(ConfigError) -> Int64 {
            guard case .scalar(let s) = node, let v = Int64(s.string) else {
                throw error(node, "'\(name)' must be an integer")
            }
            guard range.contains(v) else {
                throw error(node, "'\(name)' must be \(range.lowerBound)..\(range.upperBound), got \(v)")
            }
            return v
        }

        /// Seconds, fractions allowed, as milliseconds.
        func seconds(_ node: Node, _ name: String) throws(ConfigError) -> Int64 {
            guard case .scalar(let s) = node, let v = Double(s.string), v.isFinite else {
                throw error(node, "'\(name)' must be a number of seconds")
            }
            guard v > 0, v <= 86400 else { throw error(node, "'\(name)' must be more than 0 and at most 86400 seconds") }
            return max(Int64(v * 1000), 1)
        }

        func list(_ node: Node, _ name: String) throws(ConfigError) -> [Node] {
            if case .sequence(let seq) = node { return Array(seq) }
            if case .scalar = node { return [node] }
            throw error(node, "'\(name)' must be a list")
        }

        /// ADDRESS:PORT or [IPV6]:PORT.
        func endpoint(_ node: Node, _ name: String) throws(ConfigError) -> L7Listener {
            let text = try string(node, name)
            let bad = error(node, "'\(name)' must be ADDRESS:PORT (e.g. 127.0.0.1:8080 or [::1]:8080), got '\(text)'")
            let host: Substring
            let port: Substring
            if text.hasPrefix("[") {
                guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else { throw bad }
                host = text[text.index(after: text.startIndex)..<close]
                port = text[text.index(close, offsetBy: 2)...]
            } else {
                guard let colon = text.lastIndex(of: ":"), !text[..<colon].contains(":") else { throw bad }
                host = text[..<colon]
                port = text[text.index(after: colon)...]
            }
            guard let a = IPAddress(host), let p = UInt16(port) else { throw bad }
            return L7Listener(address: a, port: p)
        }

        static let sectionKeys = ["listen", "threads", "limits", "pools", "rules", "default_pool"]
        static let limitKeys = ["max_header_bytes", "max_body_bytes", "client_idle_timeout", "connect_timeout",
                                "response_timeout", "retries"]
        static let poolKeys = ["name", "scheduler", "scheduler_flags", "hash_key", "cookie", "servers",
                               "fail_threshold", "fail_timeout", "max_idle", "health_check"]
        static let checkKeys = ["type", "path", "status", "host", "port", "interval", "timeout", "retry",
                                "delay_before_retry"]
        static let serverKeys = ["address", "port", "weight", "name"]
        static let ruleKeys = ["host", "path_prefix", "path_regex", "header", "method", "pool"]

        func section(_ node: Node) throws(ConfigError) -> L7Configuration {
            let f = try fields(node, "'l7'", Self.sectionKeys)
            guard let listenNode = f["listen"] else { throw error(node, "'l7' is missing the required key 'listen'") }
            var listeners: [L7Listener] = []
            for item in try list(listenNode, "listen") {
                let l = try endpoint(item, "listen")
                guard l.port != 0 else { throw error(item, "the port of 'listen' must be 1..65535") }
                guard !listeners.contains(l) else { throw error(item, "listener \(try string(item, "listen")) is listed twice") }
                listeners.append(l)
            }
            guard !listeners.isEmpty else { throw error(listenNode, "'listen' must list at least one ADDRESS:PORT") }

            guard let poolsNode = f["pools"], case .sequence(let poolSeq) = poolsNode, !poolSeq.isEmpty else {
                throw error(f["pools"] ?? node, "'l7' needs 'pools', a list of at least one pool")
            }
            var pools: [L7PoolConfiguration] = []
            var poolLines: [String: Int] = [:]
            for item in poolSeq {
                let p = try pool(item)
                if let line = poolLines[p.name] {
                    throw error(item, "duplicate pool '\(p.name)' (first defined at line \(line))")
                }
                poolLines[p.name] = item.mark?.line ?? 0
                pools.append(p)
            }
            func poolIndex(_ n: Node) throws(ConfigError) -> Int {
                let name = try string(n, "pool")
                guard let i = pools.firstIndex(where: { $0.name == name }) else {
                    throw error(n, "unknown pool '\(name)' (pools: \(pools.map(\.name).joined(separator: ", ")))")
                }
                return i
            }
            var c = L7Configuration(listeners: listeners, pools: pools)
            if let d = f["default_pool"] {
                c.defaultPool = try poolIndex(d)
            } else if pools.count > 1 {
                throw error(node, "'l7' has several pools: name the one for requests matching no rule in 'default_pool'")
            }
            if let r = f["rules"] {
                for item in try list(r, "rules") {
                    let rf = try fields(item, "a rule", Self.ruleKeys)
                    guard let pn = rf["pool"] else { throw error(item, "a rule is missing the required key 'pool'") }
                    var conditions: [L7Condition] = []
                    if let v = rf["host"] { conditions.append(.host(try string(v, "host").lowercased())) }
                    if let v = rf["path_prefix"] {
                        let p = try string(v, "path_prefix")
                        guard p.hasPrefix("/") else { throw error(v, "'path_prefix' must start with '/', got '\(p)'") }
                        conditions.append(.pathPrefix(p))
                    }
                    if let v = rf["path_regex"] {
                        let p = try string(v, "path_regex")
                        do {
                            conditions.append(.pathRegex(try L7Regex(p)))
                        } catch {
                            throw self.error(v, "'path_regex' is not a valid regular expression: \(error)")
                        }
                    }
                    if let v = rf["header"] {
                        // "Name" (present) or "Name: value" (equal, case-insensitive).
                        let h = try string(v, "header")
                        if let colon = h.firstIndex(of: ":") {
                            let name = h[..<colon].trimmingSpaces
                            let value = h[h.index(after: colon)...].trimmingSpaces
                            guard !name.isEmpty else { throw error(v, "'header' must be NAME or 'NAME: VALUE', got '\(h)'") }
                            conditions.append(.header(name: String(name), value: String(value)))
                        } else {
                            conditions.append(.header(name: h, value: nil))
                        }
                    }
                    if let v = rf["method"] {
                        var methods: [String] = []
                        for m in try list(v, "method") {
                            let s = try string(m, "method")
                            guard s.allSatisfy({ $0.isASCII && ($0.isLetter || $0 == "-") }) else {
                                throw error(m, "'method' must be HTTP method names, got '\(s)'")
                            }
                            methods.append(s.uppercased())
                        }
                        conditions.append(.method(methods))
                    }
                    guard !conditions.isEmpty else {
                        throw error(item, "a rule needs at least one of host, path_prefix, path_regex, header, method")
                    }
                    c.rules.append(L7Rule(conditions, pool: try poolIndex(pn)))
                }
            }
            if let t = f["threads"] { c.threads = Int(try integer(t, "threads", 0...256)) }
            if let l = f["limits"] {
                let lf = try fields(l, "'limits'", Self.limitKeys)
                if let v = lf["max_header_bytes"] { c.limits.maxHeaderBytes = Int(try integer(v, "max_header_bytes", 1024...1 << 20)) }
                if let v = lf["max_body_bytes"] { c.limits.maxBodyBytes = try integer(v, "max_body_bytes", 0...Int64.max) }
                if let v = lf["client_idle_timeout"] { c.limits.clientIdleTimeoutMilliseconds = try seconds(v, "client_idle_timeout") }
                if let v = lf["connect_timeout"] { c.limits.connectTimeoutMilliseconds = try seconds(v, "connect_timeout") }
                if let v = lf["response_timeout"] { c.limits.responseTimeoutMilliseconds = try seconds(v, "response_timeout") }
                if let v = lf["retries"] { c.limits.retries = Int(try integer(v, "retries", 0...16)) }
            }
            return c
        }

        func pool(_ node: Node) throws(ConfigError) -> L7PoolConfiguration {
            let f = try fields(node, "a pool", Self.poolKeys)
            guard let nameNode = f["name"] else { throw error(node, "a pool is missing the required key 'name'") }
            let name = try string(nameNode, "name")
            var p = L7PoolConfiguration(name: name, servers: [])
            if let v = f["scheduler"] {
                p.scheduler = try string(v, "scheduler")
                guard SchedulerRegistry.all[p.scheduler] != nil else {
                    throw error(v, "unknown scheduler '\(p.scheduler)' (available: \(SchedulerRegistry.names.joined(separator: ", ")))")
                }
            }
            if let v = f["scheduler_flags"] {
                for item in try list(v, "scheduler_flags") {
                    let s = try string(item, "scheduler_flags")
                    switch s {
                    case "fallback", "sh-fallback", "mh-fallback": p.schedulerFlags |= SchedulerFlags.fallback
                    case "port", "sh-port", "mh-port": p.schedulerFlags |= SchedulerFlags.port
                    default: throw error(item, "unknown scheduler flag '\(s)' (fallback, port)")
                    }
                }
            }
            if let v = f["hash_key"] {
                let s = try string(v, "hash_key")
                switch s {
                case "path": p.hashKey = .path
                case "uri": p.hashKey = .uri
                case "host": p.hashKey = .host
                case "client": p.hashKey = .client
                default:
                    if s.hasPrefix("header:"), s.count > 7 {
                        p.hashKey = .header(String(s.dropFirst(7)))
                    } else if s.hasPrefix("cookie:"), s.count > 7 {
                        p.hashKey = .cookie(String(s.dropFirst(7)))
                    } else {
                        throw error(v, "'hash_key' must be path, uri, host, client, header:NAME or cookie:NAME, got '\(s)'")
                    }
                }
            }
            if let v = f["cookie"] {
                let s = try string(v, "cookie")
                guard s.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") }) else {
                    throw error(v, "'cookie' must be a cookie name (letters, digits, '_', '-'), got '\(s)'")
                }
                p.cookie = s
            }
            if let v = f["fail_threshold"] { p.failThreshold = Int(try integer(v, "fail_threshold", 1...1000)) }
            if let v = f["fail_timeout"] { p.failTimeoutMilliseconds = UInt64(try seconds(v, "fail_timeout")) }
            if let v = f["max_idle"] { p.maxIdlePerServer = Int(try integer(v, "max_idle", 0...100_000)) }
            if let v = f["health_check"] { p.healthCheck = try healthCheck(v) }
            guard let sv = f["servers"], case .sequence(let seq) = sv, !seq.isEmpty else {
                throw error(f["servers"] ?? node, "pool '\(name)' needs 'servers', a list of at least one server")
            }
            for item in seq {
                let sf = try fields(item, "a server", Self.serverKeys)
                guard let an = sf["address"], let pn = sf["port"] else {
                    throw error(item, "a server needs 'address' and 'port'")
                }
                let text = try string(an, "address")
                guard let a = IPAddress(text) else { throw error(an, "'address' is not an IPv4 or IPv6 address: '\(text)'") }
                let port = UInt16(try integer(pn, "port", 1...65535))
                let weight = try sf["weight"].map { (n: Node) throws(ConfigError) -> Int32 in Int32(try integer(n, "weight", 0...65535)) } ?? 1
                let sname = try sf["name"].map { (n: Node) throws(ConfigError) -> String in try string(n, "name") }
                let s = L7Server(address: a, port: port, weight: weight, name: sname)
                guard !p.servers.contains(where: { $0.address == a && $0.port == port }) else {
                    throw error(item, "server \(s.endpoint) is listed twice in pool '\(name)'")
                }
                p.servers.append(s)
            }
            return p
        }

        /// `health_check: {type: http, path: /healthz, status: [200], interval: 2, timeout: 1,
        /// retry: 1}`: a checker spec for LVSHealth (keepalived's HTTP_GET / TCP_CHECK timing).
        func healthCheck(_ node: Node) throws(ConfigError) -> HealthCheckSpec {
            let f = try fields(node, "'health_check'", Self.checkKeys)
            guard let t = f["type"] else { throw error(node, "'health_check' is missing the required key 'type' (http, tcp)") }
            let type = try string(t, "type")
            var spec = HealthCheckSpec(kind: .tcp, delayLoop: 2, connectTimeout: 1, retry: 1, delayBeforeRetry: 1)
            switch type {
            case "tcp":
                for key in ["path", "status", "host"] {
                    if let v = f[key] { throw error(v, "'\(key)' applies to type http only, not tcp") }
                }
            case "http":
                var url = HTTPCheckURL(path: "/")
                if let v = f["path"] {
                    url.path = try string(v, "path")
                    guard url.path.hasPrefix("/"), !url.path.contains(where: { $0 == " " || $0 == "\r" || $0 == "\n" }) else {
                        throw error(v, "'path' must start with '/' and hold no spaces, got '\(url.path)'")
                    }
                }
                if let v = f["status"] {
                    url.statusCodes = []
                    for item in try list(v, "status") {
                        let text = try string(item, "status")
                        let ends = text.split(separator: "-", omittingEmptySubsequences: false)
                        guard ends.count <= 2, let lo = Int(ends[0]), let hi = Int(ends.last!), (100...599).contains(lo),
                              (100...599).contains(hi), lo <= hi else {
                            throw error(item, "'status' must be HTTP status codes (100..599) or ranges like 200-299, got '\(text)'")
                        }
                        url.statusCodes.append(lo...hi)
                    }
                    guard !url.statusCodes.isEmpty else { throw error(v, "'status' must list at least one status code") }
                }
                let host = try f["host"].map { (n: Node) throws(ConfigError) -> String in try string(n, "host") }
                spec.kind = .http([url], virtualhost: host)
            default:
                throw error(t, "unknown health_check type '\(type)' (http, tcp)")
            }
            if let v = f["port"] { spec.connectPort = UInt16(try integer(v, "port", 1...65535)) }
            if let v = f["interval"] { spec.delayLoop = Double(try seconds(v, "interval")) / 1000 }
            if let v = f["timeout"] { spec.connectTimeout = Double(try seconds(v, "timeout")) / 1000 }
            if let v = f["retry"] { spec.retry = Int(try integer(v, "retry", 0...100)) }
            if let v = f["delay_before_retry"] { spec.delayBeforeRetry = Double(try seconds(v, "delay_before_retry")) / 1000 }
            return spec
        }
    }
}
