/// One routing rule: every condition must hold for the request to go to `pool`.
public struct L7Rule: Sendable {
    public var conditions: [L7Condition]
    /// Index into `L7Configuration.pools`.
    public var pool: Int
    public init(_ conditions: [L7Condition], pool: Int) {
        self.conditions = conditions
        self.pool = pool
    }
}

/// A condition on the request.
public enum L7Condition: Sendable {
    /// The Host header without its port, case-insensitive; "*.example.com" matches subdomains.
    case host(String)
    /// The path (the target before any '?') starts with this.
    case pathPrefix(String)
    /// The path matches this regular expression somewhere (anchor it with ^ and $ to match all).
    case pathRegex(L7Regex)
    /// The header is present (value nil) or has exactly this value (case-insensitive).
    case header(name: String, value: String?)
    /// The method is one of these (upper case).
    case method([String])
}

/// A compiled path regular expression (Swift Regex, compiled once at configuration time).
public struct L7Regex: @unchecked Sendable {
    public let pattern: String
    let regex: Regex<AnyRegexOutput>

    /// nil when `pattern` does not compile; `error` says why.
    public init(_ pattern: String) throws {
        self.pattern = pattern
        self.regex = try Regex(pattern)
    }

    func matches(_ s: Substring) -> Bool { (try? regex.firstMatch(in: s)) != nil }
}
