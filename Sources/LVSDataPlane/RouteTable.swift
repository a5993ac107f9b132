import LVSPacket

/// The director's routes: the connected subnets of its interfaces plus an optional default gateway.
///
/// Small and rebuilt only when interfaces or the gateway change; lookups are a linear scan of the
/// connected prefixes, longest prefix first (a handful of entries).
public struct RouteTable: Sendable {
    public struct Connected: Sendable {
        public var network: IPAddress
        public var prefixLength: Int
        public var interface: Int
        /// The director's own address on that subnet (source of ARP requests).
        public var localAddress: IPAddress
    }

    /// Where a packet goes: out of `interface`, to the link-layer owner of `nextHop`.
    public struct Hop: Equatable, Sendable {
        public var interface: Int
        public var nextHop: IPAddress
    }

    public private(set) var connected: [Connected] = []
    public private(set) var gateway: IPAddress?

    /// `interfaces[i]` becomes interface number i.
    public init(interfaces: [NetInterface], gateway: IPAddress?) throws(DataPlaneError) {
        for (i, ifc) in interfaces.enumerated() {
            // Link-local prefixes (fe80::/10) exist on every interface: not a route.
            for a in ifc.addresses where !a.address.isLinkLocal {
                connected.append(Connected(network: a.address.masked(prefixLength: a.prefixLength),
                                           prefixLength: a.prefixLength, interface: i, localAddress: a.address))
            }
        }
        connected.sort { $0.prefixLength > $1.prefixLength }
        if let gateway {
            guard connected.contains(where: {
                $0.network.isIPv4 == gateway.isIPv4 && $0.network == gateway.masked(prefixLength: $0.prefixLength)
            }) else {
                throw .configuration("gateway \(gateway) is not on a connected subnet of the data-plane interfaces")
            }
        }
        self.gateway = gateway
    }

    /// The connected subnet containing `address`, if any.
    public func connectedRoute(_ address: IPAddress) -> Connected? {
        for c in connected where address.isIPv4 == c.network.isIPv4 && address.masked(prefixLength: c.prefixLength) == c.network {
            return c
        }
        return nil
    }

    /// The hop toward `destination`: directly when connected, else through the gateway of its
    /// address family.
    public func route(_ destination: IPAddress) -> Hop? {
        if let c = connectedRoute(destination) { return Hop(interface: c.interface, nextHop: destination) }
        if let g = gateway, g.isIPv4 == destination.isIPv4, let c = connectedRoute(g) {
            return Hop(interface: c.interface, nextHop: g)
        }
        return nil
    }
}

extension IPAddress {
    /// fe80::/10.
    var isLinkLocal: Bool { !isIPv4 && bytes[0] == 0xfe && bytes[1] & 0xc0 == 0x80 }
}
