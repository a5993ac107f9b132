import LVSEngine
import LVSPacket

/// The configuration of the daemon `lvsd`, as read from its YAML file (docs/CONFIGURATION.md).
///
/// A value of this type is always complete and valid on its own: `parse(text:file:)` either
/// returns one or throws a `ConfigError`. Whether a running `Director` accepts it (scheduler
/// names, table limits) is `ConfigApplier`'s business.
public struct LVSDConfiguration: Sendable, Equatable {
    public static let defaultControlSocket = "/run/lvsd.sock"
    public static let defaultConnectionCapacity = 1 << 20
    public static let connectionCapacityRange = 1024...134_217_728
    public static let realtimePriorityRange = 0...99

    /// Path of the unix control socket (created mode 0600).
    public var controlSocket: String
    /// Where the Prometheus endpoint listens (loopback only), or nil for no endpoint.
    public var metricsListen: ListenAddress?
    /// Connections each director's table holds (fixed at start-up).
    public var connectionCapacity: Int
    /// Data-plane interface names, in file order.
    public var interfaces: [String]
    /// Next hop of the default route, if any.
    public var gateway: IPAddress?
    /// SCHED_RR priority (1...99) of the data-plane thread, 0 = normal scheduling. For a director
    /// that shares its cores: a packet then waits for no other task (keepalived's
    /// vrrp_rt_priority / checker_rt_priority, for the forwarding thread).
    public var realtimePriority = 0
    public var timeouts: ConfigTimeouts
    /// Virtual services in file order, each with its real servers in file order.
    public var services: [ConfiguredService]
    /// IPVS's expire_quiescent_template: a persistence template whose server has weight 0 is
    /// invalid, so persistent clients leave a quiesced server (off by default, as in IPVS).
    public var expireQuiescentTemplate = false
    /// Health checking per service (keepalived.conf input, docs/HEALTH.md); services not listed
    /// are not checked. The configured weights in `services` stay the source of truth.
    public var health: [ServiceHealth] = []

    public init(controlSocket: String = LVSDConfiguration.defaultControlSocket, metricsListen: ListenAddress? = nil,
                connectionCapacity: Int = LVSDConfiguration.defaultConnectionCapacity, interfaces: [String],
                gateway: IPAddress? = nil, timeouts: ConfigTimeouts = ConfigTimeouts(),
                services: [ConfiguredService] = []) {
        self.controlSocket = controlSocket
        self.metricsListen = metricsListen
        self.connectionCapacity = connectionCapacity
        self.interfaces = interfaces
        self.gateway = gateway
        self.timeouts = timeouts
        self.services = services
    }

    /// The services as (spec, real servers) pairs, the shape the engine's control methods take.
    public var serviceSpecs: [(ServiceSpec, [DestinationSpec])] { services.map { ($0.spec, $0.destinations) } }

    /// Start-up settings for a `Director` built from this configuration.
    public func directorConfiguration(seed: UInt64 = DirectorConfiguration().seed) -> DirectorConfiguration {
        DirectorConfiguration(connectionCapacity: connectionCapacity, seed: seed, timeouts: timeouts.engineTimeouts,
                              expireQuiescentTemplate: expireQuiescentTemplate)
    }
}

/// A virtual service and its real servers.
public struct ConfiguredService: Sendable, Equatable {
    public var spec: ServiceSpec
    public var destinations: [DestinationSpec]

    public init(_ spec: ServiceSpec, _ destinations: [DestinationSpec] = []) {
        self.spec = spec
        self.destinations = destinations
    }

    public var key: ServiceKey { spec.key }
}

/// A loopback address and TCP port (`metrics_listen`).
public struct ListenAddress: Sendable, Equatable, CustomStringConvertible {
    public var address: IPAddress
    public var port: UInt16

    public init(_ address: IPAddress, _ port: UInt16) {
        self.address = address
        self.port = port
    }

    /// `127.0.0.1:9117` or `[::1]:9117`.
    public var description: String { Endpoint(address, port).description }

    /// 127.0.0.0/8 or ::1.
    public static func isLoopback(_ a: IPAddress) -> Bool {
        a.isIPv4 ? (a.v4 >> 24) == 127 : a == IPAddress("::1")!
    }
}

/// `ipvsadm --set tcp tcpfin udp`, in seconds. Keys missing from the file take IPVS's defaults, so
/// removing a key from the file and reloading restores the default.
public struct ConfigTimeouts: Sendable, Equatable, CustomStringConvertible {
    public static let range: ClosedRange<UInt64> = 1...2_592_000
    public var tcp: UInt64
    public var tcpfin: UInt64
    public var udp: UInt64
    /// Seconds for the other TCP states (a SwiftLVS extension: ipvsadm can only set the three
    /// above). States not listed keep IPVS's defaults.
    public var states: [TCPState: UInt64]

    /// The configuration keys of the states `states` may hold, e.g. `time_wait`.
    public static let stateKeys: [String: TCPState] = [
        "none": .none, "syn_sent": .synSent, "syn_recv": .synRecv, "time_wait": .timeWait, "close": .close,
        "close_wait": .closeWait, "last_ack": .lastAck, "listen": .listen, "synack": .synAck,
    ]

    public init(tcp: UInt64 = 900, tcpfin: UInt64 = 120, udp: UInt64 = 300, states: [TCPState: UInt64] = [:]) {
        self.tcp = tcp
        self.tcpfin = tcpfin
        self.udp = udp
        self.states = states
    }

    /// The values a director currently uses; states at IPVS's default are not listed.
    public init(_ t: Timeouts) {
        var states: [TCPState: UInt64] = [:]
        for state in Self.stateKeys.values where t[state] != Timeouts.ipvsDefaults[state] {
            states[state] = t[state] / 1000
        }
        self.init(tcp: t[.established] / 1000, tcpfin: t[.finWait] / 1000, udp: t.udp / 1000, states: states)
    }

    /// IPVS's defaults with these values set.
    public var engineTimeouts: Timeouts {
        var t = Timeouts.ipvsDefaults
        t.set(tcp: tcp, tcpfin: tcpfin, udp: udp)
        for (state, seconds) in states { t[state] = seconds * 1000 }
        return t
    }

    /// `tcp 900 s, tcpfin 120 s, udp 300 s` (then any per-state values).
    public var description: String {
        var s = "tcp \(tcp) s, tcpfin \(tcpfin) s, udp \(udp) s"
        for (key, state) in Self.stateKeys.sorted(by: { $0.key < $1.key }) {
            if let v = states[state] { s += ", \(key) \(v) s" }
        }
        return s
    }
}

/// A configuration error, located at the offending YAML node: `FILE:LINE:COLUMN: message`
/// (lines and columns from 1). Errors that concern the file as a whole (it cannot be read) have no
/// location and print as `FILE: message`.
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int?
    public var column: Int?
    public var message: String

    public init(file: String, line: Int?, column: Int?, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.message = message
    }

    public var description: String {
        if let line, let column { return "\(file):\(line):\(column): \(message)" }
        return "\(file): \(message)"
    }
}
