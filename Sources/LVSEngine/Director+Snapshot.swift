import LVSPacket

/// A service as listings show it (ipvsadm -L, metrics).
public struct ServiceSnapshot: Sendable, Equatable {
    public var key: ServiceKey
    public var scheduler: String
    /// `SchedulerFlags` bits (ipvsadm -b).
    public var schedulerFlags: UInt32
    public var stats: TrafficCounters
    public var destinations: [DestinationSnapshot]
    public var persistence: Persistence?
    /// A group's entries (empty for an address service).
    public var matches: [ServiceMatch]
    public var onePacket: Bool
    /// The service's own UDP timeout (ms), if set.
    public var udpTimeout: UInt64?
    /// Double-NAT vdport range.
    public var virtualPortRange: ClosedRange<UInt16>
    /// FULLNAT local addresses.
    public var localAddresses: [IPAddress]
    /// FULLNAT client-address delivery.
    public var clientAddress: ClientAddressDelivery

    public init(key: ServiceKey, scheduler: String, stats: TrafficCounters, destinations: [DestinationSnapshot],
                schedulerFlags: UInt32 = 0, persistence: Persistence? = nil, matches: [ServiceMatch] = [],
                onePacket: Bool = false, udpTimeout: UInt64? = nil,
                virtualPortRange: ClosedRange<UInt16> = defaultVirtualPortRange, localAddresses: [IPAddress] = [],
                clientAddress: ClientAddressDelivery = .none) {
        self.key = key
        self.matches = matches
        self.onePacket = onePacket
        self.udpTimeout = udpTimeout
        self.clientAddress = clientAddress
        self.localAddresses = localAddresses
        self.virtualPortRange = virtualPortRange
        self.persistence = persistence
        self.scheduler = scheduler
        self.schedulerFlags = schedulerFlags
        self.stats = stats
        self.destinations = destinations
    }

    /// The addresses packets of this service are sent to (see `ServiceSpec.virtualAddresses`).
    public var virtualAddresses: [IPAddress] { spec.virtualAddresses }

    /// The spec that recreates this service (`ipvsadm -S`, configuration reloads).
    public var spec: ServiceSpec {
        ServiceSpec(key, scheduler: scheduler, schedulerFlags: schedulerFlags, persistence: persistence,
                    matches: matches, onePacket: onePacket, udpTimeout: udpTimeout,
                    virtualPortRange: virtualPortRange, localAddresses: localAddresses, clientAddress: clientAddress)
    }
}

/// A real server as listings show it.
public struct DestinationSnapshot: Sendable, Equatable {
    public var address: IPAddress
    public var port: UInt16
    public var method: ForwardingMethod
    public var weight: Int32
    public var upperThreshold: UInt32
    public var lowerThreshold: UInt32
    public var activeConns: UInt32
    public var inactiveConns: UInt32
    public var persistConns: UInt32
    public var overloaded: Bool
    public var stats: TrafficCounters
    /// VS/TUN encapsulation (meaningful when `method` is `.tunnel`).
    public var tunnel: TunnelSettings

    public init(address: IPAddress, port: UInt16, method: ForwardingMethod, weight: Int32, upperThreshold: UInt32,
                lowerThreshold: UInt32, activeConns: UInt32, inactiveConns: UInt32, persistConns: UInt32,
                overloaded: Bool, stats: TrafficCounters, tunnel: TunnelSettings = TunnelSettings()) {
        self.tunnel = tunnel
        self.address = address
        self.port = port
        self.method = method
        self.weight = weight
        self.upperThreshold = upperThreshold
        self.lowerThreshold = lowerThreshold
        self.activeConns = activeConns
        self.inactiveConns = inactiveConns
        self.persistConns = persistConns
        self.overloaded = overloaded
        self.stats = stats
    }
}

/// A tracked connection as `ipvsadm -Lc` shows it.
public struct ConnectionSnapshot: Sendable, Equatable {
    public var proto: TransportProtocol
    /// "ESTABLISHED", ..., or "UDP".
    public var state: String
    /// Milliseconds until expiry (0 when overdue).
    public var expiresIn: UInt64
    public var client: Endpoint
    public var virtual: Endpoint
    public var destination: Endpoint
    /// A persistence template (client = client network, port 0; state "NONE").
    public var isTemplate: Bool = false
    /// A service group's template (IPVS's fwmark template, protocol IPPROTO_IP): listed as "IP".
    public var isGroupTemplate: Bool = false

    /// The protocol column of ipvsadm -Lc: "TCP", "UDP", or "IP" for a group's template.
    public var protocolName: String { isGroupTemplate ? "IP" : proto.description }
}

extension Director {
    /// Services in the order they were added (slot order), each with its servers in list order.
    public func services() -> [ServiceSnapshot] {
        records.compactMap { r in
            guard let r else { return nil }
            return ServiceSnapshot(
                key: r.key, scheduler: r.schedulerName, stats: serviceStats[r.slot],
                destinations: r.destSlots.map { destinationSnapshot(dests[Int($0)]) }, schedulerFlags: r.schedulerFlags,
                persistence: r.persistence, matches: r.matches, onePacket: r.onePacket, udpTimeout: r.udpTimeout,
                virtualPortRange: r.virtualPortRange, localAddresses: r.localAddresses, clientAddress: r.clientAddress)
        }
    }

    public func service(_ key: ServiceKey) -> ServiceSnapshot? { services().first { $0.key == key } }

    func destinationSnapshot(_ d: DestinationState) -> DestinationSnapshot {
        DestinationSnapshot(
            address: d.address, port: d.port, method: d.method, weight: d.weight, upperThreshold: d.upperThreshold,
            lowerThreshold: d.lowerThreshold, activeConns: d.activeConns, inactiveConns: d.inactiveConns,
            persistConns: d.persistConns, overloaded: d.isOverloaded, stats: d.stats, tunnel: d.tunnel)
    }

    /// Every tracked connection (a full table scan: for listings, not for the packet path).
    public func connections(now: Timestamp) -> [ConnectionSnapshot] {
        var out: [ConnectionSnapshot] = []
        for i in 0..<table.capacity {
            let c = table.entries[i]
            guard c.flags & Connection.flagInUse != 0 else { continue }
            let template = c.flags & Connection.flagTemplate != 0
            let proto = TransportProtocol(rawValue: c.proto & ~Connection.templateProto) ?? .tcp
            out.append(ConnectionSnapshot(
                proto: proto,
                state: template ? "NONE" : proto == .udp ? "UDP" : TCPState(rawValue: c.state)!.description,
                expiresIn: c.expires > now.milliseconds ? c.expires - now.milliseconds : 0,
                client: Endpoint(c.client, c.clientPort), virtual: Endpoint(c.virtual, c.virtualPort),
                destination: Endpoint(c.dest, c.destPort), isTemplate: template,
                isGroupTemplate: template && c.proto == Connection.templateProto))
        }
        return out
    }

    /// Director-wide counters.
    public var counters: DirectorCounters {
        var c = DirectorCounters()
        for r in DropReason.allCases { c.drops[Int(r.rawValue)] = hot[Int(r.rawValue)] }
        c.forwardedToRealServer = hot[Counter.toRealServer]
        c.forwardedToClient = hot[Counter.toClient]
        c.replies = hot[Counter.replies]
        c.notOurs = hot[Counter.notOurs]
        c.connectionsCreated = hot[Counter.created]
        c.connectionsExpired = hot[Counter.expired]
        c.connectionsReused = hot[Counter.reused]
        c.fragmentationNeeded = hot[Counter.fragmentationNeeded]
        return c
    }
}
