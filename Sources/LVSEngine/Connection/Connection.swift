import LVSPacket

/// One tracked connection: 106 bytes (stride 112), preallocated in `ConnectionTable`, never heap-allocated.
///
/// The connection is reachable by two keys (double-nat.md, "IN and OUT entries"):
/// IN  = (proto, client, cport, virtual, vport) for client-to-server packets;
/// OUT = (proto, dest, dport, client, cport) for the real server's replies (NAT), or
/// (proto, dest, dport, virtual, localPort) when `flagLocalOut` is set (Double-NAT), or
/// (proto, dest, dport, LIP, localPort) for FULLNAT (see `ConnectionTable.outPeer`).
/// Each key has its own hash-chain link, so one probe in one direction finds the entry.
@frozen @usableFromInline
struct Connection {
    @usableFromInline var client: IPAddress
    @usableFromInline var virtual: IPAddress
    @usableFromInline var dest: IPAddress
    @usableFromInline var clientPort: UInt16
    @usableFromInline var virtualPort: UInt16
    @usableFromInline var destPort: UInt16
    @usableFromInline var proto: UInt8
    /// `TCPState.rawValue` (UDP connections stay 0).
    @usableFromInline var state: UInt8
    /// `Connection.flag*` bits.
    @usableFromInline var flags: UInt8
    @usableFromInline var method: UInt8
    @usableFromInline var service: UInt16
    @usableFromInline var destSlot: UInt32
    /// Next entry in the IN key's hash chain (a `ConnectionRef`).
    @usableFromInline var nextIn: UInt32
    /// Next entry in the OUT key's hash chain.
    @usableFromInline var nextOut: UInt32
    @usableFromInline var timerPrev: UInt32
    @usableFromInline var timerNext: UInt32
    /// When the connection expires, in engine milliseconds.
    @usableFromInline var expires: UInt64
    /// The persistence template controlling this connection (`nilIndex` when none).
    @usableFromInline var control: UInt32
    /// For a template: connections it controls (IPVS n_control); it does not expire while > 0.
    @usableFromInline var nControl: UInt32
    /// Double-NAT's vdport or FULLNAT's lport: the source port the real server sees (0 for the
    /// other methods).
    @usableFromInline var localPort: UInt16
    /// FULLNAT: the local address (LIP), as an index into `ConnectionTable.localAddresses`.
    @usableFromInline var localAddress: UInt16
    /// PROXY v2 (FULLNAT): bytes inserted into the client's stream (the header length).
    @usableFromInline var seqDelta: UInt16
    /// PROXY v2: the client sequence number of its first payload byte, where the header went.
    @usableFromInline var proxySeq: UInt32

    /// Counted in the destination's InActConn (IPVS IP_VS_CONN_F_INACTIVE).
    @usableFromInline static let flagInactive: UInt8 = 1
    /// No reply seen yet: DR and TUN connections step the INPUT_ONLY table (IP_VS_CONN_F_NOOUTPUT).
    @usableFromInline static let flagNoOutput: UInt8 = 2
    /// The slot holds a live connection.
    @usableFromInline static let flagInUse: UInt8 = 4
    /// A persistence template (IPVS IP_VS_CONN_F_TEMPLATE): linked in the IN chain only, under
    /// `proto | templateProto`, so packet lookups never match it.
    @usableFromInline static let flagTemplate: UInt8 = 8
    /// A template found invalid: never matched again, dies on its own timer.
    @usableFromInline static let flagDeadTemplate: UInt8 = 16
    /// Added to a template's protocol number in its stored key.
    @usableFromInline static let templateProto: UInt8 = 0x80
    /// The OUT key's second end is (source address, localPort), not (client, clientPort):
    /// Double-NAT (VIP:vdport) and FULLNAT (LIP:lport). The port is held in that address's pool.
    @usableFromInline static let flagLocalOut: UInt8 = 32
    /// PROXY v2: the header goes before the client's first payload byte (not seen yet).
    @usableFromInline static let flagProxyPending: UInt8 = 64
    /// PROXY v2: the header was inserted; client seq and server ack/SACK are shifted by `seqDelta`.
    @usableFromInline static let flagSeqAdjust: UInt8 = 128
}

/// Index value meaning "no entry".
@usableFromInline let nilIndex: UInt32 = .max
