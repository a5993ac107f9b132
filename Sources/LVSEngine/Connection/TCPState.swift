import LVSPacket

/// IPVS's TCP connection states, numbered as the kernel numbers them (IP_VS_TCP_S_*), so that
/// state numbers in sync messages and listings match.
public enum TCPState: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case none = 0
    case established = 1
    case synSent = 2
    case synRecv = 3
    case finWait = 4
    case timeWait = 5
    case close = 6
    case closeWait = 7
    case lastAck = 8
    case listen = 9
    case synAck = 10

    /// The name `ipvsadm -Lc` prints.
    public var description: String {
        switch self {
        case .none: "NONE"
        case .established: "ESTABLISHED"
        case .synSent: "SYN_SENT"
        case .synRecv: "SYN_RECV"
        case .finWait: "FIN_WAIT"
        case .timeWait: "TIME_WAIT"
        case .close: "CLOSE"
        case .closeWait: "CLOSE_WAIT"
        case .lastAck: "LAST_ACK"
        case .listen: "LISTEN"
        case .synAck: "SYNACK"
        }
    }
}

/// Which half of the IPVS transition table a packet uses.
public enum PacketDirection: Int, Sendable {
    /// Client to server, on a connection whose replies pass the director (NAT).
    case input = 0
    /// Server to client.
    case output = 4
    /// Client to server on a connection that has not (yet) seen a reply: DR, TUN.
    case inputOnly = 8
}

/// The IPVS TCP transition table (`tcp_states` in ip_vs_proto_tcp.c, newest kernel), restated.
///
/// Rows are `direction + flag` with flag 0 = SYN, 1 = FIN, 2 = ACK, 3 = RST; columns are the
/// current state. Flags are classified RST > SYN > FIN > ACK; a segment with none of them
/// (e.g. a bare PSH) moves the connection to CLOSE, as IPVS does.
public enum TCPStateMachine {
    typealias S = TCPState
    // Columns: NO ES SS SR FW TW CL CW LA LI SA
    @usableFromInline
    static let table: [UInt8] = {
        let rows: [[TCPState]] = [
            // INPUT
            [.synRecv, .established, .established, .synRecv, .synRecv, .synRecv, .synRecv, .synRecv, .synRecv, .synRecv, .synRecv],
            [.close, .closeWait, .synSent, .timeWait, .timeWait, .timeWait, .close, .closeWait, .lastAck, .listen, .timeWait],
            [.established, .established, .synSent, .established, .finWait, .timeWait, .close, .closeWait, .close, .listen, .established],
            [.close, .close, .close, .synRecv, .close, .close, .close, .close, .lastAck, .listen, .synRecv],
            // OUTPUT
            [.synSent, .established, .synSent, .synRecv, .synSent, .synSent, .synSent, .synSent, .synSent, .listen, .synRecv],
            [.timeWait, .finWait, .synSent, .timeWait, .finWait, .timeWait, .close, .timeWait, .lastAck, .listen, .timeWait],
            [.established, .established, .synSent, .established, .finWait, .timeWait, .close, .closeWait, .lastAck, .established, .established],
            [.close, .close, .synSent, .close, .close, .timeWait, .close, .close, .close, .close, .close],
            // INPUT_ONLY
            [.synRecv, .established, .established, .synRecv, .synRecv, .synRecv, .synRecv, .synRecv, .synRecv, .synRecv, .synRecv],
            [.close, .finWait, .synSent, .timeWait, .finWait, .timeWait, .close, .closeWait, .lastAck, .listen, .timeWait],
            [.established, .established, .synSent, .established, .finWait, .timeWait, .close, .closeWait, .close, .listen, .established],
            [.close, .close, .close, .synRecv, .close, .close, .close, .close, .lastAck, .listen, .close],
        ]
        return rows.flatMap { $0.map(\.rawValue) }
    }()

    /// The flag row for a segment's flags: 0 SYN, 1 FIN, 2 ACK, 3 RST, or -1 for "none of them".
    @inlinable @inline(__always)
    static func row(_ flags: UInt8) -> Int {
        if flags & TCPFlag.rst != 0 { return 3 }
        if flags & TCPFlag.syn != 0 { return 0 }
        if flags & TCPFlag.fin != 0 { return 1 }
        if flags & TCPFlag.ack != 0 { return 2 }
        return -1
    }

    /// Where in `table` the next state for (`state`, `flags`, `direction`) is, or -1 when the
    /// segment carries none of RST/SYN/FIN/ACK (the next state is then CLOSE).
    @inlinable @inline(__always)
    static func index(_ state: UInt8, flags: UInt8, direction: PacketDirection) -> Int {
        let r = row(flags)
        return r < 0 ? -1 : (direction.rawValue &+ r) &* 11 &+ Int(state)
    }

    /// The state after a segment with `flags` travels in `direction` on a connection in `state`.
    @inlinable
    public static func next(_ state: TCPState, flags: UInt8, direction: PacketDirection) -> TCPState {
        let i = index(state.rawValue, flags: flags, direction: direction)
        if i < 0 { return .close }
        return table.withUnsafeBufferPointer { TCPState(rawValue: $0[i])! }
    }
}

/// Connection timeouts in milliseconds, per TCP state and for UDP (IPVS defaults, spec 2.2).
public struct Timeouts: Sendable, Equatable {
    /// Indexed by `TCPState.rawValue`.
    public var tcp: [UInt64]
    public var udp: UInt64

    /// IPVS's `tcp_timeouts` and the UDP NORMAL timeout.
    public static let ipvsDefaults = Timeouts(
        tcp: [2, 900, 120, 60, 120, 120, 10, 60, 30, 120, 120].map { UInt64($0) * 1000 },
        udp: 300 * 1000)

    public init(tcp: [UInt64], udp: UInt64) {
        precondition(tcp.count == TCPState.allCases.count, "one TCP timeout per state")
        self.tcp = tcp
        self.udp = udp
    }

    public subscript(state: TCPState) -> UInt64 {
        get { tcp[Int(state.rawValue)] }
        set { tcp[Int(state.rawValue)] = newValue }
    }

    /// `ipvsadm --set tcp tcpfin udp` in seconds; 0 leaves a value unchanged.
    public mutating func set(tcp established: UInt64, tcpfin: UInt64, udp u: UInt64) {
        if established != 0 { self[.established] = established * 1000 }
        if tcpfin != 0 { self[.finWait] = tcpfin * 1000 }
        if u != 0 { udp = u * 1000 }
    }
}
