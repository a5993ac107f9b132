import LVSEngine
import LVSPacket

/// What one health checker probes (keepalived's TCP_CHECK, HTTP_GET, UDP_CHECK, DNS_CHECK,
/// MISC_CHECK, plus SwiftLVS's HAProxy-style agent check). docs/HEALTH.md describes each.
public enum HealthProbeKind: Sendable, Equatable, CustomStringConvertible {
    /// A TCP connect succeeds within connect_timeout.
    case tcp
    /// GET of every URL answers a listed status (and, with a digest, a body of that MD5).
    case http([HTTPCheckURL], virtualhost: String?)
    /// HTTP_GET over TLS (SSL_GET); the certificate is not verified, `virtualhost` is also the SNI.
    case ssl([HTTPCheckURL], virtualhost: String?)
    /// A datagram is answered (any reply) and no ICMP error comes back.
    case udp(payload: [UInt8])
    /// A DNS query of `name`/`type` is answered with the same id and RCODE 0.
    case dns(name: String, type: UInt16)
    /// An external command; its exit status decides (0 up, 1 down; with `dynamic`, 2...255 up with
    /// weight status - 2, keepalived's misc_dynamic).
    case misc(command: String, timeout: Double?, dynamic: Bool)
    /// The server's agent answers one line ("75%", "up", "drain", "down", ...); see docs/HEALTH.md.
    case agent

    public var description: String {
        switch self {
        case .tcp: "TCP_CHECK"
        case .http: "HTTP_GET"
        case .ssl: "SSL_GET"
        case .udp: "UDP_CHECK"
        case .dns: "DNS_CHECK"
        case .misc: "MISC_CHECK"
        case .agent: "AGENT_CHECK"
        }
    }
}

/// One `url { path ...  status_code ...  digest ... }` of an HTTP_GET.
public struct HTTPCheckURL: Sendable, Equatable {
    public var path: String
    /// Accepted status ranges; keepalived's default is 200-299.
    public var statusCodes: [ClosedRange<Int>]
    /// Lower-case hex MD5 of the expected body, or nil.
    public var digest: String?

    public init(path: String, statusCodes: [ClosedRange<Int>] = [200...299], digest: String? = nil) {
        self.path = path
        self.statusCodes = statusCodes
        self.digest = digest
    }

    /// `[200]`, `[200-299, 301]` as the log messages print the list.
    public var statusText: String {
        "[" + statusCodes.map { $0.count == 1 ? "\($0.lowerBound)" : "\($0.lowerBound)-\($0.upperBound)" }
            .joined(separator: ", ") + "]"
    }
}

/// A checker with its timers (seconds, as keepalived writes them).
public struct HealthCheckSpec: Sendable, Equatable {
    public var kind: HealthProbeKind
    /// Where to probe; nil = the real server's address / port.
    public var connectIP: IPAddress?
    public var connectPort: UInt16?
    /// The source address to bind (`bindto`); nil lets the kernel choose by route.
    public var bindTo: IPAddress?
    public var delayLoop: Double
    public var connectTimeout: Double
    /// Extra attempts, `delayBeforeRetry` apart, before an up server is declared down.
    public var retry: Int
    public var delayBeforeRetry: Double

    public init(kind: HealthProbeKind, connectIP: IPAddress? = nil, connectPort: UInt16? = nil, bindTo: IPAddress? = nil,
                delayLoop: Double = 60, connectTimeout: Double = 5, retry: Int = 1, delayBeforeRetry: Double = 1) {
        self.kind = kind
        self.connectIP = connectIP
        self.connectPort = connectPort
        self.bindTo = bindTo
        self.delayLoop = delayLoop
        self.connectTimeout = connectTimeout
        self.retry = retry
        self.delayBeforeRetry = delayBeforeRetry
    }
}

/// The health settings of one real server of a service.
public struct RealServerHealth: Sendable, Equatable {
    public var address: IPAddress
    public var port: UInt16
    /// All must pass for the server to be alive; none = always alive.
    public var checks: [HealthCheckSpec]
    /// Failed → weight 0 (connections drain) instead of removal.
    public var inhibitOnFailure: Bool
    /// Start as down until the first successful check.
    public var alpha: Bool
    public var notifyUp: String?
    public var notifyDown: String?

    public init(address: IPAddress, port: UInt16, checks: [HealthCheckSpec] = [], inhibitOnFailure: Bool = false,
                alpha: Bool = false, notifyUp: String? = nil, notifyDown: String? = nil) {
        self.address = address
        self.port = port
        self.checks = checks
        self.inhibitOnFailure = inhibitOnFailure
        self.alpha = alpha
        self.notifyUp = notifyUp
        self.notifyDown = notifyDown
    }
}

/// The health settings of one virtual service: its servers' checkers, quorum and sorry server.
public struct ServiceHealth: Sendable, Equatable {
    public var key: ServiceKey
    public var servers: [RealServerHealth]
    /// Minimum sum of live servers' weights (keepalived's quorum, default 1).
    public var quorum: Int
    public var hysteresis: Int
    public var quorumUp: String?
    public var quorumDown: String?
    /// Installed (and every real server taken out) while the quorum is lost.
    public var sorryServer: DestinationSpec?

    public init(key: ServiceKey, servers: [RealServerHealth] = [], quorum: Int = 1, hysteresis: Int = 0,
                quorumUp: String? = nil, quorumDown: String? = nil, sorryServer: DestinationSpec? = nil) {
        self.key = key
        self.servers = servers
        self.quorum = quorum
        self.hysteresis = hysteresis
        self.quorumUp = quorumUp
        self.quorumDown = quorumDown
        self.sorryServer = sorryServer
    }

    public func server(_ address: IPAddress, _ port: UInt16) -> RealServerHealth? {
        servers.first { $0.address == address && $0.port == port }
    }
}
