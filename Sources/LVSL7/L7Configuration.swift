import LVSControl
import LVSPacket

/// The `l7` section of lvsd's configuration file: the HTTP/1.1 content switch (docs/L7.md).
///
/// Listeners accept clients; each request is matched against `rules` in order and goes to the
/// first matching rule's pool, else to `defaultPool`. A pool schedules its servers with any
/// SwiftLVS scheduler (the engine's own code), keyed as `hashKey` says for the content-aware ones.
public struct L7Configuration: Sendable {
    public var listeners: [L7Listener]
    public var pools: [L7PoolConfiguration]
    public var rules: [L7Rule]
    /// Index into `pools` of the pool requests matching no rule go to.
    public var defaultPool: Int
    public var limits: L7Limits
    /// Event loops (the thesis's one dispatcher per thread); 0 = one per core.
    public var threads: Int

    public init(listeners: [L7Listener], pools: [L7PoolConfiguration], rules: [L7Rule] = [], defaultPool: Int = 0,
                limits: L7Limits = L7Limits(), threads: Int = 0) {
        self.listeners = listeners
        self.pools = pools
        self.rules = rules
        self.defaultPool = defaultPool
        self.limits = limits
        self.threads = threads
    }
}

/// Where the switch accepts clients.
public struct L7Listener: Sendable, Equatable {
    public var address: IPAddress
    public var port: UInt16
    public init(address: IPAddress, port: UInt16) {
        self.address = address
        self.port = port
    }
}

/// A real server of a pool.
public struct L7Server: Sendable, Equatable {
    public var address: IPAddress
    public var port: UInt16
    public var weight: Int32
    /// The value of the persistence cookie naming this server (its `name`, else a hash of
    /// address and port: stable across restarts and reorderings, reveals no address).
    public var cookieValue: String

    public init(address: IPAddress, port: UInt16, weight: Int32 = 1, name: String? = nil) {
        self.address = address
        self.port = port
        self.weight = weight
        self.cookieValue = name ?? L7Server.hashName(address, port)
    }

    static func hashName(_ a: IPAddress, _ port: UInt16) -> String {
        var h = FNV1a()
        h.add("\(a)")
        h.add(":\(port)")
        let hex = String(h.value, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    public var endpoint: String { address.isIPv4 ? "\(address):\(port)" : "[\(address)]:\(port)" }
}

/// What hashing and locality schedulers key on.
public enum L7HashKey: Sendable, Equatable {
    case path
    case uri
    case host
    case client
    case header(String)
    case cookie(String)
}

/// A pool of real servers and how to choose among them.
public struct L7PoolConfiguration: Sendable {
    public var name: String
    /// Any name of `SchedulerRegistry` (rr wrr lc wlc ... lblc lblcr dh sh mh).
    public var scheduler: String
    /// SchedulerFlags (sh/mh fallback and port).
    public var schedulerFlags: UInt32
    /// nil: lblc/lblcr/dh key on the request path (URL locality), sh/mh on the client address.
    public var hashKey: L7HashKey?
    /// Cookie-insert persistence: the cookie's name, or nil for none.
    public var cookie: String?
    public var servers: [L7Server]
    /// Passive health: consecutive failures that take a server out...
    public var failThreshold: Int
    /// ...for this long (ms), after which it gets traffic again.
    public var failTimeoutMilliseconds: UInt64
    /// Idle keep-alive upstream connections kept per server and event loop.
    public var maxIdlePerServer: Int
    /// Active health: a checker per server (LVSHealth's probes and keepalived timing, on
    /// threads of their own); a server whose check fails is not picked until it passes again.
    public var healthCheck: HealthCheckSpec?

    public init(name: String, scheduler: String = "wrr", schedulerFlags: UInt32 = 0, hashKey: L7HashKey? = nil,
                cookie: String? = nil, servers: [L7Server], failThreshold: Int = 3,
                failTimeoutMilliseconds: UInt64 = 10_000, maxIdlePerServer: Int = 64,
                healthCheck: HealthCheckSpec? = nil) {
        self.name = name
        self.scheduler = scheduler
        self.schedulerFlags = schedulerFlags
        self.hashKey = hashKey
        self.cookie = cookie
        self.servers = servers
        self.failThreshold = failThreshold
        self.failTimeoutMilliseconds = failTimeoutMilliseconds
        self.maxIdlePerServer = maxIdlePerServer
        self.healthCheck = healthCheck
    }
}

/// Sizes and timeouts, with the answer each one gives when exceeded.
public struct L7Limits: Sendable, Equatable {
    /// Request line plus headers (431 beyond).
    public var maxHeaderBytes: Int = 32 * 1024
    /// Request body; 0 = unlimited (413 beyond).
    public var maxBodyBytes: Int64 = 0
    /// A client connection with no request in progress is closed after this (ms); a request
    /// head that has started but not completed within it is answered 408.
    public var clientIdleTimeoutMilliseconds: Int64 = 60_000
    /// Connecting to a real server (then the next server is tried).
    public var connectTimeoutMilliseconds: Int64 = 3_000
    /// From the request's end to the response head (504 beyond).
    public var responseTimeoutMilliseconds: Int64 = 60_000
    /// Attempts on other servers after a failure that allows a retry.
    public var retries: Int = 2

    public init() {}
}

/// 64-bit FNV-1a: the hash of request keys handed to the engine's hashing schedulers.
struct FNV1a {
    var value: UInt64 = 0xcbf2_9ce4_8422_2325
    @inline(__always) mutating func add(_ byte: UInt8) {
        value = (value ^ UInt64(byte)) &* 0x100_0000_01b3
    }
    mutating func add(_ s: some StringProtocol) {
        for b in s.utf8 { add(b) }
    }
}
