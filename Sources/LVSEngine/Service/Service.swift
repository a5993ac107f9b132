import LVSPacket

/// What an operator configures for a virtual service (ipvsadm -A/-E).
public struct ServiceSpec: Sendable, Equatable {
    public var key: ServiceKey
    /// A name from `SchedulerRegistry` ("rr", "wrr", "lc", "wlc", ...).
    public var scheduler: String
    /// Scheduler flags (`SchedulerFlags`, ipvsadm -b): sh and mh read SCHED1 as "fallback" and
    /// SCHED2 as "port"; other schedulers ignore them, but the service keeps and lists them.
    public var schedulerFlags: UInt32
    /// Persistence (ipvsadm -p/-M); nil for a non-persistent service.
    public var persistence: Persistence?
    /// For a service group (`key.fwmark != 0`): the (protocol, VIP, port range) entries whose
    /// packets it takes. Ignored for an address service.
    public var matches: [ServiceMatch]
    /// One-packet scheduling (ipvsadm -o, UDP and groups only): every datagram is scheduled on its
    /// own instead of following its flow's connection.
    public var onePacket: Bool
    /// This service's UDP idle timeout in milliseconds, overriding the global `--set` value; nil =
    /// the global one. (IPVS has only the global timeout; operators asked for DNS vs. streaming.)
    public var udpTimeout: UInt64?
    /// Ports Double-NAT real servers of this service see as the source port (vdport; the VIP's
    /// service ports inside it are skipped), and FULLNAT ones as the lport. Unused otherwise.
    public var virtualPortRange: ClosedRange<UInt16>
    /// FULLNAT local addresses (LIPs): the sources FULLNAT real servers see, each with its own
    /// port pool over `virtualPortRange`. Required once the service has a FULLNAT server.
    public var localAddresses: [IPAddress]
    /// How FULLNAT real servers of a TCP service learn the client's address.
    public var clientAddress: ClientAddressDelivery

    public init(_ key: ServiceKey, scheduler: String = SchedulerRegistry.defaultName, schedulerFlags: UInt32 = 0,
                persistence: Persistence? = nil, matches: [ServiceMatch] = [], onePacket: Bool = false,
                udpTimeout: UInt64? = nil, virtualPortRange: ClosedRange<UInt16> = defaultVirtualPortRange,
                localAddresses: [IPAddress] = [], clientAddress: ClientAddressDelivery = .none) {
        self.key = key
        self.clientAddress = clientAddress
        self.localAddresses = localAddresses
        self.virtualPortRange = virtualPortRange
        self.scheduler = scheduler
        self.schedulerFlags = schedulerFlags
        self.persistence = persistence
        self.matches = matches
        self.onePacket = onePacket
        self.udpTimeout = udpTimeout
    }
}

extension ServiceSpec {
    /// The addresses packets of this service are sent to: its VIP, or a group's entry addresses
    /// (the data plane answers ARP/NDP for them).
    public var virtualAddresses: [IPAddress] {
        key.isGroup ? Array(Set(matches.map(\.address))).sorted() : [key.address]
    }
}

/// One entry of a service group: packets of `proto` to `address` on a port in `ports` belong to
/// the group. `0...65535` (written as port 0) is every port of the address.
public struct ServiceMatch: Hashable, Sendable, CustomStringConvertible {
    public var proto: TransportProtocol
    public var address: IPAddress
    public var ports: ClosedRange<UInt16>

    public init(_ proto: TransportProtocol, _ address: IPAddress, ports: ClosedRange<UInt16>) {
        self.proto = proto
        self.address = address
        self.ports = ports
    }

    public var allPorts: Bool { ports == 0...65535 }

    /// `tcp:10.0.0.1:80`, `tcp:10.0.0.1:8000-8010`, `udp:[fd00::1]:0` (all ports): the form
    /// lvsadm's --match takes and -S prints.
    public var description: String {
        let host = address.isIPv4 ? "\(address)" : "[\(address)]"
        let range = allPorts ? "0" : ports.lowerBound == ports.upperBound
            ? "\(ports.lowerBound)" : "\(ports.lowerBound)-\(ports.upperBound)"
        return "\(proto == .tcp ? "tcp" : "udp"):\(host):\(range)"
    }

    /// Parses `description`'s form; nil if malformed.
    public init?(_ text: Substring) {
        let parts = text.split(separator: ":", maxSplits: 1)
        guard parts.count == 2 else { return nil }
        switch parts[0].lowercased() {
        case "tcp": proto = .tcp
        case "udp": proto = .udp
        default: return nil
        }
        var rest = parts[1]
        let hostText: Substring
        if rest.first == "[" {
            guard let close = rest.firstIndex(of: "]") else { return nil }
            hostText = rest[rest.index(after: rest.startIndex)..<close]
            rest = rest[rest.index(after: close)...]
            guard rest.first == ":" else { return nil }
            rest = rest.dropFirst()
        } else {
            guard let colon = rest.lastIndex(of: ":") else { return nil }
            hostText = rest[..<colon]
            rest = rest[rest.index(after: colon)...]
            guard !hostText.contains(":") else { return nil }
        }
        guard let a = IPAddress(hostText) else { return nil }
        address = a
        let bounds = rest.split(separator: "-", omittingEmptySubsequences: false)
        guard bounds.count == 1 || bounds.count == 2,
              let lo = UInt16(bounds[0]), let hi = bounds.count == 2 ? UInt16(bounds[1]) : lo, lo <= hi
        else { return nil }
        ports = bounds.count == 1 && lo == 0 ? 0...65535 : lo...hi
    }
}

/// How a FULLNAT real server learns the client's address (it sees LIP:lport as its peer).
public enum ClientAddressDelivery: String, Sendable, Hashable {
    /// Not at all.
    case none
    /// A PROXY protocol v2 header before the client's first payload byte (TCP services only; the
    /// server must expect it, e.g. nginx `listen ... proxy_protocol`).
    case proxyV2 = "proxy_v2"
    /// The TOA TCP option (kind 254) on the first ACK after the handshake (TCP services only; the
    /// server needs a TOA kernel module to read it).
    case toa
}

/// Service persistence (IPVS IP_VS_SVC_F_PERSISTENT, spec 2.4): new connections from one client
/// network go to the server a template remembers, until the template times out.
public struct Persistence: Sendable, Equatable {
    /// ipvsadm's default when -p has no value: 360 s (libipvs IPVS_SVC_PERSISTENT_TIMEOUT).
    public static let defaultTimeout: UInt64 = 360_000
    /// ipvsadm accepts 1 s .. 31 days.
    public static let timeoutRange: ClosedRange<UInt64> = 1000...(31 * 86_400_000)

    /// Template timeout in milliseconds.
    public var timeout: UInt64
    /// IPv4 client netmask (-M, host order, default 255.255.255.255).
    public var netmask: UInt32
    /// IPv6 client prefix length (-M, default 128).
    public var prefixLength: Int

    public init(timeout: UInt64 = Persistence.defaultTimeout, netmask: UInt32 = .max, prefixLength: Int = 128) {
        self.timeout = timeout
        self.netmask = netmask
        self.prefixLength = prefixLength
    }

    /// The 128-bit mask ANDed with a client address of the given family.
    public func mask(ipv4: Bool) -> IPAddress {
        if ipv4 { return IPAddress(hi: .max, lo: IPAddress(v4: netmask).lo | 0xffff_ffff) }
        return IPAddress(hi: .max, lo: .max).masked(prefixLength: prefixLength)
    }
}

/// A service's control-plane record: identity, scheduler instance and ordered server list.
/// Touched only when scheduling a new connection and by the control plane.
final class ServiceRecord {
    let key: ServiceKey
    let slot: Int
    var schedulerName: String
    var scheduler: any Scheduler
    /// The service's scheduler flags (also handed to the scheduler).
    var schedulerFlags: UInt32
    /// Destination slots in list order (IPVS appends new servers at the tail).
    var destSlots: [UInt32] = []
    var persistence: Persistence?
    var matches: [ServiceMatch] = []
    var onePacket = false
    var udpTimeout: UInt64?
    /// Where persistence templates of this service are keyed: nil = the packet's VIP; for a group,
    /// its mark as an address (IPVS's fwmark templates).
    var templateAddress: IPAddress?
    /// Templates key on port 0 (port-0 services and groups: one template covers every port).
    var templateWildPort = false
    /// `persistence.mask` for the service's family.
    var persistMask = IPAddress(hi: .max, lo: .max)
    /// Double-NAT vdport range (`ServiceSpec.virtualPortRange`).
    var virtualPortRange = defaultVirtualPortRange
    /// FULLNAT local addresses (`ServiceSpec.localAddresses`).
    var localAddresses: [IPAddress] = []
    var clientAddress = ClientAddressDelivery.none

    init(key: ServiceKey, slot: Int, schedulerName: String, scheduler: any Scheduler, schedulerFlags: UInt32 = 0) {
        self.key = key
        self.slot = slot
        self.schedulerName = schedulerName
        self.scheduler = scheduler
        self.schedulerFlags = schedulerFlags
    }
}

/// Control-plane errors, with the messages ipvsadm prints for the same kernel errors.
public enum DirectorError: Error, Equatable, Sendable, CustomStringConvertible {
    case serviceExists
    case noSuchService
    case serviceNotDefined
    case destinationExists
    case noSuchDestination
    case schedulerNotFound(String)
    case tooManyServices
    case tooManyDestinations
    /// The request is well-formed but not acceptable (e.g. an address family mismatch).
    case invalid(String)

    public var description: String {
        switch self {
        case .serviceExists: "Service already exists"
        case .noSuchService: "No such service"
        case .serviceNotDefined: "Service not defined"
        case .destinationExists: "Destination already exists"
        case .noSuchDestination: "No such destination"
        case .schedulerNotFound: "Scheduler or persistence engine not found"
        case .tooManyServices: "Memory allocation problem"
        case .tooManyDestinations: "Memory allocation problem"
        case .invalid(let why): why
        }
    }
}
