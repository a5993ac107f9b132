import LVSPacket
import Testing

@testable import LVSEngine

/// ICMP handling (spec section 4): errors related to NAT connections, echo to a VIP, and the
/// port-unreachable answer when a service has no usable server.
@Suite struct ICMPFixtureTests {
    let c = Lab.client, v = Lab.vip, r = Lab.rs1

    /// The first 28 bytes (IP header + 8) of a packet, as an ICMP error quotes it.
    func quote(_ b: PacketBuilder, _ n: Int = 28) -> [UInt8] { Array(b.bytes().prefix(n)) }

    func established(_ h: FrameHarness) {
        _ = h.run(Lab.eth().ipv4(src: c, dst: v).tcp(src: 40000, dst: 80, flags: TCPFlag.syn).bytes())
    }

    @Test func errorFromClientSideAboutAReplyGoesToTheRealServer() {
        let h = FrameHarness(Lab.director())
        established(h)
        // A router on the client side cannot deliver our reply VIP:80 -> client:40000.
        let quotedReply = PacketBuilder().ipv4(src: v, dst: c).tcp(src: 80, dst: 40000, flags: TCPFlag.ack)
        let input = Lab.eth().ipv4(src: Lab.router, dst: v)
            .icmp(type: ICMPv4Type.destinationUnreachable, code: ICMPv4Type.codeFragmentationNeeded, rest: 1400)
            .payload(quote(quotedReply)).bytes()
        let translatedQuote = PacketBuilder().ipv4(src: r, dst: c).tcp(src: 8080, dst: 40000, flags: TCPFlag.ack)
        // The quoted TCP checksum is left as it was (IPVS does not touch it); the quoted TCP header
        // is only 8 bytes long, so it is not part of the comparison anyway.
        let expected = Lab.eth().ipv4(src: Lab.router, dst: r)
            .icmp(type: ICMPv4Type.destinationUnreachable, code: ICMPv4Type.codeFragmentationNeeded, rest: 1400)
            .payload(quote(translatedQuote)).bytes()
        let (verdict, out) = h.run(input)
        #expect(verdict == .forward(side: .realServer, nextHop: r))
        #expect(out == expected)
        #expect(checksumsVerify(out))
    }

    @Test func errorFromServerSideAboutARequestGoesToTheClient() {
        let h = FrameHarness(Lab.director())
        established(h)
        let quotedRequest = PacketBuilder().ipv4(src: c, dst: r).tcp(src: 40000, dst: 8080, flags: TCPFlag.syn)
        let input = Lab.eth().ipv4(src: IPAddress("192.168.10.254")!, dst: c)
            .icmp(type: ICMPv4Type.timeExceeded).payload(quote(quotedRequest)).bytes()
        let expected = Lab.eth().ipv4(src: v, dst: c)
            .icmp(type: ICMPv4Type.timeExceeded)
            .payload(quote(PacketBuilder().ipv4(src: c, dst: v).tcp(src: 40000, dst: 80, flags: TCPFlag.syn))).bytes()
        let (verdict, out) = h.run(input)
        #expect(verdict == .forward(side: .client, nextHop: c))
        #expect(out == expected)
    }

    @Test func ipv6ErrorFromClientSide() {
        let h = FrameHarness(Lab.director())
        _ = h.run(Lab.eth().ipv6(src: Lab.client6, dst: Lab.vip6).tcp(src: 41000, dst: 80, flags: TCPFlag.syn).bytes())
        let quoted = PacketBuilder().ipv6(src: Lab.vip6, dst: Lab.client6).tcp(src: 80, dst: 41000, flags: TCPFlag.ack)
        let rtr = IPAddress("2001:db8:ffff::1")!
        let input = Lab.eth().ipv6(src: rtr, dst: Lab.vip6).icmp(type: ICMPv6Type.packetTooBig, rest: 1280)
            .payload(quote(quoted, 48)).bytes()
        let expected = Lab.eth().ipv6(src: rtr, dst: Lab.rs6).icmp(type: ICMPv6Type.packetTooBig, rest: 1280)
            .payload(quote(PacketBuilder().ipv6(src: Lab.rs6, dst: Lab.client6).tcp(src: 8080, dst: 41000, flags: TCPFlag.ack), 48))
            .bytes()
        let (verdict, out) = h.run(input)
        #expect(verdict == .forward(side: .realServer, nextHop: Lab.rs6))
        #expect(out == expected)
        #expect(checksumsVerify(out))
    }

    @Test func errorWithBadChecksumIsDropped() {
        let h = FrameHarness(Lab.director())
        established(h)
        let quotedReply = PacketBuilder().ipv4(src: v, dst: c).tcp(src: 80, dst: 40000, flags: TCPFlag.ack)
        let input = Lab.eth().ipv4(src: Lab.router, dst: v).icmp(type: ICMPv4Type.destinationUnreachable, code: 1)
            .payload(quote(quotedReply)).l4Checksum(.value(0x1234)).bytes()
        #expect(h.run(input).0 == .drop(.badICMPChecksum))
    }

    @Test func errorForAnUnknownConnectionToTheVIPIsDropped() {
        let h = FrameHarness(Lab.director())
        let quotedReply = PacketBuilder().ipv4(src: v, dst: c).tcp(src: 80, dst: 49999, flags: TCPFlag.ack)
        let input = Lab.eth().ipv4(src: Lab.router, dst: v).icmp(type: ICMPv4Type.destinationUnreachable, code: 1)
            .payload(quote(quotedReply)).bytes()
        #expect(h.run(input).0 == .drop(.noConnection))
    }

    @Test func echoRequestToTheVIPIsAnswered() {
        let h = FrameHarness(Lab.director())
        let input = PacketBuilder().ethernet(src: PacketBuilder.defaultClientMAC, dst: PacketBuilder.defaultDirectorMAC)
            .ipv4(src: c, dst: v, ttl: 57).icmp(type: ICMPv4Type.echoRequest, rest: 0x0001_0007).payload("ping").bytes()
        let expected = PacketBuilder().ethernet(src: PacketBuilder.defaultDirectorMAC, dst: PacketBuilder.defaultClientMAC)
            .ipv4(src: v, dst: c, ttl: 64).icmp(type: ICMPv4Type.echoReply, rest: 0x0001_0007).payload("ping").bytes()
        let (verdict, out) = h.run(input)
        #expect(verdict == .reply)
        #expect(out == expected)
    }

    @Test func echoRequestToTheIPv6VIPIsAnswered() {
        let h = FrameHarness(Lab.director())
        let input = Lab.eth().ipv6(src: Lab.client6, dst: Lab.vip6).icmp(type: ICMPv6Type.echoRequest, rest: 5).payload("p6").bytes()
        let (verdict, out) = h.run(input)
        #expect(verdict == .reply)
        let expected = PacketBuilder().ethernet(src: PacketBuilder.defaultDirectorMAC, dst: PacketBuilder.defaultClientMAC)
            .ipv6(src: Lab.vip6, dst: Lab.client6).icmp(type: ICMPv6Type.echoReply, rest: 5).payload("p6").bytes()
        #expect(out == expected)
    }

    @Test func echoToOtherAddressesIsNotOurs() {
        let h = FrameHarness(Lab.director())
        let input = Lab.eth().ipv4(src: c, dst: r).icmp(type: ICMPv4Type.echoRequest).bytes()
        #expect(h.run(input).0 == .notOurs)
    }

    @Test func noUsableServerAnswersPortUnreachable() throws {
        let d = Lab.director()
        let key = ServiceKey(.udp, v, 123)
        try d.addService(ServiceSpec(key, scheduler: "wlc"))
        try d.addDestination(DestinationSpec(address: r, port: 123, weight: 0), to: key)
        let h = FrameHarness(d)
        let query = Lab.eth().ipv4(src: c, dst: v).udp(src: 6000, dst: 123).payload(Array(repeating: 7, count: 48))
        let expected = PacketBuilder().ethernet(src: PacketBuilder.defaultDirectorMAC, dst: PacketBuilder.defaultClientMAC)
            .ipv4(src: v, dst: c, ttl: 64).icmp(type: ICMPv4Type.destinationUnreachable, code: ICMPv4Type.codePortUnreachable)
            .payload(Array(query.bytes().dropFirst(14).prefix(28))).bytes()
        var exp = expected
        // Our error is sent with TOS 0xc0 and id 0, no DF (as Linux's icmp_send does).
        exp[15] = 0xc0
        exp[18] = 0; exp[19] = 0; exp[20] = 0; exp[21] = 0
        exp.withUnsafeMutableBytes { IPv4View(unchecked: $0.baseAddress! + 14).updateChecksum() }
        let (verdict, out) = h.run(query.bytes())
        #expect(verdict == .reply)
        #expect(out == exp)
        #expect(checksumsVerify(out))
        #expect(d.counters[.noDestination] == 1)
    }
}

/// Neighbour discovery for a VIP goes to the data plane untouched (it answers, as for ARP).
@Suite struct NeighborDiscoveryPassThroughTests {
    @Test(arguments: [ICMPv6Type.neighborSolicitation, ICMPv6Type.neighborAdvertisement, ICMPv6Type.routerSolicitation])
    func ndpToAVIPIsNotTheEnginesBusiness(type: UInt8) {
        let h = FrameHarness(Lab.director())
        let frame = Lab.eth().ipv6(src: Lab.client6, dst: Lab.vip6, hopLimit: 255).icmp(type: type)
            .payload(Lab.vip6.bytes).bytes()
        let (verdict, out) = h.run(frame)
        #expect(verdict == .notOurs)
        #expect(out == frame)
    }
}
