/// Parses frames into `PacketInfo`, checking every length before reading the field it guards.
///
/// The parser never reads outside `[frame, frame + length)` and never traps on hostile input:
/// each malformed case ends in a `MalformedReason`. It recognises (but does not reassemble) IPv4
/// and IPv6 fragments, walks IPv6 extension headers up to `maxExtensionHeaders`, and validates the
/// transport header of the first fragment.
public enum PacketParser {
    /// Upper bound on IPv6 extension headers walked before giving up (hostile chains).
    public static let maxExtensionHeaders = 8

    /// Parses an Ethernet frame.
    @inlinable
    public static func parse(_ frame: UnsafeMutableRawPointer, length: Int) -> ParseResult {
        var info = PacketInfo()
        if let bad = parse(frame, length: length, into: &info) { return .malformed(bad) }
        return .ok(info)
    }

    /// Parses an Ethernet frame into `info` (which must be freshly initialised); returns nil on
    /// success. The packet path uses this form: no result enum to build and unpack.
    @inlinable
    public static func parse(_ frame: UnsafeMutableRawPointer, length: Int, into info: inout PacketInfo) -> MalformedReason? {
        guard let eth = EthernetView(frame, length: length) else {
            return length >= 12 && length < 18 && isTagged(frame, length) ? .truncatedVLAN : .truncatedEthernet
        }
        info.hasVLAN = eth.hasVLAN
        info.vlanTCI = eth.vlanTCI
        info.etherType = eth.etherType
        info.l3Offset = eth.headerLength
        switch info.etherType {
        case EtherType.ipv4, EtherType.ipv6:
            return parseIP(frame, offset: eth.headerLength, end: length, into: &info)
        case EtherType.arp:
            guard ARPView(frame + eth.headerLength, length: length - eth.headerLength) != nil else {
                return .truncatedARP
            }
            info.network = .arp
            info.l3End = eth.headerLength + HeaderSize.arpIPv4
            info.l4Offset = info.l3End  // no transport layer: an empty one, keeping l3Offset <= l4Offset <= l3End
            return nil
        default:
            info.network = .other
            info.l3End = length
            info.l4Offset = length
            return nil
        }
    }

    /// Parses a frame held in a buffer.
    @inlinable
    public static func parse(_ buffer: UnsafeMutableRawBufferPointer) -> ParseResult {
        guard let base = buffer.baseAddress else { return .malformed(.truncatedEthernet) }
        return parse(base, length: buffer.count)
    }

    @inlinable
    static func isTagged(_ frame: UnsafeMutableRawPointer, _ length: Int) -> Bool {
        guard length >= 14 else { return false }
        let t = frame.be16(12)
        return t == EtherType.vlan || t == EtherType.qinq
    }

    /// Parses the IP packet starting at `offset` (its version must match the EtherType already in
    /// `info.etherType`) and its transport header. Returns nil on success.
    @inlinable
    public static func parseIP(
        _ frame: UnsafeMutableRawPointer, offset: Int, end: Int, into info: inout PacketInfo
    ) -> MalformedReason? {
        let avail = end &- offset
        let ip = frame + offset
        if info.etherType == EtherType.ipv4 {
            guard avail >= HeaderSize.ipv4 else { return .truncatedIPv4 }
            let v = IPv4View(unchecked: ip)
            guard v.version == 4 else { return .badIPVersion }
            let ihl = v.headerLength
            guard ihl >= HeaderSize.ipv4, ihl <= avail else { return .badIPv4HeaderLength }
            let total = Int(v.totalLength)
            guard total >= ihl, total <= avail else { return .badIPv4TotalLength }
            info.network = .ipv4
            info.l3End = offset &+ total
            info.l4Offset = offset &+ ihl
            info.l4Protocol = v.proto
            info.src = v.source
            info.dst = v.destination
            if v.moreFragments || v.fragmentOffset != 0 {
                info.fragment = v.fragmentOffset == 0 ? .first : .subsequent
            }
        } else {
            guard avail >= HeaderSize.ipv6 else { return .truncatedIPv6 }
            let v = IPv6View(unchecked: ip)
            guard v.version == 6 else { return .badIPVersion }
            let total = HeaderSize.ipv6 &+ Int(v.payloadLength)
            guard total <= avail else { return .badIPv6PayloadLength }
            info.network = .ipv6
            info.l3End = offset &+ total
            info.src = v.source
            info.dst = v.destination
            var next = v.nextHeader
            var at = offset &+ HeaderSize.ipv6
            var walked = 0
            while true {
                switch next {
                case IPProto.hopByHop, IPProto.routing, IPProto.destinationOptions, IPProto.fragment, IPProto.ah:
                    guard walked < maxExtensionHeaders else { return .tooManyExtensionHeaders }
                    guard at &+ 8 <= info.l3End else { return .truncatedExtensionHeader }
                    let len: Int
                    if next == IPProto.fragment {
                        len = 8
                        let offField = frame.be16(at &+ 2)
                        let fragOffset = Int(offField & 0xfff8)
                        let more = offField & 1 != 0
                        if fragOffset != 0 || more {
                            info.fragment = fragOffset == 0 ? .first : .subsequent
                        }
                        info.ipv6FragmentHeaderOffset = at
                    } else if next == IPProto.ah {
                        len = (Int(frame.u8(at &+ 1)) &+ 2) &* 4
                    } else {
                        len = (Int(frame.u8(at &+ 1)) &+ 1) &* 8
                    }
                    guard at &+ len <= info.l3End else { return .truncatedExtensionHeader }
                    next = frame.u8(at)
                    at &+= len
                    walked &+= 1
                    if info.fragment == .subsequent { break }
                    continue
                default:
                    break
                }
                break
            }
            info.l4Offset = at
            info.l4Protocol = next
        }
        if info.fragment == .subsequent { return nil }
        return parseTransport(frame, into: &info)
    }

    /// Validates the transport header at `info.l4Offset` and reads ports, flags and ICMP type.
    @inlinable
    static func parseTransport(_ frame: UnsafeMutableRawPointer, into info: inout PacketInfo) -> MalformedReason? {
        let l4 = frame + info.l4Offset
        let avail = info.l3End &- info.l4Offset
        switch info.l4Protocol {
        case IPProto.tcp:
            guard avail >= HeaderSize.tcp else { return .truncatedTCP }
            let t = TCPView(unchecked: l4)
            let hl = t.headerLength
            guard hl >= HeaderSize.tcp, hl <= avail else { return .badTCPDataOffset }
            info.srcPort = t.sourcePort
            info.dstPort = t.destinationPort
            info.tcpFlags = t.flags
        case IPProto.udp:
            guard avail >= HeaderSize.udp else { return .truncatedUDP }
            let u = UDPView(unchecked: l4)
            let ulen = Int(u.length)
            // A first fragment carries less than the UDP length; otherwise it must fit.
            guard ulen >= HeaderSize.udp, ulen <= avail || info.fragment == .first else { return .badUDPLength }
            info.srcPort = u.sourcePort
            info.dstPort = u.destinationPort
        case IPProto.icmp, IPProto.icmpv6:
            guard avail >= HeaderSize.icmp else { return .truncatedICMP }
            let c = ICMPView(unchecked: l4)
            info.icmpType = c.type
            info.icmpCode = c.code
        default:
            break
        }
        return nil
    }

    /// Parses the packet quoted inside an ICMP error (RFC 792: the IP header plus at least the first
    /// 8 bytes of its payload; RFC 4443: as much as fits). The quoted packet is usually truncated,
    /// so only its header and ports are required. Returns nil when even those are not there.
    @inlinable
    public static func parseQuoted(_ frame: UnsafeMutableRawPointer, offset: Int, end: Int, ipv4: Bool) -> QuotedPacket? {
        let avail = end &- offset
        var q = QuotedPacket()
        q.l3Offset = offset
        if ipv4 {
            guard avail >= HeaderSize.ipv4 else { return nil }
            let v = IPv4View(unchecked: frame + offset)
            let ihl = v.headerLength
            guard v.version == 4, ihl >= HeaderSize.ipv4, ihl <= avail else { return nil }
            q.l4Offset = offset &+ ihl
            q.proto = v.proto
            q.src = v.source
            q.dst = v.destination
            q.isFragment = v.fragmentOffset != 0
        } else {
            guard avail >= HeaderSize.ipv6 else { return nil }
            let v = IPv6View(unchecked: frame + offset)
            guard v.version == 6 else { return nil }
            q.src = v.source
            q.dst = v.destination
            var next = v.nextHeader
            var at = offset &+ HeaderSize.ipv6
            var walked = 0
            while next == IPProto.hopByHop || next == IPProto.routing || next == IPProto.destinationOptions
                || next == IPProto.fragment
            {
                guard walked < maxExtensionHeaders, at &+ 8 <= end else { return nil }
                let len: Int
                if next == IPProto.fragment {
                    len = 8
                    if frame.be16(at &+ 2) & 0xfff8 != 0 { q.isFragment = true }
                } else {
                    len = (Int(frame.u8(at &+ 1)) &+ 1) &* 8
                }
                // A header cut off by the quote leaves no transport header (and l4Offset past `end`).
                guard at &+ len <= end else { return nil }
                next = frame.u8(at)
                at &+= len
                walked &+= 1
            }
            q.l4Offset = at
            q.proto = next
        }
        if q.proto == IPProto.tcp || q.proto == IPProto.udp {
            guard !q.isFragment, q.l4Offset &+ 4 <= end else { return nil }
            q.srcPort = frame.be16(q.l4Offset)
            q.dstPort = frame.be16(q.l4Offset &+ 2)
        }
        return q
    }
}

/// The packet quoted in an ICMP error: offsets and the tuple it travelled with.
@frozen
public struct QuotedPacket: Sendable {
    public var l3Offset = 0
    public var l4Offset = 0
    public var proto: UInt8 = 0
    public var isFragment = false
    public var src: IPAddress = .zero
    public var dst: IPAddress = .zero
    public var srcPort: UInt16 = 0
    public var dstPort: UInt16 = 0

    @inlinable public init() {}
}
