import LVSPacket
import Testing

/// The fields of a `PacketInfo`, comparable as a whole so a fixture states every one of them.
struct ParsedFields: Equatable, Sendable, CustomStringConvertible {
    var etherType: UInt16
    var hasVLAN = false
    var vlanTCI: UInt16 = 0
    var network: NetworkKind
    var l3Offset = 14
    var l3End: Int
    var l4Offset: Int
    var l4Protocol: UInt8 = 0
    var fragment: FragmentKind = .none
    var ipv6FragmentHeaderOffset = 0
    var src: IPAddress = .zero
    var dst: IPAddress = .zero
    var srcPort: UInt16 = 0
    var dstPort: UInt16 = 0
    var tcpFlags: UInt8 = 0
    var icmpType: UInt8 = 0
    var icmpCode: UInt8 = 0

    init(
        etherType: UInt16, hasVLAN: Bool = false, vlanTCI: UInt16 = 0, network: NetworkKind, l3Offset: Int = 14,
        l3End: Int, l4Offset: Int, l4Protocol: UInt8 = 0, fragment: FragmentKind = .none,
        ipv6FragmentHeaderOffset: Int = 0, src: IPAddress = .zero, dst: IPAddress = .zero, srcPort: UInt16 = 0,
        dstPort: UInt16 = 0, tcpFlags: UInt8 = 0, icmpType: UInt8 = 0, icmpCode: UInt8 = 0
    ) {
        (self.etherType, self.hasVLAN, self.vlanTCI, self.network, self.l3Offset) =
            (etherType, hasVLAN, vlanTCI, network, l3Offset)
        (self.l3End, self.l4Offset, self.l4Protocol, self.fragment, self.ipv6FragmentHeaderOffset) =
            (l3End, l4Offset, l4Protocol, fragment, ipv6FragmentHeaderOffset)
        (self.src, self.dst, self.srcPort, self.dstPort) = (src, dst, srcPort, dstPort)
        (self.tcpFlags, self.icmpType, self.icmpCode) = (tcpFlags, icmpType, icmpCode)
    }

    init(_ i: PacketInfo) {
        self.init(
            etherType: i.etherType, hasVLAN: i.hasVLAN, vlanTCI: i.vlanTCI, network: i.network, l3Offset: i.l3Offset,
            l3End: i.l3End, l4Offset: i.l4Offset, l4Protocol: i.l4Protocol, fragment: i.fragment,
            ipv6FragmentHeaderOffset: i.ipv6FragmentHeaderOffset, src: i.src, dst: i.dst, srcPort: i.srcPort,
            dstPort: i.dstPort, tcpFlags: i.tcpFlags, icmpType: i.icmpType, icmpCode: i.icmpCode)
    }

    var description: String {
        "eth 0x\(String(etherType, radix: 16)) vlan \(hasVLAN ? String(vlanTCI) : "-") \(network) "
            + "l3 \(l3Offset)..<\(l3End) l4 \(l4Offset) proto \(l4Protocol) frag \(fragment)/\(ipv6FragmentHeaderOffset) "
            + "\(src):\(srcPort) -> \(dst):\(dstPort) flags 0x\(String(tcpFlags, radix: 16)) icmp \(icmpType)/\(icmpCode)"
    }
}

/// One row of the parser table (Katran's test-fixture style): a frame and everything it parses to.
struct ParserFixture: Sendable, CustomTestStringConvertible {
    var name: String
    var frame: [UInt8]
    var expected: ParsedFields
    var testDescription: String { name }
}

private func eth(vlan: UInt16? = nil) -> PacketBuilder {
    PacketBuilder().ethernet(src: clientMAC, dst: directorMAC, vlan: vlan)
}

private let tcpOptionsSYN: [UInt8] = [
    2, 4, 0x05, 0xb4,  // MSS 1460
    4, 2,  // SACK permitted
    8, 10, 0, 0, 0, 1, 0, 0, 0, 0,  // timestamps
    1,  // NOP
    3, 3, 7,  // window scale 7
]

/// A bare IPv4 UDP packet, for quoting inside ICMP errors.
private let quotedUDP4 = PacketBuilder().ipv4(src: vip4, dst: client4).udp(src: 53, dst: 5353).payload(
    [UInt8](repeating: 0x61, count: 30)
).bytes()
private let quotedTCP6 = PacketBuilder().ipv6(src: vip6, dst: client6).tcp(src: 443, dst: 40000, flags: TCPFlag.ack)
    .payload([UInt8](repeating: 0x62, count: 1400)).bytes()

let parserFixtures: [ParserFixture] = [
    // MARK: IPv4
    ParserFixture(
        name: "IPv4 TCP SYN",
        frame: eth().ipv4(src: client4, dst: vip4).tcp(src: 40000, dst: 80, flags: TCPFlag.syn).bytes(),
        expected: ParsedFields(
            etherType: 0x0800, network: .ipv4, l3End: 54, l4Offset: 34, l4Protocol: 6, src: client4, dst: vip4,
            srcPort: 40000, dstPort: 80, tcpFlags: 0x02)),
    ParserFixture(
        name: "IPv4 TCP FIN|PSH|ACK with payload",
        frame: eth().ipv4(src: vip4, dst: client4).tcp(src: 80, dst: 40000, flags: 0x19).payload("hello").bytes(),
        expected: ParsedFields(
            etherType: 0x0800, network: .ipv4, l3End: 59, l4Offset: 34, l4Protocol: 6, src: vip4, dst: client4,
            srcPort: 80, dstPort: 40000, tcpFlags: 0x19)),
    ParserFixture(
        name: "IPv4 TCP every flag bit (URG ECE CWR included)",
        frame: eth().ipv4(src: client4, dst: vip4).tcp(src: 1, dst: 65535, flags: 0xff).bytes(),
        expected: ParsedFields(
            etherType: 0x0800, network: .ipv4, l3End: 54, l4Offset: 34, l4Protocol: 6, src: client4, dst: vip4,
            srcPort: 1, dstPort: 65535, tcpFlags: 0xff)),
    ParserFixture(
        name: "IPv4 TCP SYN with 20 bytes of options",
        frame: eth().ipv4(src: client4, dst: vip4).tcp(src: 40001, dst: 443, flags: TCPFlag.syn, options: tcpOptionsSYN)
            .bytes(),
        expected: ParsedFields(
            etherType: 0x0800, network: .ipv4, l3End: 74, l4Offset: 34, l4Protocol: 6, src: client4, dst: vip4,
            srcPort: 40001, dstPort: 443, tcpFlags: 0x02)),
    ParserFixture(
        name: "802.1Q tagged IPv4 TCP",
        frame: eth(vlan: 0x2064).ipv4(src: client4, dst: vip4).tcp(src: 40000, dst: 80, flags: TCPFlag.ack).bytes(),
        expected: ParsedFields(
            etherType: 0x0800, hasVLAN: true, vlanTCI: 0x2064, network: .ipv4, l3Offset: 18, l3End: 58, l4Offset: 38,
            l4Protocol: 6, src: client4, dst: vip4, srcPort: 40000, dstPort: 80, tcpFlags: 0x10)),
    ParserFixture(
        name: "IPv4 IHL 6 (router alert) UDP",
        frame: eth().ipv4(src: client4, dst: vip4, options: [0x94, 0x04, 0x00, 0x00]).udp(src: 5353, dst: 53)
            .payload([1, 2, 3, 4]).bytes(),
        expected: ParsedFields(
            etherType: 0x0800, network: .ipv4, l3End: 50, l4Offset: 38, l4Protocol: 17, src: client4, dst: vip4,
            srcPort: 5353, dstPort: 53)),
    ParserFixture(
        name: "IPv4 IHL 7 TCP",
        frame: eth().ipv4(src: client4, dst: vip4, options: [1, 1, 1, 1, 1, 1, 1, 0]).tcp(
            src: 2000, dst: 80, flags: 0x02
        )
        .bytes(),
        expected: ParsedFields(
            etherType: 0x0800, network: .ipv4, l3End: 62, l4Offset: 42, l4Protocol: 6, src: client4, dst: vip4,
            srcPort: 2000, dstPort: 80, tcpFlags: 0x02)),
    ParserFixture(
        name: "IPv4 IHL 15 (40 bytes of options) TCP",
        frame: eth().ipv4(src: client4, dst: vip4, options: [UInt8](repeating: 1, count: 39) + [0])
            .tcp(src: 2001, dst: 80, flags: 0x02).bytes(),
        expected: ParsedFields(
            etherType: 0x0800, network: .ipv4, l3End: 94, l4Offset: 74, l4Protocol: 6, src: client4, dst: vip4,
            srcPort: 2001, dstPort: 80, tcpFlags: 0x02)),
    ParserFixture(
        name: "IPv4 first fragment (MF, offset 0) UDP with a UDP length beyond the fragment",
        frame: eth().ipv4(src: client4, dst: vip4, dontFragment: false, moreFragments: true).udp(src: 5000, dst: 53)
            .payload([UInt8](repeating: 7, count: 16)).udpLengthField(3000).bytes(),
        expected: ParsedFields(
            etherType: 0x0800, network: .ipv4, l3End: 58, l4Offset: 34, l4Protocol: 17, fragment: .first, src: client4,
            dst: vip4, srcPort: 5000, dstPort: 53)),
    ParserFixture(
        name: "IPv4 first fragment TCP",
        frame: eth().ipv4(src: client4, dst: vip4, dontFragment: false, moreFragments: true)
            .tcp(src: 40000, dst: 80, flags: 0x18).payload([UInt8](repeating: 8, count: 32)).bytes(),
        expected: ParsedFields(
            etherType: 0x0800, network: .ipv4, l3End: 86, l4Offset: 34, l4Protocol: 6, fragment: .first, src: client4,
            dst: vip4, srcPort: 40000, dstPort: 80, tcpFlags: 0x18)),
    ParserFixture(
        name: "IPv4 middle fragment (MF, offset 1480): no ports",
        frame: eth().ipv4(src: client4, dst: vip4, dontFragment: false, moreFragments: true, fragmentOffset: 1480)
            .rawTransport(proto: IPProto.udp).payload([0x13, 0x88, 0x00, 0x35] + [UInt8](repeating: 9, count: 12))
            .bytes(),
        expected: ParsedFields(
            etherType: 0x0800, network: .ipv4, l3End: 50, l4Offset: 34, l4Protocol: 17, fragment: .subsequent,
            src: client4, dst: vip4)),
    ParserFixture(
        name: "IPv4 last fragment (offset 2960, no MF) shorter than a TCP header",
        frame: eth().ipv4(src: client4, dst: vip4, dontFragment: false, fragmentOffset: 2960)
            .rawTransport(proto: IPProto.tcp).payload([0x9c, 0x40, 0x00, 0x50, 0xff, 0xff, 0xff, 0xff]).bytes(),
        expected: ParsedFields(
            etherType: 0x0800, network: .ipv4, l3End: 42, l4Offset: 34, l4Protocol: 6, fragment: .subsequent,
            src: client4, dst: vip4)),
    ParserFixture(
        name: "IPv4 smallest fragment offset (8) is subsequent",
        frame: eth().ipv4(src: client4, dst: vip4, dontFragment: false, fragmentOffset: 8)
            .rawTransport(proto: IPProto.udp).payload([1, 2, 3, 4, 5, 6, 7, 8]).bytes(),
        expected: ParsedFields(
            etherType: 0x0800, network: .ipv4, l3End: 42, l4Offset: 34, l4Protocol: 17, fragment: .subsequent,
            src: client4, dst: vip4)),
    ParserFixture(
        name: "IPv4 neither DF nor MF, offset 0: not a fragment",
        frame: eth().ipv4(src: client4, dst: vip4, dontFragment: false).udp(src: 1234, dst: 53).bytes(),
        expected: ParsedFields(
            etherType: 0x0800, network: .ipv4, l3End: 42, l4Offset: 34, l4Protocol: 17, src: client4, dst: vip4,
            srcPort: 1234, dstPort: 53)),
    ParserFixture(
        name: "IPv4 UDP",
        frame: eth().ipv4(src: client4, dst: vip4).udp(src: 5353, dst: 53).payload([UInt8](repeating: 0, count: 12))
            .bytes(),
        expected: ParsedFields(
            etherType: 0x0800, network: .ipv4, l3End: 54, l4Offset: 34, l4Protocol: 17, src: client4, dst: vip4,
            srcPort: 5353, dstPort: 53)),
    ParserFixture(
        name: "IPv4 UDP with an empty payload",
        frame: eth().ipv4(src: client4, dst: vip4).udp(src: 9, dst: 9).bytes(),
        expected: ParsedFields(
            etherType: 0x0800, network: .ipv4, l3End: 42, l4Offset: 34, l4Protocol: 17, src: client4, dst: vip4,
            srcPort: 9, dstPort: 9)),
    ParserFixture(
        name: "IPv4 UDP length shorter than the datagram",
        frame: eth().ipv4(src: client4, dst: vip4).udp(src: 9, dst: 10).payload([1, 2, 3, 4]).udpLengthField(8).bytes(),
        expected: ParsedFields(
            etherType: 0x0800, network: .ipv4, l3End: 46, l4Offset: 34, l4Protocol: 17, src: client4, dst: vip4,
            srcPort: 9, dstPort: 10)),
    ParserFixture(
        name: "IPv4 ICMP echo request",
        frame: eth().ipv4(src: client4, dst: vip4).icmp(type: ICMPv4Type.echoRequest, rest: 0x1234_0001)
            .payload([UInt8](repeating: 0xab, count: 8)).bytes(),
        expected: ParsedFields(
            etherType: 0x0800, network: .ipv4, l3End: 50, l4Offset: 34, l4Protocol: 1, src: client4, dst: vip4,
            icmpType: 8, icmpCode: 0)),
    ParserFixture(
        name: "IPv4 ICMP port unreachable quoting a UDP packet",
        frame: eth().ipv4(src: client4, dst: vip4).icmp(type: 3, code: 3).payload(Array(quotedUDP4[..<28])).bytes(),
        expected: ParsedFields(
            etherType: 0x0800, network: .ipv4, l3End: 70, l4Offset: 34, l4Protocol: 1, src: client4, dst: vip4,
            icmpType: 3, icmpCode: 3)),
    ParserFixture(
        name: "IPv4 ICMP fragmentation needed",
        frame: eth().ipv4(src: real4, dst: vip4).icmp(type: 3, code: 4, rest: 1400).payload(Array(quotedUDP4[..<28]))
            .bytes(),
        expected: ParsedFields(
            etherType: 0x0800, network: .ipv4, l3End: 70, l4Offset: 34, l4Protocol: 1, src: real4, dst: vip4,
            icmpType: 3, icmpCode: 4)),
    ParserFixture(
        name: "IPv4 ICMP with exactly the 8-byte header",
        frame: eth().ipv4(src: client4, dst: vip4).icmp(type: 13, code: 0).bytes(),
        expected: ParsedFields(
            etherType: 0x0800, network: .ipv4, l3End: 42, l4Offset: 34, l4Protocol: 1, src: client4, dst: vip4,
            icmpType: 13)),
    ParserFixture(
        name: "IPv4 GRE: unknown protocol, no ports",
        frame: eth().ipv4(src: client4, dst: vip4).rawTransport(proto: 47).payload([0, 0, 0x08, 0, 1, 2, 3, 4]).bytes(),
        expected: ParsedFields(
            etherType: 0x0800, network: .ipv4, l3End: 42, l4Offset: 34, l4Protocol: 47, src: client4, dst: vip4)),
    ParserFixture(
        name: "IPv4 IPIP (tunnelled packet is not parsed)",
        frame: eth().ipv4(src: vip4, dst: real4).rawTransport(proto: IPProto.ipip)
            .payload(PacketBuilder().ipv4(src: client4, dst: vip4).tcp(src: 3, dst: 80, flags: 2).bytes()).bytes(),
        expected: ParsedFields(
            etherType: 0x0800, network: .ipv4, l3End: 74, l4Offset: 34, l4Protocol: 4, src: vip4, dst: real4)),
    ParserFixture(
        name: "IPv4 header only, no payload",
        frame: eth().ipv4(src: client4, dst: vip4).rawTransport(proto: 253).bytes(),
        expected: ParsedFields(
            etherType: 0x0800, network: .ipv4, l3End: 34, l4Offset: 34, l4Protocol: 253, src: client4, dst: vip4)),
    ParserFixture(
        name: "IPv4 TCP padded to the 60-byte Ethernet minimum: l3End excludes the trailer",
        frame: eth().ipv4(src: client4, dst: vip4).tcp(src: 40000, dst: 80, flags: TCPFlag.rst)
            .trailer([0, 0, 0, 0, 0, 0]).bytes(),
        expected: ParsedFields(
            etherType: 0x0800, network: .ipv4, l3End: 54, l4Offset: 34, l4Protocol: 6, src: client4, dst: vip4,
            srcPort: 40000, dstPort: 80, tcpFlags: 0x04)),
    ParserFixture(
        name: "IPv4 UDP with a non-zero trailer",
        frame: eth().ipv4(src: client4, dst: vip4).udp(src: 7, dst: 7).payload([1]).trailer(
            [UInt8](repeating: 0xee, count: 17)
        )
        .bytes(),
        expected: ParsedFields(
            etherType: 0x0800, network: .ipv4, l3End: 43, l4Offset: 34, l4Protocol: 17, src: client4, dst: vip4,
            srcPort: 7, dstPort: 7)),
    ParserFixture(
        name: "IPv4 ICMP on a tagged frame with trailer",
        frame: eth(vlan: 0xe00a).ipv4(src: client4, dst: vip4).icmp(type: 8).trailer([0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
            .bytes(),
        expected: ParsedFields(
            etherType: 0x0800, hasVLAN: true, vlanTCI: 0xe00a, network: .ipv4, l3Offset: 18, l3End: 46, l4Offset: 38,
            l4Protocol: 1, src: client4, dst: vip4, icmpType: 8)),

    // MARK: IPv6
    ParserFixture(
        name: "IPv6 TCP SYN|ACK",
        frame: eth().ipv6(src: vip6, dst: client6).tcp(src: 443, dst: 40000, flags: 0x12).bytes(),
        expected: ParsedFields(
            etherType: 0x86dd, network: .ipv6, l3End: 74, l4Offset: 54, l4Protocol: 6, src: vip6, dst: client6,
            srcPort: 443, dstPort: 40000, tcpFlags: 0x12)),
    ParserFixture(
        name: "802.1Q tagged IPv6 UDP",
        frame: eth(vlan: 0x0005).ipv6(src: client6, dst: vip6).udp(src: 546, dst: 547).payload([1, 2, 3]).bytes(),
        expected: ParsedFields(
            etherType: 0x86dd, hasVLAN: true, vlanTCI: 5, network: .ipv6, l3Offset: 18, l3End: 69, l4Offset: 58,
            l4Protocol: 17, src: client6, dst: vip6, srcPort: 546, dstPort: 547)),
    ParserFixture(
        name: "IPv6 hop-by-hop + destination options + first fragment + UDP",
        frame: eth().ipv6(
            src: client6, dst: vip6,
            extensions: [
                .init(type: IPProto.hopByHop, data: [5, 2, 0, 0, 1, 0]),
                .init(type: IPProto.destinationOptions, data: [1, 8, 0, 0, 0, 0, 0, 0, 0, 0]),
                .fragment(offset: 0, more: true, id: 0xdead_beef),
            ]
        ).udp(src: 5000, dst: 53).payload([UInt8](repeating: 3, count: 8)).udpLengthField(2000).bytes(),
        expected: ParsedFields(
            etherType: 0x86dd, network: .ipv6, l3End: 102, l4Offset: 86, l4Protocol: 17, fragment: .first,
            ipv6FragmentHeaderOffset: 78, src: client6, dst: vip6, srcPort: 5000, dstPort: 53)),
    ParserFixture(
        name: "IPv6 hop-by-hop + subsequent fragment: no ports",
        frame: eth().ipv6(
            src: client6, dst: vip6,
            extensions: [.init(type: IPProto.hopByHop, data: []), .fragment(offset: 1448, more: true)]
        ).rawTransport(proto: IPProto.tcp).payload([0x9c, 0x40, 0x00, 0x50] + [UInt8](repeating: 0, count: 20)).bytes(),
        expected: ParsedFields(
            etherType: 0x86dd, network: .ipv6, l3End: 94, l4Offset: 70, l4Protocol: 6, fragment: .subsequent,
            ipv6FragmentHeaderOffset: 62, src: client6, dst: vip6)),
    ParserFixture(
        name: "IPv6 subsequent fragment: the walk stops at the fragment header",
        frame: eth().ipv6(src: client6, dst: vip6, extensions: [.fragment(offset: 8, more: false)])
            .rawTransport(proto: IPProto.destinationOptions).payload([6, 0xff] + [UInt8](repeating: 0, count: 14))
            .bytes(),
        expected: ParsedFields(
            etherType: 0x86dd, network: .ipv6, l3End: 78, l4Offset: 62, l4Protocol: 60, fragment: .subsequent,
            ipv6FragmentHeaderOffset: 54, src: client6, dst: vip6)),
    ParserFixture(
        name: "IPv6 atomic fragment (offset 0, no M): not a fragment, header recorded",
        frame: eth().ipv6(src: client6, dst: vip6, extensions: [.fragment(offset: 0, more: false)])
            .tcp(src: 40000, dst: 443, flags: 0x02).bytes(),
        expected: ParsedFields(
            etherType: 0x86dd, network: .ipv6, l3End: 82, l4Offset: 62, l4Protocol: 6, ipv6FragmentHeaderOffset: 54,
            src: client6, dst: vip6, srcPort: 40000, dstPort: 443, tcpFlags: 0x02)),
    ParserFixture(
        name: "IPv6 routing header + TCP",
        frame: eth().ipv6(
            src: client6, dst: vip6, extensions: [.init(type: IPProto.routing, data: [4, 0, 0, 0, 0, 0])]
        )
        .tcp(src: 40000, dst: 443, flags: 0x02).bytes(),
        expected: ParsedFields(
            etherType: 0x86dd, network: .ipv6, l3End: 82, l4Offset: 62, l4Protocol: 6, src: client6, dst: vip6,
            srcPort: 40000, dstPort: 443, tcpFlags: 0x02)),
    ParserFixture(
        name: "IPv6 long destination options (len 3: 32 bytes) + UDP",
        frame: eth().ipv6(
            src: client6, dst: vip6,
            extensions: [.init(type: IPProto.destinationOptions, data: [1, 28] + [UInt8](repeating: 0, count: 28))]
        ).udp(src: 1, dst: 2).bytes(),
        expected: ParsedFields(
            etherType: 0x86dd, network: .ipv6, l3End: 94, l4Offset: 86, l4Protocol: 17, src: client6, dst: vip6,
            srcPort: 1, dstPort: 2)),
    ParserFixture(
        name: "IPv6 AH (96-bit ICV: 24 bytes) + TCP",
        frame: eth().ipv6(
            src: client6, dst: vip6, extensions: [.init(type: IPProto.ah, data: [UInt8](repeating: 0x11, count: 22))]
        ).tcp(src: 500, dst: 443, flags: 0x10).bytes(),
        expected: ParsedFields(
            etherType: 0x86dd, network: .ipv6, l3End: 98, l4Offset: 78, l4Protocol: 6, src: client6, dst: vip6,
            srcPort: 500, dstPort: 443, tcpFlags: 0x10)),
    ParserFixture(
        name: "IPv6 eight extension headers (the walk limit) + UDP",
        frame: eth().ipv6(
            src: client6, dst: vip6,
            extensions: [PacketBuilder.IPv6Extension](
                repeating: .init(type: IPProto.destinationOptions, data: []), count: 8)
        ).udp(src: 10, dst: 20).bytes(),
        expected: ParsedFields(
            etherType: 0x86dd, network: .ipv6, l3End: 126, l4Offset: 118, l4Protocol: 17, src: client6, dst: vip6,
            srcPort: 10, dstPort: 20)),
    ParserFixture(
        name: "IPv6 ICMPv6 echo request",
        frame: eth().ipv6(src: client6, dst: vip6).icmp(type: ICMPv6Type.echoRequest, rest: 0x0001_0002).payload([
            1, 2, 3, 4,
        ])
        .bytes(),
        expected: ParsedFields(
            etherType: 0x86dd, network: .ipv6, l3End: 66, l4Offset: 54, l4Protocol: 58, src: client6, dst: vip6,
            icmpType: 128)),
    ParserFixture(
        name: "IPv6 ICMPv6 neighbor solicitation",
        frame: eth().ipv6(src: client6, dst: IPAddress("ff02::1:ff00:1")!, hopLimit: 255)
            .icmp(type: ICMPv6Type.neighborSolicitation).payload(vip6.bytes).bytes(),
        expected: ParsedFields(
            etherType: 0x86dd, network: .ipv6, l3End: 78, l4Offset: 54, l4Protocol: 58, src: client6,
            dst: IPAddress("ff02::1:ff00:1")!, icmpType: 135)),
    ParserFixture(
        name: "IPv6 ICMPv6 destination unreachable / port unreachable",
        frame: eth().ipv6(src: client6, dst: vip6).icmp(type: 1, code: 4).payload(Array(quotedTCP6[..<48])).bytes(),
        expected: ParsedFields(
            etherType: 0x86dd, network: .ipv6, l3End: 110, l4Offset: 54, l4Protocol: 58, src: client6, dst: vip6,
            icmpType: 1, icmpCode: 4)),
    ParserFixture(
        name: "IPv6 hop-by-hop then no next header",
        frame: eth().ipv6(src: client6, dst: vip6, extensions: [.init(type: IPProto.hopByHop, data: [])]).bytes(),
        expected: ParsedFields(
            etherType: 0x86dd, network: .ipv6, l3End: 62, l4Offset: 62, l4Protocol: 59, src: client6, dst: vip6)),
    ParserFixture(
        name: "IPv6 ESP: unknown to the walk, no ports",
        frame: eth().ipv6(src: client6, dst: vip6).rawTransport(proto: IPProto.esp).payload([0, 0, 1, 0, 0, 0, 0, 1])
            .bytes(),
        expected: ParsedFields(
            etherType: 0x86dd, network: .ipv6, l3End: 62, l4Offset: 54, l4Protocol: 50, src: client6, dst: vip6)),
    ParserFixture(
        name: "IPv6 UDP with a link trailer",
        frame: eth().ipv6(src: client6, dst: vip6).udp(src: 1000, dst: 2000).trailer([0xde, 0xad]).bytes(),
        expected: ParsedFields(
            etherType: 0x86dd, network: .ipv6, l3End: 62, l4Offset: 54, l4Protocol: 17, src: client6, dst: vip6,
            srcPort: 1000, dstPort: 2000)),

    // MARK: Not IP
    ParserFixture(
        name: "ARP request",
        frame: eth().arp(op: 1, senderMAC: clientMAC, senderIP: client4, targetIP: vip4).bytes(),
        expected: ParsedFields(etherType: 0x0806, network: .arp, l3End: 42, l4Offset: 42)),
    ParserFixture(
        name: "ARP reply padded to 60 bytes",
        frame: eth().arp(op: 2, senderMAC: directorMAC, senderIP: vip4, targetMAC: clientMAC, targetIP: client4)
            .trailer([UInt8](repeating: 0, count: 18)).bytes(),
        expected: ParsedFields(etherType: 0x0806, network: .arp, l3End: 42, l4Offset: 42)),
    ParserFixture(
        name: "802.1Q tagged ARP",
        frame: eth(vlan: 7).arp(op: 1, senderMAC: clientMAC, senderIP: client4, targetIP: vip4).bytes(),
        expected: ParsedFields(
            etherType: 0x0806, hasVLAN: true, vlanTCI: 7, network: .arp, l3Offset: 18, l3End: 46, l4Offset: 46)),
    ParserFixture(
        name: "Unknown EtherType (0x88b5)",
        frame: eth().payload([1, 2, 3, 4, 5]).bytes(),
        expected: ParsedFields(etherType: 0x88b5, network: .other, l3End: 19, l4Offset: 19)),
    ParserFixture(
        name: "Unknown EtherType, header only",
        frame: hex("020000000002 020000000001 88cc"),
        expected: ParsedFields(etherType: 0x88cc, network: .other, l3End: 14, l4Offset: 14)),
    ParserFixture(
        name: "802.1Q tagged unknown EtherType",
        frame: eth(vlan: 0x0fff).payload([9, 9]).bytes(),
        expected: ParsedFields(
            etherType: 0x88b5, hasVLAN: true, vlanTCI: 0x0fff, network: .other, l3Offset: 18, l3End: 20, l4Offset: 20)),
    ParserFixture(
        name: "802.1ad outer tag (0x88a8) over IPv4: one tag is walked",
        frame: patched(
            eth(vlan: 0x0064).ipv4(src: client4, dst: vip4).udp(src: 1, dst: 2).bytes(), at: 12, [0x88, 0xa8]),
        expected: ParsedFields(
            etherType: 0x0800, hasVLAN: true, vlanTCI: 0x64, network: .ipv4, l3Offset: 18, l3End: 46, l4Offset: 38,
            l4Protocol: 17, src: client4, dst: vip4, srcPort: 1, dstPort: 2)),
    ParserFixture(
        name: "Q-in-Q (0x88a8 then 0x8100): only the outer tag is walked, the inner TPID is the EtherType",
        frame: hex("020000000002 020000000001 88a8 0064 8100 00c8 0800")
            + PacketBuilder().ipv4(src: client4, dst: vip4).udp(src: 1, dst: 2).bytes(),
        expected: ParsedFields(
            etherType: 0x8100, hasVLAN: true, vlanTCI: 0x64, network: .other, l3Offset: 18, l3End: 50, l4Offset: 50)),
]

@Suite struct PacketParserTests {
    @Test(arguments: parserFixtures)
    func parsesFixture(_ fixture: ParserFixture) throws {
        let result = parseFrame(fixture.frame)
        let info = try #require(result.info, "\(result)")
        #expect(ParsedFields(info) == fixture.expected)
        #expect(info.ipLength == fixture.expected.l3End - fixture.expected.l3Offset)
        #expect(info.l4Length == fixture.expected.l3End - fixture.expected.l4Offset)
        #expect(info.isIPv4 == (fixture.expected.network == .ipv4))
        #expect(info.isIP == (fixture.expected.network == .ipv4 || fixture.expected.network == .ipv6))
    }

    @Test func fixtureNamesAreUnique() {
        #expect(Set(parserFixtures.map(\.name)).count == parserFixtures.count)
    }

    /// All entry points agree, and the parser does not write to the frame.
    @Test(arguments: parserFixtures)
    func pointerAndBufferEntryPointsAgree(_ fixture: ParserFixture) throws {
        let after = try mutated(fixture.frame) { p, n in
            let viaPointer = try #require(PacketParser.parse(p, length: n).info)
            let viaBuffer = try #require(PacketParser.parse(UnsafeMutableRawBufferPointer(start: p, count: n)).info)
            #expect(ParsedFields(viaPointer) == ParsedFields(viaBuffer))
            var viaInto = PacketInfo()
            #expect(PacketParser.parse(p, length: n, into: &viaInto) == nil)
            #expect(ParsedFields(viaInto) == ParsedFields(viaPointer))
        }
        #expect(after == fixture.frame)
    }

    @Test func emptyBufferIsTruncatedEthernet() {
        #expect(PacketParser.parse(UnsafeMutableRawBufferPointer(start: nil, count: 0)).reason == .truncatedEthernet)
    }

    /// `parseIP` works on a bare IP packet too (offset 0, EtherType preset), as tunnels need.
    @Test func parseIPOnBareIPv4AndIPv6() {
        let v4 = PacketBuilder().ipv4(src: client4, dst: vip4).tcp(src: 1, dst: 2, flags: 2).bytes()
        withFrame(v4) { p, n in
            var info = PacketInfo()
            info.etherType = EtherType.ipv4
            #expect(PacketParser.parseIP(p, offset: 0, end: n, into: &info) == nil)
            #expect(info.l3End == 40)
            #expect(info.l4Offset == 20)
            #expect(info.srcPort == 1 && info.dstPort == 2)
            // Read as IPv6, the 40-byte packet is long enough and refused by its version nibble.
            var wrong = PacketInfo()
            wrong.etherType = EtherType.ipv6
            #expect(PacketParser.parseIP(p, offset: 0, end: n, into: &wrong) == .badIPVersion)
            // With less than an IPv6 header, it is truncated first.
            #expect(PacketParser.parseIP(p, offset: 1, end: n, into: &wrong) == .truncatedIPv6)
        }
        let v6 = PacketBuilder().ipv6(src: client6, dst: vip6).udp(src: 3, dst: 4).bytes()
        withFrame(v6) { p, n in
            var info = PacketInfo()
            info.etherType = EtherType.ipv6
            #expect(PacketParser.parseIP(p, offset: 0, end: n, into: &info) == nil)
            #expect(info.l3End == 48 && info.l4Offset == 40 && info.srcPort == 3 && info.dstPort == 4)
            #expect(info.src == client6 && info.dst == vip6)
        }
    }

    @Test func maxExtensionHeadersIsEight() {
        #expect(PacketParser.maxExtensionHeaders == 8)
    }

    /// Every protocol number as the IPv4 payload: known ones need their header, others pass with no ports.
    @Test func everyIPv4ProtocolNumber() throws {
        for proto in 0...255 {
            let frame = eth().ipv4(src: client4, dst: vip4).rawTransport(proto: UInt8(proto))
                .payload([0x12, 0x34, 0x56, 0x78, 0x50, 0x00, 0x00, 0x00]).bytes()
            let result = parseFrame(frame)
            switch UInt8(proto) {
            case IPProto.tcp:
                #expect(result.reason == .truncatedTCP)
            case IPProto.udp:
                #expect(result.reason == .badUDPLength)  // length field 0x5678 > 8
            case IPProto.icmp, IPProto.icmpv6:
                let info = try #require(result.info)
                #expect(info.icmpType == 0x12 && info.icmpCode == 0x34)
            default:
                let info = try #require(result.info, "proto \(proto)")
                #expect(info.l4Protocol == UInt8(proto))
                #expect(info.srcPort == 0 && info.dstPort == 0 && info.icmpType == 0)
            }
        }
    }
}
