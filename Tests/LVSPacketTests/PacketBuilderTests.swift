import LVSPacket
import Testing

@Suite struct PacketBuilderTests {
    @Test func ipv4HeaderMatchesKnownVector() {
        // The header of the classic example 45 00 00 73 00 00 40 00 40 11 b8 61 c0 a8 00 01 c0 a8 00 c7:
        // 115 bytes of UDP from 192.168.0.1 to 192.168.0.199, DF, TTL 64, id 0.
        let packet = PacketBuilder().ipv4(
            src: IPAddress("192.168.0.1")!, dst: IPAddress("192.168.0.199")!, ttl: 64, id: 0
        )
        .udp(src: 1, dst: 2).payload([UInt8](repeating: 0, count: 115 - 28)).bytes()
        #expect(packet.count == 115)
        #expect(Array(packet[..<20]) == hex("45 00 00 73 00 00 40 00 40 11 b8 61 c0 a8 00 01 c0 a8 00 c7"))
    }

    @Test func ipv4TCPFrameLayout() {
        let frame = PacketBuilder().ethernet(src: clientMAC, dst: directorMAC).ipv4(
            src: "192.0.2.10", dst: "198.51.100.1", ttl: 63
        )
        .tcp(src: 40000, dst: 80, flags: TCPFlag.syn, seq: 0x0102_0304, ack: 0, window: 0x1000).bytes()
        let expected = hex(
            """
            02 00 00 00 00 02  02 00 00 00 00 01  08 00
            45 00 00 28 12 34 40 00 3f 06 00 00 c0 00 02 0a c6 33 64 01
            9c 40 00 50 01 02 03 04 00 00 00 00 50 02 10 00 00 00 00 00
            """)
        #expect(frame.count == expected.count)
        // Equal except the two checksums, which are checked by verification.
        var masked = frame
        for at in [24, 25, 50, 51] { masked[at] = 0 }
        #expect(masked == expected)
        #expect(referenceSum(Array(frame[14..<34])) == 0xffff)
        #expect(l4ChecksumVerifies(Array(frame[34...]), src: client4, dst: vip4, proto: IPProto.tcp))
    }

    @Test func bareIPPacketsAndFamilySelection() {
        let v4 = PacketBuilder().ip(src: client4, dst: vip4).udp(src: 1, dst: 2).bytes()
        #expect(v4.count == 28 && v4[0] == 0x45 && v4[9] == IPProto.udp)
        let v6 = PacketBuilder().ip(src: client6, dst: vip6, ttl: 7).udp(src: 1, dst: 2).bytes()
        #expect(v6.count == 48 && v6[0] == 0x60 && v6[6] == IPProto.udp && v6[7] == 7)
        #expect(Array(v6[4..<6]) == [0, 8])
        #expect(Array(v6[8..<24]) == client6.bytes && Array(v6[24..<40]) == vip6.bytes)
        let v6text = PacketBuilder().ipv6(src: "2001:db8:1::10", dst: "2001:db8:100::1", hopLimit: 9).udp(
            src: 1, dst: 2
        ).bytes()
        #expect(v6text == PacketBuilder().ipv6(src: client6, dst: vip6, hopLimit: 9).udp(src: 1, dst: 2).bytes())
    }

    @Test func fragmentFields() {
        let p = PacketBuilder().ipv4(
            src: client4, dst: vip4, id: 0xabcd, dontFragment: false, moreFragments: true, fragmentOffset: 1480
        )
        .rawTransport(proto: IPProto.udp).payload([1]).bytes()
        #expect(Array(p[4..<8]) == [0xab, 0xcd, 0x20 | 0x00, 185])  // MF, offset 1480/8 = 185
        let last = PacketBuilder().ipv4(src: client4, dst: vip4, dontFragment: false, fragmentOffset: 65528)
            .rawTransport(proto: IPProto.udp).bytes()
        #expect(Array(last[6..<8]) == [0x1f, 0xff])
    }

    @Test func ipv6ExtensionHeaderLayout() {
        let packet = PacketBuilder().ipv6(
            src: client6, dst: vip6,
            extensions: [
                .init(type: IPProto.hopByHop, data: [5, 2, 0, 0]),  // padded to 6
                .init(type: IPProto.destinationOptions, data: [UInt8](repeating: 1, count: 7)),  // padded to 14
                .fragment(offset: 2048, more: true, id: 0x0102_0304),
                .init(type: IPProto.ah, data: [UInt8](repeating: 2, count: 22)),
            ]
        ).tcp(src: 1, dst: 2, flags: 2).bytes()
        #expect(packet[6] == IPProto.hopByHop)
        // Hop-by-hop: next = destination options, length 0 (8 bytes), padded with zeros.
        #expect(Array(packet[40..<48]) == [IPProto.destinationOptions, 0, 5, 2, 0, 0, 0, 0])
        // Destination options: next = fragment, length 1 (16 bytes).
        #expect(Array(packet[48..<50]) == [IPProto.fragment, 1])
        #expect(Array(packet[50..<57]) == [1, 1, 1, 1, 1, 1, 1] && Array(packet[57..<64]) == [0, 0, 0, 0, 0, 0, 0])
        // Fragment: next = AH, reserved, offset 2048 (256 << 3) with M, identification.
        #expect(Array(packet[64..<72]) == [IPProto.ah, 0, 0x08, 0x01, 1, 2, 3, 4])
        // AH: next = TCP, payload length in 4-octet units minus 2: 24 bytes -> 4.
        #expect(Array(packet[72..<74]) == [IPProto.tcp, 4])
        #expect(Array(packet[4..<6]) == [0, UInt8(8 + 16 + 8 + 24 + 20)])
        #expect(packet.count == 40 + 8 + 16 + 8 + 24 + 20)
        #expect(l4ChecksumVerifies(Array(packet[96...]), src: client6, dst: vip6, proto: IPProto.tcp))
    }

    @Test func checksumsVerify() {
        let cases: [(String, [UInt8], Int, IPAddress, IPAddress, UInt8, Bool)] = [
            (
                "v4 tcp",
                PacketBuilder().ipv4(src: client4, dst: vip4).tcp(src: 1, dst: 2, flags: 2, options: [2, 4, 5, 180])
                    .payload("abc").bytes(), 20, client4, vip4, IPProto.tcp, true
            ),
            (
                "v4 udp", PacketBuilder().ipv4(src: client4, dst: vip4).udp(src: 1, dst: 2).payload("abcde").bytes(),
                20, client4, vip4, IPProto.udp, true
            ),
            (
                "v6 tcp",
                PacketBuilder().ipv6(src: client6, dst: vip6).tcp(src: 1, dst: 2, flags: 2).payload("a").bytes(), 40,
                client6, vip6, IPProto.tcp, true
            ),
            (
                "v6 udp", PacketBuilder().ipv6(src: client6, dst: vip6).udp(src: 1, dst: 2).payload("abcdefg").bytes(),
                40, client6, vip6, IPProto.udp, true
            ),
            (
                "v6 icmp",
                PacketBuilder().ipv6(src: client6, dst: vip6).icmp(type: 128, rest: 5).payload("ping").bytes(), 40,
                client6, vip6, IPProto.icmpv6, true
            ),
            // ICMPv4 covers no pseudo-header.
            (
                "v4 icmp",
                PacketBuilder().ipv4(src: client4, dst: vip4).icmp(type: 8, rest: 5).payload("ping!").bytes(), 20,
                client4, vip4, IPProto.icmp, false
            ),
        ]
        for (name, packet, l4, src, dst, proto, pseudo) in cases {
            let segment = Array(packet[l4...])
            if pseudo {
                #expect(l4ChecksumVerifies(segment, src: src, dst: dst, proto: proto), "\(name)")
                #expect(referenceSum(segment) != 0xffff || segment.isEmpty, "\(name): must depend on the pseudo-header")
            } else {
                #expect(referenceSum(segment) == 0xffff, "\(name)")
            }
        }
    }

    @Test func partialAndLiteralChecksumFill() {
        let partial = PacketBuilder().ipv4(src: client4, dst: vip4).tcp(src: 1, dst: 2, flags: 2).payload("xyz")
            .l4Checksum(.partial).bytes()
        let pseudo = Checksum.pseudoHeader(src: client4, dst: vip4, protocol: IPProto.tcp, length: 23)
        #expect(rawWord(partial, 36) == Checksum.fold(pseudo))
        // Completing the partial checksum over the segment gives the full one.
        let segment = Array(partial[20...])
        let completed = withExactBuffer(segment) { Checksum.compute($0.baseAddress!, count: $0.count) }
        let full = PacketBuilder().ipv4(src: client4, dst: vip4).tcp(src: 1, dst: 2, flags: 2).payload("xyz").bytes()
        #expect(completed == rawWord(full, 36))

        let literal = PacketBuilder().ipv6(src: client6, dst: vip6).udp(src: 1, dst: 2).l4Checksum(.value(0)).bytes()
        #expect(Array(literal[46..<48]) == [0, 0])
        let wrong = PacketBuilder().ipv4(src: client4, dst: vip4).udp(src: 1, dst: 2).l4Checksum(.value(0x1234)).bytes()
        #expect(rawWord(wrong, 26) == 0x1234)
    }

    @Test func udpChecksumZeroIsSentAsAllOnes() {
        // Pick a 2-byte payload that makes the computed UDP checksum 0; RFC 768 sends 0xffff instead.
        let base = PacketBuilder().ipv4(src: client4, dst: vip4).udp(src: 1, dst: 2)
        let probe = base.payload([0, 0]).l4Checksum(.value(0)).bytes()
        let sum = Checksum.fold(
            withExactBuffer(Array(probe[20...])) { buf in
                Checksum.accumulate(
                    buf.baseAddress!, count: buf.count,
                    initial: Checksum.pseudoHeader(src: client4, dst: vip4, protocol: IPProto.udp, length: buf.count))
            })
        let word = ~sum  // makes the folded sum 0xffff, so the checksum would be 0
        let payload = [UInt8(truncatingIfNeeded: word), UInt8(truncatingIfNeeded: word >> 8)]
        let packet = base.payload(payload).bytes()
        #expect(Array(packet[26..<28]) == [0xff, 0xff])
        #expect(l4ChecksumVerifies(Array(packet[20...]), src: client4, dst: vip4, proto: IPProto.udp))
    }

    @Test func overrides() {
        let b = PacketBuilder().ipv4(src: client4, dst: vip4).tcp(src: 1, dst: 2, flags: 2).payload([1, 2, 3, 4])
        #expect(b.ihl(7).bytes()[0] == 0x47)
        #expect(Array(b.ipLengthField(1000).bytes()[2..<4]) == [0x03, 0xe8])
        #expect(b.tcpDataOffset(9).bytes()[32] == 0x90)
        #expect(Array(b.ipChecksum(raw: 0xbeef).bytes()[10..<12]) == [0xef, 0xbe])
        #expect(b.trailer([9, 9, 9]).bytes() == b.bytes() + [9, 9, 9])
        let udp = PacketBuilder().ipv4(src: client4, dst: vip4).udp(src: 1, dst: 2).udpLengthField(0x1234).bytes()
        #expect(Array(udp[24..<26]) == [0x12, 0x34])
        let v6 = PacketBuilder().ipv6(src: client6, dst: vip6).udp(src: 1, dst: 2).ipLengthField(77).bytes()
        #expect(Array(v6[4..<6]) == [0, 77])
        // The IPv4 header checksum is computed over the overridden fields.
        #expect(referenceSum(Array(b.ipLengthField(1000).ihl(5).bytes()[..<20])) == 0xffff)
    }

    @Test func optionPadding() {
        let tcp = PacketBuilder().ipv4(src: client4, dst: vip4).tcp(src: 1, dst: 2, flags: 2, options: [3, 3, 7])
            .bytes()
        #expect(tcp[32] == 0x60)
        #expect(Array(tcp[40..<44]) == [3, 3, 7, 0])
        let ip = PacketBuilder().ipv4(src: client4, dst: vip4, options: [0x94, 0x04, 0x00]).rawTransport(proto: 253)
            .bytes()
        #expect(ip[0] == 0x46 && ip.count == 24 && ip[23] == 0)
    }

    @Test func nonIPAndARPFrames() {
        let other = PacketBuilder().ethernet(vlan: 3).payload("hi").bytes()
        #expect(Array(other[12...]) == [0x81, 0x00, 0x00, 0x03, 0x88, 0xb5, 0x68, 0x69])
        let arp = PacketBuilder().ethernet().arp(
            op: 2, senderMAC: directorMAC, senderIP: vip4, targetMAC: clientMAC, targetIP: client4
        ).bytes()
        #expect(Array(arp[12..<14]) == [0x08, 0x06])
        #expect(arp.count == 42)
        #expect(Array(arp[20..<22]) == [0, 2])
    }

    @Test func defaults() {
        let frame = PacketBuilder().ethernet().ipv4(src: "192.0.2.10", dst: "198.51.100.1").tcp(
            src: 1, dst: 2, flags: 2
        ).bytes()
        #expect(Array(frame[0..<6]) == PacketBuilder.defaultDirectorMAC.bytes)
        #expect(Array(frame[6..<12]) == PacketBuilder.defaultClientMAC.bytes)
        #expect(frame[22] == 64)  // TTL
        #expect(Array(frame[18..<22]) == [0x12, 0x34, 0x40, 0x00])  // id, DF
        #expect(Array(frame[38..<42]) == [0, 0, 0x03, 0xe8])  // seq 1000
        #expect(Array(frame[48..<50]) == [0xff, 0xff])  // window
    }
}
