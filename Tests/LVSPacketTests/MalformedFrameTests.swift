import LVSPacket
import Testing

struct MalformedFixture: Sendable, CustomTestStringConvertible {
    var name: String
    var frame: [UInt8]
    var reason: MalformedReason
    var testDescription: String { "\(name) -> \(reason)" }
}

private func eth(vlan: UInt16? = nil) -> PacketBuilder {
    PacketBuilder().ethernet(src: clientMAC, dst: directorMAC, vlan: vlan)
}

private let v4TCP = eth().ipv4(src: client4, dst: vip4).tcp(src: 40000, dst: 80, flags: TCPFlag.syn)
private let v6UDP = eth().ipv6(src: client6, dst: vip6).udp(src: 5000, dst: 53).payload([1, 2, 3, 4])
private let taggedV4 = eth(vlan: 100).ipv4(src: client4, dst: vip4).udp(src: 1, dst: 2)
private let arpRequest = eth().arp(op: 1, senderMAC: clientMAC, senderIP: client4, targetIP: vip4)
private let destOpts = PacketBuilder.IPv6Extension(type: IPProto.destinationOptions, data: [])

private func prefix(_ b: PacketBuilder, _ n: Int) -> [UInt8] { Array(b.bytes()[..<n]) }

let malformedFixtures: [MalformedFixture] = [
    // Ethernet and 802.1Q
    MalformedFixture(name: "empty frame", frame: [], reason: .truncatedEthernet),
    MalformedFixture(name: "1 byte", frame: [0x02], reason: .truncatedEthernet),
    MalformedFixture(name: "13 bytes", frame: prefix(v4TCP, 13), reason: .truncatedEthernet),
    MalformedFixture(
        name: "tagged frame cut before its TPID (12 bytes)", frame: prefix(taggedV4, 12), reason: .truncatedEthernet),
    MalformedFixture(name: "tagged frame of 14 bytes", frame: prefix(taggedV4, 14), reason: .truncatedVLAN),
    MalformedFixture(name: "tagged frame of 16 bytes", frame: prefix(taggedV4, 16), reason: .truncatedVLAN),
    MalformedFixture(name: "tagged frame of 17 bytes", frame: prefix(taggedV4, 17), reason: .truncatedVLAN),
    MalformedFixture(
        name: "802.1ad-tagged frame of 16 bytes", frame: patched(prefix(taggedV4, 16), at: 12, [0x88, 0xa8]),
        reason: .truncatedVLAN),
    // ARP
    MalformedFixture(name: "ARP of 27 bytes", frame: prefix(arpRequest, 41), reason: .truncatedARP),
    MalformedFixture(name: "ARP with no body", frame: prefix(arpRequest, 14), reason: .truncatedARP),
    MalformedFixture(
        name: "tagged ARP of 27 bytes",
        frame: prefix(eth(vlan: 3).arp(op: 1, senderMAC: clientMAC, senderIP: client4, targetIP: vip4), 45),
        reason: .truncatedARP),
    // IPv4 header
    MalformedFixture(name: "IPv4 EtherType, no IP bytes", frame: prefix(v4TCP, 14), reason: .truncatedIPv4),
    MalformedFixture(name: "IPv4 header of 19 bytes", frame: prefix(v4TCP, 33), reason: .truncatedIPv4),
    MalformedFixture(name: "tagged IPv4 header of 19 bytes", frame: prefix(taggedV4, 37), reason: .truncatedIPv4),
    MalformedFixture(
        name: "IPv4 EtherType carrying IPv6", frame: patched(v6UDP.bytes(), at: 12, [0x08, 0x00]), reason: .badIPVersion
    ),
    MalformedFixture(
        name: "IPv6 EtherType carrying IPv4 (40 bytes)", frame: patched(v4TCP.bytes(), at: 12, [0x86, 0xdd]),
        reason: .badIPVersion),
    MalformedFixture(
        name: "IPv4 version nibble 0", frame: patched(v4TCP.bytes(), at: 14, [0x05]), reason: .badIPVersion),
    MalformedFixture(
        name: "IPv4 version nibble 15", frame: patched(v4TCP.bytes(), at: 14, [0xf5]), reason: .badIPVersion),
    MalformedFixture(name: "IHL 4", frame: v4TCP.ihl(4).bytes(), reason: .badIPv4HeaderLength),
    MalformedFixture(name: "IHL 0", frame: v4TCP.ihl(0).bytes(), reason: .badIPv4HeaderLength),
    MalformedFixture(
        name: "IHL 15 beyond a 40-byte packet", frame: v4TCP.ihl(15).bytes(), reason: .badIPv4HeaderLength),
    MalformedFixture(
        name: "IHL 6 with only 20 bytes in the frame",
        frame: eth().ipv4(src: client4, dst: vip4).rawTransport(proto: 253).ihl(6).bytes(), reason: .badIPv4HeaderLength
    ),
    MalformedFixture(
        name: "total length 19 (< IHL 20)", frame: v4TCP.ipLengthField(19).bytes(), reason: .badIPv4TotalLength),
    MalformedFixture(name: "total length 0", frame: v4TCP.ipLengthField(0).bytes(), reason: .badIPv4TotalLength),
    MalformedFixture(
        name: "total length 23 with IHL 6",
        frame: eth().ipv4(src: client4, dst: vip4, options: [1, 1, 1, 0]).udp(src: 1, dst: 2).ipLengthField(23).bytes(),
        reason: .badIPv4TotalLength),
    MalformedFixture(
        name: "total length one beyond the frame", frame: v4TCP.ipLengthField(41).bytes(), reason: .badIPv4TotalLength),
    MalformedFixture(
        name: "total length 65535", frame: v4TCP.ipLengthField(65535).bytes(), reason: .badIPv4TotalLength),
    MalformedFixture(
        name: "total length beyond the frame despite a trailer",
        frame: v4TCP.trailer([0, 0, 0]).ipLengthField(44).bytes(), reason: .badIPv4TotalLength),
    // IPv6 header and extension headers
    MalformedFixture(name: "IPv6 EtherType, no IP bytes", frame: prefix(v6UDP, 14), reason: .truncatedIPv6),
    MalformedFixture(name: "IPv6 header of 39 bytes", frame: prefix(v6UDP, 53), reason: .truncatedIPv6),
    MalformedFixture(
        name: "IPv6 EtherType carrying a 20-byte IPv4 packet",
        frame: patched(eth().ipv4(src: client4, dst: vip4).rawTransport(proto: 253).bytes(), at: 12, [0x86, 0xdd]),
        reason: .truncatedIPv6),
    MalformedFixture(
        name: "IPv6 version nibble 4", frame: patched(v6UDP.bytes(), at: 14, [0x40]), reason: .badIPVersion),
    MalformedFixture(
        name: "IPv6 payload length one beyond the frame", frame: v6UDP.ipLengthField(13).bytes(),
        reason: .badIPv6PayloadLength),
    MalformedFixture(
        name: "IPv6 payload length 65535", frame: v6UDP.ipLengthField(65535).bytes(), reason: .badIPv6PayloadLength),
    MalformedFixture(
        name: "hop-by-hop with 4 bytes left",
        frame: eth().ipv6(src: client6, dst: vip6).rawTransport(proto: IPProto.hopByHop).payload([59, 0, 0, 0]).bytes(),
        reason: .truncatedExtensionHeader),
    MalformedFixture(
        name: "hop-by-hop claiming 16 bytes with 8 present",
        frame: patched(
            eth().ipv6(src: client6, dst: vip6, extensions: [.init(type: IPProto.hopByHop, data: [])]).bytes(), at: 55,
            [1]),
        reason: .truncatedExtensionHeader),
    MalformedFixture(
        name: "destination options of 2048 bytes",
        frame: eth().ipv6(src: client6, dst: vip6).rawTransport(proto: IPProto.destinationOptions)
            .payload([17, 255] + [UInt8](repeating: 0, count: 30)).bytes(),
        reason: .truncatedExtensionHeader),
    MalformedFixture(
        name: "routing header cut by the payload length, though the frame has a trailer",
        frame: eth().ipv6(src: client6, dst: vip6).rawTransport(proto: IPProto.routing)
            .trailer([59, 0, 0, 0, 0, 0, 0, 0]).bytes(),
        reason: .truncatedExtensionHeader),
    MalformedFixture(
        name: "fragment header of 6 bytes",
        frame: eth().ipv6(src: client6, dst: vip6).rawTransport(proto: IPProto.fragment).payload([17, 0, 0, 1, 0, 0])
            .bytes(),
        reason: .truncatedExtensionHeader),
    MalformedFixture(
        name: "AH claiming 24 bytes with 8 present",
        frame: eth().ipv6(src: client6, dst: vip6).rawTransport(proto: IPProto.ah).payload([6, 4, 0, 0, 0, 0, 0, 1])
            .bytes(),
        reason: .truncatedExtensionHeader),
    MalformedFixture(
        name: "second extension header truncated",
        frame: eth().ipv6(src: client6, dst: vip6, extensions: [destOpts]).rawTransport(proto: IPProto.routing)
            .payload([6, 0, 0, 0]).bytes(),
        reason: .truncatedExtensionHeader),
    MalformedFixture(
        name: "nine destination-options headers",
        frame: eth().ipv6(
            src: client6, dst: vip6, extensions: [PacketBuilder.IPv6Extension](repeating: destOpts, count: 9)
        )
        .udp(src: 1, dst: 2).bytes(),
        reason: .tooManyExtensionHeaders),
    MalformedFixture(
        name: "forty mixed extension headers",
        frame: eth().ipv6(
            src: client6, dst: vip6,
            extensions: (0..<40).map {
                [
                    destOpts, .init(type: IPProto.hopByHop, data: []),
                    .init(type: IPProto.routing, data: [0, 0, 0, 0, 0, 0]),
                ][$0 % 3]
            }
        ).tcp(src: 1, dst: 2, flags: 2).bytes(),
        reason: .tooManyExtensionHeaders),
    MalformedFixture(
        name: "nine headers where the ninth would also be truncated (limit checked first)",
        frame: eth().ipv6(
            src: client6, dst: vip6, extensions: [PacketBuilder.IPv6Extension](repeating: destOpts, count: 8)
        )
        .rawTransport(proto: IPProto.destinationOptions).bytes(),
        reason: .tooManyExtensionHeaders),
    // TCP
    MalformedFixture(
        name: "TCP of 19 bytes (IP length)", frame: v4TCP.ipLengthField(39).bytes(), reason: .truncatedTCP),
    MalformedFixture(
        name: "TCP of 0 bytes",
        frame: eth().ipv4(src: client4, dst: vip4).rawTransport(proto: IPProto.tcp).bytes(), reason: .truncatedTCP),
    MalformedFixture(
        name: "first fragment with 12 bytes of TCP",
        frame: eth().ipv4(src: client4, dst: vip4, dontFragment: false, moreFragments: true).rawTransport(
            proto: IPProto.tcp
        )
        .payload([UInt8](repeating: 0x50, count: 12)).bytes(),
        reason: .truncatedTCP),
    MalformedFixture(
        name: "IPv6 TCP of 19 bytes",
        frame: eth().ipv6(src: client6, dst: vip6).rawTransport(proto: IPProto.tcp).payload(
            [UInt8](repeating: 0x50, count: 19)
        )
        .bytes(),
        reason: .truncatedTCP),
    MalformedFixture(name: "TCP data offset 4", frame: v4TCP.tcpDataOffset(4).bytes(), reason: .badTCPDataOffset),
    MalformedFixture(name: "TCP data offset 0", frame: v4TCP.tcpDataOffset(0).bytes(), reason: .badTCPDataOffset),
    MalformedFixture(
        name: "TCP data offset 6 without options", frame: v4TCP.tcpDataOffset(6).bytes(), reason: .badTCPDataOffset),
    MalformedFixture(
        name: "TCP data offset 15 beyond a 24-byte segment",
        frame: v4TCP.payload([1, 2, 3, 4]).tcpDataOffset(15).bytes(), reason: .badTCPDataOffset),
    MalformedFixture(
        name: "TCP data offset beyond the IP length (trailer does not count)",
        frame: v4TCP.tcpDataOffset(6).trailer([0, 0, 0, 0]).bytes(), reason: .badTCPDataOffset),
    MalformedFixture(
        name: "IPv6 TCP data offset 2",
        frame: eth().ipv6(src: client6, dst: vip6).tcp(src: 1, dst: 2, flags: 2).tcpDataOffset(2).bytes(),
        reason: .badTCPDataOffset),
    // UDP
    MalformedFixture(
        name: "UDP of 7 bytes",
        frame: eth().ipv4(src: client4, dst: vip4).rawTransport(proto: IPProto.udp).payload([0, 1, 0, 2, 0, 8, 0])
            .bytes(),
        reason: .truncatedUDP),
    MalformedFixture(
        name: "IPv6 UDP of 0 bytes",
        frame: eth().ipv6(src: client6, dst: vip6).rawTransport(proto: IPProto.udp).bytes(), reason: .truncatedUDP),
    MalformedFixture(
        name: "UDP length 7", frame: eth().ipv4(src: client4, dst: vip4).udp(src: 1, dst: 2).udpLengthField(7).bytes(),
        reason: .badUDPLength),
    MalformedFixture(
        name: "UDP length 0", frame: eth().ipv4(src: client4, dst: vip4).udp(src: 1, dst: 2).udpLengthField(0).bytes(),
        reason: .badUDPLength),
    MalformedFixture(
        name: "UDP length one beyond the datagram",
        frame: eth().ipv4(src: client4, dst: vip4).udp(src: 1, dst: 2).payload([1, 2]).udpLengthField(11).bytes(),
        reason: .badUDPLength),
    MalformedFixture(
        name: "IPv6 UDP length beyond the datagram", frame: v6UDP.udpLengthField(13).bytes(), reason: .badUDPLength),
    MalformedFixture(
        name: "UDP length beyond the datagram in a subsequent-looking but unfragmented packet",
        frame: eth().ipv4(src: client4, dst: vip4, dontFragment: true).udp(src: 1, dst: 2).udpLengthField(1000).bytes(),
        reason: .badUDPLength),
    MalformedFixture(
        name: "IPv6 atomic fragment does not excuse a long UDP length",
        frame: eth().ipv6(src: client6, dst: vip6, extensions: [.fragment(offset: 0, more: false)]).udp(src: 1, dst: 2)
            .udpLengthField(100).bytes(),
        reason: .badUDPLength),
    // ICMP
    MalformedFixture(
        name: "ICMP of 7 bytes",
        frame: eth().ipv4(src: client4, dst: vip4).rawTransport(proto: IPProto.icmp).payload([8, 0, 0, 0, 0, 0, 0])
            .bytes(),
        reason: .truncatedICMP),
    MalformedFixture(
        name: "ICMP of 0 bytes",
        frame: eth().ipv4(src: client4, dst: vip4).rawTransport(proto: IPProto.icmp).bytes(), reason: .truncatedICMP),
    MalformedFixture(
        name: "ICMPv6 of 4 bytes",
        frame: eth().ipv6(src: client6, dst: vip6).rawTransport(proto: IPProto.icmpv6).payload([128, 0, 0, 0]).bytes(),
        reason: .truncatedICMP),
    MalformedFixture(
        name: "ICMPv6 after a hop-by-hop header, 7 bytes",
        frame: eth().ipv6(src: client6, dst: vip6, extensions: [.init(type: IPProto.hopByHop, data: [])])
            .rawTransport(proto: IPProto.icmpv6).payload([135, 0, 0, 0, 0, 0, 0]).bytes(),
        reason: .truncatedICMP),
]

@Suite struct MalformedFrameTests {
    @Test(arguments: malformedFixtures)
    func refusesFixture(_ fixture: MalformedFixture) {
        #expect(parseFrame(fixture.frame).reason == fixture.reason)
        if !fixture.frame.isEmpty {
            var info = PacketInfo()
            #expect(withFrame(fixture.frame) { p, n in PacketParser.parse(p, length: n, into: &info) } == fixture.reason)
        }
    }

    @Test func everyReasonIsProducedByAFixture() {
        let covered = Set(malformedFixtures.map(\.reason))
        for reason in MalformedReason.allCases {
            #expect(covered.contains(reason), "no fixture produces \(reason)")
        }
        #expect(Set(malformedFixtures.map(\.name)).count == malformedFixtures.count)
    }

    @Test func reasonsHaveDistinctDescriptions() {
        let texts = MalformedReason.allCases.map(\.description)
        #expect(texts.allSatisfy { !$0.isEmpty })
        #expect(Set(texts).count == texts.count)
        #expect(Set(MalformedReason.allCases.map(\.rawValue)).count == MalformedReason.allCases.count)
    }

    // MARK: Truncation

    /// The reason for every prefix of a frame follows the layer the cut falls in.
    @Test func truncationReasonsFollowTheLayers() {
        let v4 = v4TCP.payload([1, 2, 3]).bytes()  // 57 bytes: eth 0..<14, IP 14..<34, TCP 34..<57
        for n in 0..<v4.count {
            let expected: MalformedReason = n < 14 ? .truncatedEthernet : n < 34 ? .truncatedIPv4 : .badIPv4TotalLength
            #expect(parseFrame(Array(v4[..<n])).reason == expected, "IPv4 cut at \(n)")
        }
        let v6 = v6UDP.bytes()  // 66 bytes: eth, IPv6 14..<54, UDP 54..<66
        for n in 0..<v6.count {
            let expected: MalformedReason =
                n < 14 ? .truncatedEthernet : n < 54 ? .truncatedIPv6 : .badIPv6PayloadLength
            #expect(parseFrame(Array(v6[..<n])).reason == expected, "IPv6 cut at \(n)")
        }
        let tagged = taggedV4.bytes()  // 46 bytes: eth+tag 0..<18, IP 18..<38, UDP 38..<46
        for n in 0..<tagged.count {
            let expected: MalformedReason =
                n < 14 ? .truncatedEthernet : n < 18 ? .truncatedVLAN : n < 38 ? .truncatedIPv4 : .badIPv4TotalLength
            #expect(parseFrame(Array(tagged[..<n])).reason == expected, "tagged cut at \(n)")
        }
        let arp = arpRequest.bytes()
        for n in 0..<arp.count {
            #expect(
                parseFrame(Array(arp[..<n])).reason == (n < 14 ? .truncatedEthernet : .truncatedARP), "ARP cut at \(n)")
        }
    }

    /// Cutting a valid frame anywhere before the end of its IP packet makes it malformed; cutting
    /// only the trailer does not change the result.
    @Test(arguments: fuzzSeeds.indices)
    func everyTruncationOfAValidFrame(seedIndex: Int) throws {
        let frame = fuzzSeeds[seedIndex]
        let full = try #require(parseFrame(frame).info)
        for n in 0..<frame.count {
            let result = parseFrame(Array(frame[..<n]))
            if full.network == .other {
                #expect((result.info != nil) == (n >= full.l3Offset), "cut at \(n)")
                continue
            }
            if n < full.l3End {
                #expect(result.info == nil, "cut at \(n) of \(frame.count) parsed although l3End is \(full.l3End)")
            } else {
                let info = try #require(result.info, "cut at \(n) is only trailer")
                #expect(ParsedFields(info) == ParsedFields(full))
            }
        }
    }

    // MARK: Fuzzing

    /// Random mutations of valid frames never crash the parser, never make it write, and every
    /// accepted frame satisfies the offset invariants the engine relies on.
    @Test func randomMutationsKeepInvariants() {
        var g = SplitMix64(seed: 0x5eed_f00d)
        let interesting: [UInt8] = [
            0x00, 0x01, 0x02, 0x04, 0x05, 0x06, 0x08, 0x0f, 0x11, 0x20, 0x2b, 0x2c, 0x33, 0x3a, 0x3b, 0x3c, 0x40, 0x45,
            0x46, 0x4f, 0x50, 0x60, 0x7f, 0x80, 0x81, 0x86, 0x88, 0xa8, 0xdd, 0xf0, 0xfe, 0xff,
        ]
        var failures: [String] = []
        var okCount = 0
        var reasons: Set<MalformedReason> = []
        for iteration in 0..<20_000 {
            var frame = fuzzSeeds[Int.random(in: 0..<fuzzSeeds.count, using: &g)]
            for _ in 0..<Int.random(in: 1...4, using: &g) {
                guard !frame.isEmpty else { break }
                switch Int.random(in: 0..<6, using: &g) {
                case 0:  // headers are where the parser looks
                    frame[Int.random(in: 0..<min(frame.count, 96), using: &g)] = UInt8.random(in: 0...255, using: &g)
                case 1:
                    frame[Int.random(in: 0..<frame.count, using: &g)] = interesting.randomElement(using: &g)!
                case 2:
                    frame[Int.random(in: 0..<frame.count, using: &g)] ^= UInt8(1) << UInt8.random(in: 0...7, using: &g)
                case 3:
                    frame.removeLast(Int.random(in: 0...min(frame.count, 24), using: &g))
                case 4:
                    frame += g.bytes(Int.random(in: 1...16, using: &g))
                default:  // a plausible length/offset byte in a header word
                    guard frame.count > 14 else { break }
                    let at = Int.random(in: 12..<min(frame.count, 140), using: &g) & ~1
                    if at + 1 < frame.count {
                        frame[at] = 0
                        frame[at + 1] = interesting.randomElement(using: &g)!
                    }
                }
            }
            let (result, after) = withExactBuffer(frame) { buffer in (PacketParser.parse(buffer), Array(buffer)) }
            if after != frame { failures.append("#\(iteration): parser wrote to the frame") }
            guard let info = result.info else {
                reasons.insert(result.reason!)
                continue
            }
            okCount += 1
            if let problem = invariantViolation(info, frame) {
                failures.append("#\(iteration): \(problem): \(ParsedFields(info)) frame \(frame)")
            }
            if failures.count > 10 { break }
        }
        #expect(failures.isEmpty, "\(failures.prefix(5).joined(separator: "\n"))")
        // The mutations must reach deep enough to be worth running: both outcomes, many reasons.
        #expect(okCount > 2000)
        #expect(20_000 - okCount > 2000)
        #expect(reasons.count >= 12, "\(reasons)")
    }

    func invariantViolation(_ i: PacketInfo, _ frame: [UInt8]) -> String? {
        guard 0 <= i.l3Offset, i.l3Offset <= i.l4Offset, i.l4Offset <= i.l3End, i.l3End <= frame.count else {
            return "offsets out of order"
        }
        guard i.l3Offset == (i.hasVLAN ? 18 : 14) else { return "l3Offset does not match the tag" }
        guard i.etherType == UInt16(frame[i.l3Offset - 2]) << 8 | UInt16(frame[i.l3Offset - 1]) else {
            return "EtherType is not the one before l3Offset"
        }
        switch i.network {
        case .arp:
            guard i.l3End == i.l3Offset + 28 else { return "ARP length" }
            return nil
        case .other:
            return i.l3End == frame.count ? nil : "other: l3End is not the frame end"
        case .ipv4:
            guard i.l4Offset - i.l3Offset >= 20, i.l4Offset - i.l3Offset == Int(frame[i.l3Offset] & 0x0f) * 4 else {
                return "IPv4 header length"
            }
            guard i.src == IPAddress(bytes: Array(frame[(i.l3Offset + 12)..<(i.l3Offset + 16)])) else {
                return "IPv4 source"
            }
        case .ipv6:
            guard i.l4Offset - i.l3Offset >= 40 else { return "IPv6 header length" }
            guard i.dst == IPAddress(bytes: Array(frame[(i.l3Offset + 24)..<(i.l3Offset + 40)])) else {
                return "IPv6 destination"
            }
            if i.ipv6FragmentHeaderOffset != 0 {
                guard i.ipv6FragmentHeaderOffset >= i.l3Offset + 40, i.ipv6FragmentHeaderOffset + 8 <= i.l4Offset else {
                    return "fragment header offset"
                }
            }
        }
        if i.fragment == .subsequent {
            return i.srcPort == 0 && i.dstPort == 0 && i.tcpFlags == 0 ? nil : "ports on a subsequent fragment"
        }
        let word = { (at: Int) in UInt16(frame[at]) << 8 | UInt16(frame[at + 1]) }
        switch i.l4Protocol {
        case IPProto.tcp:
            guard i.l4Length >= 20, i.l4Length >= Int(frame[i.l4Offset + 12] >> 4) * 4 else { return "TCP header" }
            guard i.srcPort == word(i.l4Offset), i.dstPort == word(i.l4Offset + 2) else { return "TCP ports" }
        case IPProto.udp:
            guard i.l4Length >= 8 else { return "UDP header" }
            guard i.fragment == .first || Int(word(i.l4Offset + 4)) <= i.l4Length else { return "UDP length" }
            guard i.srcPort == word(i.l4Offset), i.dstPort == word(i.l4Offset + 2) else { return "UDP ports" }
        case IPProto.icmp, IPProto.icmpv6:
            guard i.l4Length >= 8 else { return "ICMP header" }
            guard i.icmpType == frame[i.l4Offset], i.icmpCode == frame[i.l4Offset + 1] else { return "ICMP type" }
        default:
            guard i.srcPort == 0, i.dstPort == 0 else { return "ports on a portless protocol" }
        }
        return nil
    }
}

/// Valid frames the truncation and mutation tests start from.
let fuzzSeeds: [[UInt8]] = [
    eth().ipv4(src: client4, dst: vip4).tcp(
        src: 40000, dst: 80, flags: TCPFlag.syn,
        options: [2, 4, 5, 180, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7]
    ).bytes(),
    eth(vlan: 0x2064).ipv4(src: client4, dst: vip4, options: [0x94, 4, 0, 0]).udp(src: 5353, dst: 53).payload("query")
        .trailer([0, 0, 0, 0]).bytes(),
    eth().ipv4(src: client4, dst: vip4, dontFragment: false, moreFragments: true).udp(src: 1, dst: 2)
        .payload([UInt8](repeating: 1, count: 24)).udpLengthField(1000).bytes(),
    eth().ipv4(src: client4, dst: vip4, dontFragment: false, fragmentOffset: 1480).rawTransport(proto: IPProto.tcp)
        .payload([UInt8](repeating: 2, count: 16)).bytes(),
    eth().ipv4(src: real4, dst: vip4).icmp(type: 3, code: 3)
        .payload(
            Array(
                PacketBuilder().ipv4(src: vip4, dst: client4).udp(src: 53, dst: 9).payload([1, 2, 3, 4]).bytes()[..<28])
        )
        .bytes(),
    eth(vlan: 5).ipv6(
        src: client6, dst: vip6,
        extensions: [
            .init(type: IPProto.hopByHop, data: [5, 2, 0, 0, 1, 0]),
            .init(type: IPProto.destinationOptions, data: [1, 8, 0, 0, 0, 0, 0, 0, 0, 0]),
            .fragment(offset: 0, more: true),
        ]
    ).udp(src: 5000, dst: 53).payload([UInt8](repeating: 3, count: 12)).bytes(),
    eth().ipv6(src: client6, dst: vip6, extensions: [.init(type: IPProto.routing, data: [0, 0, 0, 0, 0, 0])])
        .tcp(src: 40000, dst: 443, flags: 0x18).payload("GET / HTTP/1.1").bytes(),
    eth().ipv6(src: client6, dst: vip6, extensions: [.init(type: IPProto.ah, data: [UInt8](repeating: 0, count: 14))])
        .icmp(type: 128, rest: 7).payload([1, 2, 3]).trailer([0, 0]).bytes(),
    eth().ipv6(src: client6, dst: vip6, extensions: [.fragment(offset: 64, more: true)]).rawTransport(
        proto: IPProto.udp
    )
    .payload([UInt8](repeating: 4, count: 16)).bytes(),
    eth().arp(op: 1, senderMAC: clientMAC, senderIP: client4, targetIP: vip4).trailer([UInt8](repeating: 0, count: 18))
        .bytes(),
    eth().payload([0xaa, 0xbb, 0xcc]).bytes(),
]
