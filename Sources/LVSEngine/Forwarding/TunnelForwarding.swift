import LVSPacket

/// A real server's VS/TUN encapsulation (ipvsadm --tun-type, --tun-port, --tun-[no]csum).
@frozen
public struct TunnelSettings: Sendable, Hashable {
    public var type: TunnelType
    /// GUE destination port (unused for IPIP).
    public var port: UInt16
    /// Fill the outer UDP checksum over IPv4 (--tun-csum); over IPv6 it is always filled.
    public var udpChecksum: Bool

    public init(type: TunnelType = .ipip, port: UInt16 = 0, udpChecksum: Bool = false) {
        self.type = type
        self.port = port
        self.udpChecksum = udpChecksum
    }
}

/// What the engine needs to know about the director's side of the tunnels: the outer source
/// address per family and the MTU of the egress path. The data plane fills it from its
/// interfaces (the engine does no I/O); an unset source (`.zero`) makes tunnelling of that
/// family drop with `tunnelUnusable`.
@frozen
public struct TunnelPath: Sendable, Equatable {
    public var source4: IPAddress
    public var source6: IPAddress
    /// Largest IP packet (outer headers included) the egress interface sends.
    public var mtu: Int

    public init(source4: IPAddress = .zero, source6: IPAddress = .zero, mtu: Int = 1500) {
        self.source4 = source4
        self.source6 = source6
        self.mtu = mtu
    }
}

// VS/TUN on the packet path (ip_vs_tunnel_xmit): the client's packet is left as it is and
// wrapped in an outer header addressed to the real server, which decapsulates it (lvs-tunnel)
// and answers the client directly from the VIP.
extension Director {
    /// Sets the outer source addresses and the path MTU used by VS/TUN.
    public func setTunnelPath(_ path: TunnelPath) { tunnelPath = path }

    /// The VS/TUN path currently configured.
    public var currentTunnelPath: TunnelPath { tunnelPath }

    /// Encapsulates the frame's IP packet toward `dest` with the settings of destination slot
    /// `slot`; nil when it is ready to forward, else the verdict to return instead (a
    /// frag-needed answer or a drop).
    ///
    /// The MTU rule is IPVS's: a packet (for a GSO super-frame, each of its segments) whose
    /// encapsulated size exceeds the path MTU is answered with ICMP fragmentation-needed /
    /// packet-too-big carrying MTU - overhead, when it may be: IPv6 always, IPv4 when DF is set.
    /// An IPv4 packet without DF that does not fit is dropped (the director does not fragment).
    /// `answerTooBig` is false for ICMP errors, which are never answered with ICMP errors.
    @inlinable
    func encapsulate(_ frame: inout Frame, _ p: PacketInfo, dest: IPAddress, slot: UInt32, answerTooBig: Bool) -> Verdict? {
        let outer4 = dest.isIPv4
        let source = outer4 ? tunnelPath.source4 : tunnelPath.source6
        if source == .zero { return drop(.tunnelUnusable) }
        let settings = dests[Int(slot)].tunnel
        let overhead = TunnelHeader.overhead(outerIPv4: outer4, type: settings.type)
        var packet = p.ipLength
        if frame.gsoSize != 0 {
            let l4Header = p.l4Protocol == IPProto.tcp
                ? Int(frame.base.u8(p.l4Offset &+ 12) >> 4) &* 4 : HeaderSize.udp
            packet = min(packet, p.l4Offset &- p.l3Offset &+ l4Header &+ Int(frame.gsoSize))
        }
        if packet &+ overhead > tunnelPath.mtu {
            let mayAnswer = answerTooBig && (!p.isIPv4 || IPv4View(unchecked: frame.base + p.l3Offset).dontFragment)
            guard mayAnswer, ICMPMessages.fragmentationNeeded(&frame, p, mtu: tunnelPath.mtu &- overhead) else {
                return drop(.tunnelUnusable)
            }
            hot[Counter.fragmentationNeeded] &+= 1
            hot[Counter.replies] &+= 1
            return .reply
        }
        if frame.checksumPartial && frame.gsoSize == 0 {
            // The inner checksum must be final before the outer headers hide where it is.
            Director.completeChecksum(&frame, p)
        }
        guard TunnelHeader.encapsulate(
            &frame, l3Offset: p.l3Offset, l3End: p.l3End, source: source, destination: dest,
            type: settings.type, port: settings.port, udpChecksum: settings.udpChecksum)
        else { return drop(.tunnelUnusable) }
        return nil
    }

    /// Turns a partial (pseudo-header only) TCP/UDP checksum into the full one.
    @inlinable
    static func completeChecksum(_ frame: inout Frame, _ p: PacketInfo) {
        let isUDP = p.l4Protocol == IPProto.udp
        guard isUDP || p.l4Protocol == IPProto.tcp else { return }
        let l4 = frame.base + p.l4Offset
        let offset = isUDP ? UDPView.checksumOffset : TCPView.checksumOffset
        l4.setRaw16(0, offset)
        let pseudo = Checksum.pseudoHeader(src: p.src, dst: p.dst, protocol: p.l4Protocol, length: p.l4Length)
        var c = Checksum.compute(UnsafeRawPointer(l4), count: p.l4Length, initial: pseudo)
        if isUDP && c == 0 { c = 0xffff }
        l4.setRaw16(c, offset)
        frame.checksumPartial = false
    }
}
