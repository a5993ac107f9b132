/// Builds frames for tests, fixtures and benchmarks (not for the packet path: it allocates).
///
///     let syn = PacketBuilder()
///         .ethernet(src: clientMAC, dst: directorMAC)
///         .ipv4(src: "192.0.2.10", dst: "10.0.0.100")
///         .tcp(src: 40000, dst: 80, flags: TCPFlag.syn, seq: 1)
///         .bytes()
///
/// Lengths and checksums are filled in unless a test overrides them to make a broken frame.
public struct PacketBuilder: Sendable {
    public struct IPv6Extension: Sendable {
        public var type: UInt8
        /// Bytes after the next-header and length bytes; padded to a multiple of 8 when built.
        public var data: [UInt8]
        public init(type: UInt8, data: [UInt8]) {
            self.type = type
            self.data = data
        }
        /// A fragment header (RFC 8200 4.5). `offset` in bytes, a multiple of 8.
        public static func fragment(offset: Int, more: Bool, id: UInt32 = 1) -> IPv6Extension {
            let field = UInt16(offset & 0xfff8) | (more ? 1 : 0)
            return IPv6Extension(
                type: IPProto.fragment,
                data: [UInt8(field >> 8), UInt8(field & 0xff)] + be32(id))
        }
    }

    /// How to fill an L4 checksum.
    public enum ChecksumFill: Sendable, Equatable {
        /// The correct full checksum.
        case correct
        /// The pseudo-header sum only, as offloaded frames carry it (CHECKSUM_PARTIAL).
        case partial
        /// A literal raw value (0 for "no UDP checksum", or a wrong value).
        case value(UInt16)
    }

    enum Network: Sendable {
        case none
        case ipv4(src: IPAddress, dst: IPAddress, ttl: UInt8, tos: UInt8, id: UInt16, dontFragment: Bool,
                  moreFragments: Bool, fragmentOffset: Int, options: [UInt8])
        case ipv6(src: IPAddress, dst: IPAddress, hopLimit: UInt8, extensions: [IPv6Extension])
        case arp(op: UInt16, senderMAC: MACAddress, senderIP: IPAddress, targetMAC: MACAddress, targetIP: IPAddress)
    }

    enum Transport: Sendable {
        case none
        case tcp(src: UInt16, dst: UInt16, seq: UInt32, ack: UInt32, flags: UInt8, window: UInt16, options: [UInt8])
        case udp(src: UInt16, dst: UInt16)
        case icmp(type: UInt8, code: UInt8, rest: UInt32)
        case raw(proto: UInt8)
    }

    var ethernet: (src: MACAddress, dst: MACAddress, vlan: UInt16?)? = nil
    var network: Network = .none
    var transport: Transport = .none
    var payloadBytes: [UInt8] = []
    var l4Checksum: ChecksumFill = .correct
    var ipChecksum: UInt16? = nil
    var totalLengthOverride: Int? = nil
    var udpLengthOverride: Int? = nil
    var tcpDataOffsetOverride: UInt8? = nil
    var ihlOverride: UInt8? = nil
    var trailer: [UInt8] = []

    public init() {}

    public static let defaultClientMAC = MACAddress(0x02, 0, 0, 0, 0, 0x01)
    public static let defaultDirectorMAC = MACAddress(0x02, 0, 0, 0, 0, 0x02)

    public func ethernet(src: MACAddress = defaultClientMAC, dst: MACAddress = defaultDirectorMAC,
                         vlan: UInt16? = nil) -> PacketBuilder {
        var b = self
        b.ethernet = (src, dst, vlan)
        return b
    }

    public func ipv4(src: IPAddress, dst: IPAddress, ttl: UInt8 = 64, tos: UInt8 = 0, id: UInt16 = 0x1234,
                     dontFragment: Bool = true, moreFragments: Bool = false, fragmentOffset: Int = 0,
                     options: [UInt8] = []) -> PacketBuilder {
        var b = self
        b.network = .ipv4(src: src, dst: dst, ttl: ttl, tos: tos, id: id, dontFragment: dontFragment,
                          moreFragments: moreFragments, fragmentOffset: fragmentOffset, options: options)
        return b
    }

    public func ipv4(src: String, dst: String, ttl: UInt8 = 64) -> PacketBuilder {
        ipv4(src: IPAddress(src)!, dst: IPAddress(dst)!, ttl: ttl)
    }

    public func ipv6(src: IPAddress, dst: IPAddress, hopLimit: UInt8 = 64, extensions: [IPv6Extension] = [])
        -> PacketBuilder
    {
        var b = self
        b.network = .ipv6(src: src, dst: dst, hopLimit: hopLimit, extensions: extensions)
        return b
    }

    public func ipv6(src: String, dst: String, hopLimit: UInt8 = 64) -> PacketBuilder {
        ipv6(src: IPAddress(src)!, dst: IPAddress(dst)!, hopLimit: hopLimit)
    }

    /// An IP packet of either family (chosen by the addresses).
    public func ip(src: IPAddress, dst: IPAddress, ttl: UInt8 = 64) -> PacketBuilder {
        src.isIPv4 ? ipv4(src: src, dst: dst, ttl: ttl) : ipv6(src: src, dst: dst, hopLimit: ttl)
    }

    public func arp(op: UInt16, senderMAC: MACAddress, senderIP: IPAddress, targetMAC: MACAddress = .zero,
                    targetIP: IPAddress) -> PacketBuilder {
        var b = self
        b.network = .arp(op: op, senderMAC: senderMAC, senderIP: senderIP, targetMAC: targetMAC, targetIP: targetIP)
        return b
    }

    public func tcp(src: UInt16, dst: UInt16, flags: UInt8, seq: UInt32 = 1000, ack: UInt32 = 0,
                    window: UInt16 = 65535, options: [UInt8] = []) -> PacketBuilder {
        var b = self
        b.transport = .tcp(src: src, dst: dst, seq: seq, ack: ack, flags: flags, window: window, options: options)
        return b
    }

    public func udp(src: UInt16, dst: UInt16) -> PacketBuilder {
        var b = self
        b.transport = .udp(src: src, dst: dst)
        return b
    }

    /// ICMP (v4 or v6, by the network layer). For errors, `payload` is the quoted packet.
    public func icmp(type: UInt8, code: UInt8 = 0, rest: UInt32 = 0) -> PacketBuilder {
        var b = self
        b.transport = .icmp(type: type, code: code, rest: rest)
        return b
    }

    /// An L4 protocol the builder does not know: the payload is its whole content.
    public func rawTransport(proto: UInt8) -> PacketBuilder {
        var b = self
        b.transport = .raw(proto: proto)
        return b
    }

    public func payload(_ bytes: [UInt8]) -> PacketBuilder {
        var b = self
        b.payloadBytes = bytes
        return b
    }

    public func payload(_ text: String) -> PacketBuilder { payload(Array(text.utf8)) }

    // MARK: Breakage, for malformed-input fixtures

    public func l4Checksum(_ fill: ChecksumFill) -> PacketBuilder {
        var b = self
        b.l4Checksum = fill
        return b
    }
    public func ipChecksum(raw value: UInt16) -> PacketBuilder {
        var b = self
        b.ipChecksum = value
        return b
    }
    /// Overrides the IPv4 total length or IPv6 payload length field.
    public func ipLengthField(_ value: Int) -> PacketBuilder {
        var b = self
        b.totalLengthOverride = value
        return b
    }
    public func ihl(_ value: UInt8) -> PacketBuilder {
        var b = self
        b.ihlOverride = value
        return b
    }
    public func udpLengthField(_ value: Int) -> PacketBuilder {
        var b = self
        b.udpLengthOverride = value
        return b
    }
    public func tcpDataOffset(_ value: UInt8) -> PacketBuilder {
        var b = self
        b.tcpDataOffsetOverride = value
        return b
    }
    /// Bytes after the IP packet (link-layer padding).
    public func trailer(_ bytes: [UInt8]) -> PacketBuilder {
        var b = self
        b.trailer = bytes
        return b
    }

    // MARK: Build

    /// The frame (or the bare IP packet when no Ethernet layer was given).
    public func bytes() -> [UInt8] {
        var out: [UInt8] = []
        if let e = ethernet {
            out += e.dst.bytes + e.src.bytes
            if let vlan = e.vlan { out += be16(EtherType.vlan) + be16(vlan) }
            switch network {
            case .ipv4: out += be16(EtherType.ipv4)
            case .ipv6: out += be16(EtherType.ipv6)
            case .arp: out += be16(EtherType.arp)
            case .none: out += be16(0x88b5)  // local experimental EtherType
            }
        }
        switch network {
        case .none:
            out += payloadBytes
        case let .arp(op, smac, sip, tmac, tip):
            out += be16(1) + be16(EtherType.ipv4) + [6, 4] + be16(op)
            out += smac.bytes + Array(sip.bytes[12...]) + tmac.bytes + Array(tip.bytes[12...])
        case let .ipv4(src, dst, ttl, tos, id, df, mf, fragOffset, options):
            var opts = options
            while opts.count % 4 != 0 { opts.append(0) }
            let l4 = transportBytes(src: src, dst: dst)
            let ihl = ihlOverride ?? UInt8(5 + opts.count / 4)
            let total = totalLengthOverride ?? (20 + opts.count + l4.count)
            let flagsFrag = UInt16(fragOffset / 8) | (df ? 0x4000 : 0) | (mf ? 0x2000 : 0)
            var hdr: [UInt8] = [0x40 | (ihl & 0x0f), tos] + be16(UInt16(truncatingIfNeeded: total)) + be16(id)
            hdr += be16(flagsFrag) + [ttl, protoNumber(ipv6: false), 0, 0]
            hdr += Array(src.bytes[12...]) + Array(dst.bytes[12...]) + opts
            let ck = ipChecksum ?? hdr.withUnsafeBytes { Checksum.compute($0.baseAddress!, count: $0.count) }
            withUnsafeBytes(of: ck) { hdr[10] = $0[0]; hdr[11] = $0[1] }
            out += hdr + l4
        case let .ipv6(src, dst, hop, extensions):
            let l4 = transportBytes(src: src, dst: dst)
            var ext: [UInt8] = []
            var types = extensions.map(\.type)
            types.append(protoNumber(ipv6: true))
            for (i, e) in extensions.enumerated() {
                var body = e.data
                if e.type == IPProto.fragment {
                    ext += [types[i + 1], 0] + body
                    continue
                }
                if e.type == IPProto.ah {
                    // AH counts 4-octet units minus 2 (RFC 4302 2.2), not 8-octet units minus 1.
                    while (body.count + 2) % 8 != 0 { body.append(0) }
                    ext += [types[i + 1], UInt8((body.count + 2) / 4 - 2)] + body
                    continue
                }
                while (body.count + 2) % 8 != 0 { body.append(0) }
                ext += [types[i + 1], UInt8((body.count + 2) / 8 - 1)] + body
            }
            let payloadLen = totalLengthOverride ?? (ext.count + l4.count)
            out += [0x60, 0, 0, 0] + be16(UInt16(truncatingIfNeeded: payloadLen)) + [types[0], hop]
            out += src.bytes + dst.bytes + ext + l4
        }
        return out + trailer
    }

    func protoNumber(ipv6: Bool) -> UInt8 {
        switch transport {
        case .none: IPProto.noNext
        case .tcp: IPProto.tcp
        case .udp: IPProto.udp
        case .icmp: ipv6 ? IPProto.icmpv6 : IPProto.icmp
        case .raw(let p): p
        }
    }

    func transportBytes(src: IPAddress, dst: IPAddress) -> [UInt8] {
        var seg: [UInt8]
        var checksumAt: Int? = nil
        var pseudo = true
        switch transport {
        case .none, .raw:
            return payloadBytes
        case let .tcp(sp, dp, seq, ack, flags, window, options):
            var opts = options
            while opts.count % 4 != 0 { opts.append(TCPOptions.endOfList) }
            let doff = tcpDataOffsetOverride ?? UInt8(5 + opts.count / 4)
            seg = be16(sp) + be16(dp) + be32(seq) + be32(ack) + [doff << 4, flags] + be16(window) + [0, 0, 0, 0]
            seg += opts + payloadBytes
            checksumAt = 16
        case let .udp(sp, dp):
            let len = udpLengthOverride ?? (8 + payloadBytes.count)
            seg = be16(sp) + be16(dp) + be16(UInt16(truncatingIfNeeded: len)) + [0, 0] + payloadBytes
            checksumAt = 6
        case let .icmp(type, code, rest):
            seg = [type, code, 0, 0] + be32(rest) + payloadBytes
            checksumAt = 2
            pseudo = !src.isIPv4  // ICMPv6 covers a pseudo-header, ICMPv4 does not
        }
        guard let at = checksumAt else { return seg }
        let proto = protoNumber(ipv6: !src.isIPv4)
        let initial = pseudo ? Checksum.pseudoHeader(src: src, dst: dst, protocol: proto, length: seg.count) : 0
        var ck: UInt16
        switch l4Checksum {
        case .correct:
            ck = seg.withUnsafeBytes { Checksum.compute($0.baseAddress!, count: $0.count, initial: initial) }
            if ck == 0, case .udp = transport { ck = 0xffff }
        case .partial:
            ck = Checksum.fold(initial)
        case .value(let v):
            ck = v
        }
        withUnsafeBytes(of: ck) {
            seg[at] = $0[0]
            seg[at + 1] = $0[1]
        }
        return seg
    }
}

@inlinable func be16(_ v: UInt16) -> [UInt8] { [UInt8(v >> 8), UInt8(v & 0xff)] }
@inlinable func be32(_ v: UInt32) -> [UInt8] {
    [UInt8(v >> 24), UInt8((v >> 16) & 0xff), UInt8((v >> 8) & 0xff), UInt8(v & 0xff)]
}
