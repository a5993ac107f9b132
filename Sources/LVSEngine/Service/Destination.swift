import LVSPacket

/// What an operator configures for a real server (ipvsadm -a/-e).
public struct DestinationSpec: Sendable, Equatable {
    public var address: IPAddress
    public var port: UInt16
    /// 0...65535; 0 quiesces the server (no new connections, existing ones continue).
    public var weight: Int32
    /// Upper connection threshold (-x); 0 = none. At or above it the server is OVERLOADED.
    public var upperThreshold: UInt32
    /// Lower connection threshold (-y); 0 = none. See `DestinationState.unbind`.
    public var lowerThreshold: UInt32
    public var method: ForwardingMethod
    /// Encapsulation for `.tunnel` (ignored by other methods).
    public var tunnel: TunnelSettings

    public init(address: IPAddress, port: UInt16, weight: Int32 = 1, upperThreshold: UInt32 = 0,
                lowerThreshold: UInt32 = 0, method: ForwardingMethod = .masquerade, tunnel: TunnelSettings = TunnelSettings()) {
        self.tunnel = tunnel
        self.address = address
        self.port = port
        self.weight = weight
        self.upperThreshold = upperThreshold
        self.lowerThreshold = lowerThreshold
        self.method = method
    }
}

/// A real server's run-time state: configuration, connection counts and counters.
///
/// Plain data in a preallocated array indexed by destination slot, so the packet path updates
/// counters without reference counting. A slot outlives its removal from the service while
/// connections still point at it (IPVS's "trash"), and is reused when the same server is re-added.
@frozen
public struct DestinationState: Sendable {
    public var address: IPAddress = .zero
    public var port: UInt16 = 0
    public var method: ForwardingMethod = .masquerade
    /// VS/TUN encapsulation of this server.
    public var tunnel = TunnelSettings()
    /// Bit set of `DestinationState.flag*`.
    public var flags: UInt8 = 0
    /// Owning service slot.
    public var service: UInt16 = 0
    public var weight: Int32 = 0
    public var upperThreshold: UInt32 = 0
    public var lowerThreshold: UInt32 = 0
    /// Established TCP connections (IPVS ActiveConn).
    public var activeConns: UInt32 = 0
    /// Every other connection, UDP included (IPVS InActConn).
    public var inactiveConns: UInt32 = 0
    /// Persistence templates (IPVS PersistConn).
    public var persistConns: UInt32 = 0
    public var stats = TrafficCounters()

    /// In use (configured, or still referenced after removal).
    public static let flagInUse: UInt8 = 1
    /// In its service's list: may be scheduled (IPVS IP_VS_DEST_F_AVAILABLE).
    public static let flagAvailable: UInt8 = 2
    /// At or above the upper threshold (IPVS IP_VS_DEST_F_OVERLOAD).
    public static let flagOverload: UInt8 = 4

    public init() {}

    @inlinable public var isAvailable: Bool { flags & Self.flagAvailable != 0 }
    @inlinable public var isOverloaded: Bool { flags & Self.flagOverload != 0 }
    /// Connections that keep this slot alive.
    @inlinable public var references: UInt32 { activeConns &+ inactiveConns &+ persistConns }
    /// IPVS's `ip_vs_dest_conn_overhead`: activeconns * 256 + inactconns.
    @inlinable public var overhead: UInt64 { UInt64(activeConns) << 8 &+ UInt64(inactiveConns) }

    /// A normal connection bound to this server (IPVS ip_vs_bind_dest): counted as inactive, and
    /// OVERLOAD is set once active + inactive reaches the upper threshold.
    @inlinable mutating func bind() {
        inactiveConns &+= 1
        stats.connections &+= 1
        if upperThreshold != 0 && activeConns &+ inactiveConns >= upperThreshold {
            flags |= Self.flagOverload
        }
    }

    /// A connection released (IPVS ip_vs_unbind_dest): OVERLOAD clears below the lower threshold,
    /// or below 3/4 of the upper one when no lower threshold is set.
    @inlinable mutating func unbind(wasActive: Bool) {
        if wasActive { activeConns &-= 1 } else { inactiveConns &-= 1 }
        let n = activeConns &+ inactiveConns
        if lowerThreshold != 0 {
            if n < lowerThreshold { flags &= ~Self.flagOverload }
        } else if upperThreshold != 0 {
            if UInt64(n) * 4 < UInt64(upperThreshold) * 3 { flags &= ~Self.flagOverload }
        } else {
            flags &= ~Self.flagOverload
        }
    }
}
