import LVSPacket

/// Which side of the director a forwarded frame leaves on.
public enum Side: UInt8, Sendable {
    /// Toward a real server (client-to-server traffic).
    case realServer
    /// Toward the client (server-to-client traffic).
    case client
}

/// What the caller must do with a frame after `Director.process`.
@frozen
public enum Verdict: Equatable, Sendable {
    /// Send the (rewritten) frame toward `nextHop` on `side`; the data plane routes it (connected
    /// subnet or gateway) and fills in the Ethernet addresses.
    case forward(side: Side, nextHop: IPAddress)
    /// The frame now holds an answer (echo reply, ICMP error) with Ethernet addresses swapped:
    /// send it back out of the interface it arrived on.
    case reply
    /// Discard the frame; the reason is counted.
    case drop(DropReason)
    /// Not the director's business: leave it to the kernel.
    case notOurs
}

/// Why a frame was dropped. Each has a counter in `DirectorCounters`.
public enum DropReason: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// The IP or transport header is malformed.
    case malformed
    /// A non-first fragment addressed to a VIP (the engine does not reassemble).
    case fragment
    /// Addressed to a VIP on a port or protocol with no virtual service.
    case noService
    /// A TCP segment that is not a SYN and matches no connection.
    case noConnection
    /// The service has no destination that may take a new connection.
    case noDestination
    /// The connection table is at capacity; existing flows are kept.
    case tableFull
    /// The connection's real server was removed (expire_nodest_conn).
    case destinationRemoved
    /// An ICMP error whose checksum does not verify.
    case badICMPChecksum
    /// An ICMP error about a connection, but too short to rewrite.
    case icmpUnusable
    /// VS/TUN could not encapsulate: no outer source address for the family, no room in the
    /// frame, or a packet too big for the path that may not be answered with frag-needed.
    case tunnelUnusable
    /// A new Double-NAT connection found no free vdport for its real server (double-nat.md 4.2):
    /// the range is exhausted for that RIP:rport; existing flows are kept.
    case portsExhausted
    /// A PROXY v2 header did not fit in the frame (or the packet would exceed 64 KiB).
    case noRoomForHeader

    public var description: String {
        switch self {
        case .malformed: "malformed"
        case .fragment: "fragment"
        case .noService: "no_service"
        case .noConnection: "no_connection"
        case .noDestination: "no_destination"
        case .tableFull: "table_full"
        case .destinationRemoved: "destination_removed"
        case .badICMPChecksum: "bad_icmp_checksum"
        case .icmpUnusable: "icmp_unusable"
        case .tunnelUnusable: "tunnel_unusable"
        case .portsExhausted: "ports_exhausted"
        case .noRoomForHeader: "no_room_for_header"
        }
    }
}
