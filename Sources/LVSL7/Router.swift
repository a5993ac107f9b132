/// The fields of a request that routing and hashing read. A protocol so the router stays pure
/// (tests pass plain values; the proxy passes NIO's request head without copying headers).
public protocol L7RequestFields {
    var method: String { get }
    /// The request target ("/a/b?q" or an absolute URI).
    var target: String { get }
    /// The first value of a header (name case-insensitive), or nil.
    func header(_ name: String) -> String?
}

extension L7RequestFields {
    /// The path: the target without the query, and without scheme and authority when absolute.
    public var path: Substring {
        var t = Substring(target)
        if !t.hasPrefix("/"), let colon = t.firstIndex(of: ":"), t[colon...].hasPrefix("://") {
            t = t[t.index(colon, offsetBy: 3)...]
            t = t.firstIndex(of: "/").map { t[$0...] } ?? "/"
        }
        if let q = t.firstIndex(where: { $0 == "?" || $0 == "#" }) { t = t[..<q] }
        return t
    }

    /// The Host header without the port, lower-cased.
    public var hostName: String? {
        guard let h = header("host") else { return nil }
        var name = Substring(h)
        if name.hasPrefix("[") {
            if let close = name.firstIndex(of: "]") { name = name[...close] }
        } else if let colon = name.lastIndex(of: ":") {
            name = name[..<colon]
        }
        return name.lowercased()
    }
}

/// Picks the pool for a request: the first rule whose conditions all hold, else the default.
public struct L7Router: Sendable {
    public let rules: [L7Rule]
    public let defaultPool: Int

    public init(rules: [L7Rule], defaultPool: Int) {
        self.rules = rules
        self.defaultPool = defaultPool
    }

    public func route(_ r: some L7RequestFields) -> Int {
        let path = r.path
        var host: String?? = .none
        for rule in rules {
            var ok = true
            for c in rule.conditions {
                switch c {
                case .host(let want):
                    if host == nil { host = .some(r.hostName) }
                    ok = Self.hostMatches(host!, want)
                case .pathPrefix(let p): ok = path.hasPrefix(p)
                case .pathRegex(let re): ok = re.matches(path)
                case .header(let name, let value):
                    if let v = r.header(name) {
                        ok = value.map { v.lowercased() == $0.lowercased() } ?? true
                    } else {
                        ok = false
                    }
                case .method(let methods): ok = methods.contains(r.method)
                }
                if !ok { break }
            }
            if ok { return rule.pool }
        }
        return defaultPool
    }

    static func hostMatches(_ host: String?, _ want: String) -> Bool {
        guard let host else { return false }
        if want.hasPrefix("*.") { return host.hasSuffix(want.dropFirst(1)) }
        return host == want
    }
}
