/// Why a frame was refused by the parser. Every malformed input maps to exactly one reason, so
/// drops can be counted per cause.
public enum MalformedReason: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case truncatedEthernet
    case truncatedVLAN
    case truncatedARP
    case truncatedIPv4
    case badIPVersion
    case badIPv4HeaderLength
    case badIPv4TotalLength
    case truncatedIPv6
    case badIPv6PayloadLength
    case truncatedExtensionHeader
    case tooManyExtensionHeaders
    case truncatedTCP
    case badTCPDataOffset
    case truncatedUDP
    case badUDPLength
    case truncatedICMP

    public var description: String {
        switch self {
        case .truncatedEthernet: "truncated Ethernet header"
        case .truncatedVLAN: "truncated 802.1Q tag"
        case .truncatedARP: "truncated ARP packet"
        case .truncatedIPv4: "truncated IPv4 header"
        case .badIPVersion: "IP version does not match the EtherType"
        case .badIPv4HeaderLength: "IPv4 IHL below 5 or beyond the frame"
        case .badIPv4TotalLength: "IPv4 total length below the header or beyond the frame"
        case .truncatedIPv6: "truncated IPv6 header"
        case .badIPv6PayloadLength: "IPv6 payload length beyond the frame"
        case .truncatedExtensionHeader: "truncated IPv6 extension header"
        case .tooManyExtensionHeaders: "more IPv6 extension headers than the walk limit"
        case .truncatedTCP: "truncated TCP header"
        case .badTCPDataOffset: "TCP data offset below 5 or beyond the segment"
        case .truncatedUDP: "truncated UDP header"
        case .badUDPLength: "UDP length below 8 or beyond the datagram"
        case .truncatedICMP: "truncated ICMP header"
        }
    }
}

/// What the frame carries at layer 3.
public enum NetworkKind: UInt8, Sendable {
    case ipv4, ipv6, arp, other
}

/// Where an IP packet sits in a fragmented datagram.
public enum FragmentKind: UInt8, Sendable {
    /// Not a fragment.
    case none
    /// Offset 0 with more fragments: carries the L4 header.
    case first
    /// Offset > 0: no L4 header, ports unknown.
    case subsequent
}

/// The result of parsing a frame: offsets into the frame plus the fields the director decides on.
///
/// A plain value (no references), filled once per frame; the engine reads it instead of re-walking
/// headers. Offsets are from the start of the frame.
@frozen
public struct PacketInfo: Sendable {
    public var etherType: UInt16 = 0
    /// The 802.1Q TCI when `hasVLAN`.
    public var vlanTCI: UInt16 = 0
    public var hasVLAN: Bool = false
    public var network: NetworkKind = .other
    public var l3Offset: Int = 0
    /// End of the IP packet (l3Offset + total length); bytes past it are link padding.
    public var l3End: Int = 0
    public var l4Offset: Int = 0
    /// The transport protocol (after walking IPv6 extension headers).
    public var l4Protocol: UInt8 = 0
    public var fragment: FragmentKind = .none
    /// IPv6 only: offset of the fragment header, or 0.
    public var ipv6FragmentHeaderOffset: Int = 0
    public var src = IPAddress(hi: 0, lo: 0)
    public var dst = IPAddress(hi: 0, lo: 0)
    /// Host order; 0 when the protocol has no ports or the packet is a subsequent fragment.
    public var srcPort: UInt16 = 0
    public var dstPort: UInt16 = 0
    public var tcpFlags: UInt8 = 0
    public var icmpType: UInt8 = 0
    public var icmpCode: UInt8 = 0

    @inlinable public init() {}

    /// IP total length (header + payload), the byte count IPVS's statistics use.
    @inlinable @inline(__always) public var ipLength: Int { l3End &- l3Offset }
    /// Length of the transport segment (header + payload).
    @inlinable @inline(__always) public var l4Length: Int { l3End &- l4Offset }
    @inlinable @inline(__always) public var isIPv4: Bool { network == .ipv4 }
    @inlinable @inline(__always) public var isIP: Bool { network == .ipv4 || network == .ipv6 }
}

/// A parse outcome: the parsed fields, or the typed reason the frame is malformed.
@frozen
public enum ParseResult: Sendable {
    case ok(PacketInfo)
    case malformed(MalformedReason)
}
