import LVSPacket

/// A point in engine time, in milliseconds from an arbitrary origin.
///
/// The engine never reads a clock: the caller passes the time, so tests drive timeouts with a fake
/// clock and the data plane reads CLOCK_MONOTONIC once per batch.
@frozen
public struct Timestamp: Comparable, Hashable, Sendable {
    public var milliseconds: UInt64
    @inlinable public init(milliseconds: UInt64) { self.milliseconds = milliseconds }
    @inlinable public static func < (a: Timestamp, b: Timestamp) -> Bool { a.milliseconds < b.milliseconds }
}

/// The transport protocols a virtual service can carry.
public enum TransportProtocol: UInt8, Sendable, Hashable, CustomStringConvertible {
    case tcp = 6
    case udp = 17

    /// "TCP" / "UDP", as ipvsadm prints them.
    public var description: String { self == .tcp ? "TCP" : "UDP" }
}

/// How packets of a connection reach the real server (IPVS's IP_VS_CONN_F_FWD_MASK values).
public enum ForwardingMethod: UInt8, Sendable, Hashable, CustomStringConvertible {
    /// VS/NAT: destination rewritten to RIP:rport; replies come back through the director.
    case masquerade = 0
    /// VS/TUN: the packet is encapsulated (IPIP, 6in6 or GUE) to the real server; replies bypass
    /// the director.
    case tunnel = 2
    /// VS/DR: only the next hop (L2 destination) changes; replies bypass the director.
    case directRoute = 3
    /// FULLNAT (the Alibaba/Taobao LVS fork's IP_VS_CONN_F_FULLNAT): source -> LIP:lport from the
    /// service's local addresses, destination -> RIP:rport; replies come back to the LIP.
    case fullNAT = 5
    /// Double-NAT (double-nat.md): source -> VIP:vdport, destination -> RIP:rport; replies come
    /// back to the VIP through any route, so the director need not be the servers' gateway.
    case doubleNAT = 6

    /// The name ipvsadm's listing uses ("Masq", "Tunnel", "Route"; "DblNat", "FullNat").
    public var description: String {
        switch self {
        case .masquerade: "Masq"
        case .tunnel: "Tunnel"
        case .directRoute: "Route"
        case .doubleNAT: "DblNat"
        case .fullNAT: "FullNat"
        }
    }

    /// Replies pass back through the director (so connections step the two-way TCP table).
    @inlinable public var repliesThroughDirector: Bool { self == .masquerade || self == .doubleNAT || self == .fullNAT }

    /// Both ends are translated: the connection holds a local port (Double-NAT, FULLNAT).
    @inlinable public var translatesSource: Bool { self == .doubleNAT || self == .fullNAT }
}

/// A virtual service's identity: (protocol, VIP, port).
@frozen
public struct ServiceKey: Hashable, Sendable, CustomStringConvertible {
    public var proto: TransportProtocol
    public var address: IPAddress
    public var port: UInt16
    /// Non-zero for a service group, the role IPVS's firewall-mark services play (ipvsadm -f MARK):
    /// the group is matched by its `ServiceSpec.matches`, not by (proto, address, port). `address`
    /// is then `IPAddress.zeroV4` or `IPAddress.zero` and only says the family (-6).
    public var fwmark: UInt32

    public init(_ proto: TransportProtocol, _ address: IPAddress, _ port: UInt16) {
        self.proto = proto
        self.address = address
        self.port = port
        self.fwmark = 0
    }

    /// A service group addressed by `mark` (ipvsadm `-f MARK`, with `-6` for IPv6).
    public init(fwmark mark: UInt32, ipv6: Bool = false) {
        proto = .tcp
        address = ipv6 ? .zero : .zeroV4
        port = 0
        fwmark = mark
    }

    public var isGroup: Bool { fwmark != 0 }

    /// "TCP  10.0.0.1:80" style endpoint text ("[v6]:port" for IPv6); "FWM  7" for a group.
    public var description: String {
        if fwmark != 0 { return address.isIPv4 ? "FWM  \(fwmark)" : "FWM  \(fwmark) IPv6" }
        return "\(proto) \(Endpoint(address, port))"
    }
}

/// An address and port, printed as ipvsadm does: `a.b.c.d:p` or `[v6]:p`.
public struct Endpoint: Hashable, Sendable, CustomStringConvertible {
    public var address: IPAddress
    public var port: UInt16
    public init(_ address: IPAddress, _ port: UInt16) {
        self.address = address
        self.port = port
    }
    public var description: String {
        address.isIPv4 ? "\(address):\(port)" : "[\(address)]:\(port)"
    }
}

/// Per-object traffic counters (IPVS's ip_vs_kstats): 64-bit, never reset except by zeroing.
@frozen
public struct TrafficCounters: Sendable, Equatable {
    public var connections: UInt64 = 0
    public var inPackets: UInt64 = 0
    public var outPackets: UInt64 = 0
    public var inBytes: UInt64 = 0
    public var outBytes: UInt64 = 0

    public init() {}

    @inlinable mutating func countIn(bytes: Int) {
        inPackets &+= 1
        inBytes &+= UInt64(truncatingIfNeeded: bytes)
    }

    @inlinable mutating func countOut(bytes: Int) {
        outPackets &+= 1
        outBytes &+= UInt64(truncatingIfNeeded: bytes)
    }

    public static func + (a: TrafficCounters, b: TrafficCounters) -> TrafficCounters {
        var r = a
        r.connections &+= b.connections
        r.inPackets &+= b.inPackets
        r.outPackets &+= b.outPackets
        r.inBytes &+= b.inBytes
        r.outBytes &+= b.outBytes
        return r
    }
}
