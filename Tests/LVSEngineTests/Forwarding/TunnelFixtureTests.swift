import LVSPacket
import Testing

@testable import LVSEngine

/// VS/TUN (ip_vs_tunnel_xmit): exact bytes of IPIP, IPv6-in-IPv6 and GUE (v4, v6) encapsulation,
/// the frag-needed / packet-too-big answer at the tunnel MTU, and ICMP errors about TUN
/// connections (spec sections 3 and 4).
@Suite struct TunnelFixtureTests {
    static let dip = IPAddress("192.168.10.1")!
    static let dip6 = IPAddress("fd00:10::1")!
    let c = Lab.client, v = Lab.vip

    /// A director whose web services (v4 and v6) have one TUN server with `tunnel`.
    static func director(_ tunnel: TunnelSettings, mtu: Int = 1500) -> Director {
        let d = Director(DirectorConfiguration(connectionCapacity: 1024))
        d.setTunnelPath(TunnelPath(source4: dip, source6: dip6, mtu: mtu))
        try! d.addService(ServiceSpec(Lab.web, scheduler: "rr"))
        try! d.addDestination(DestinationSpec(address: Lab.rs1, port: 80, method: .tunnel, tunnel: tunnel), to: Lab.web)
        try! d.addService(ServiceSpec(Lab.web6, scheduler: "rr"))
        try! d.addDestination(DestinationSpec(address: Lab.rs6, port: 80, method: .tunnel, tunnel: tunnel), to: Lab.web6)
        return d
    }

    /// An IP packet in an Ethernet frame from the client to the director.
    func wrap(_ ip: [UInt8]) -> [UInt8] {
        Array(Lab.eth().ipv4(src: c, dst: v).tcp(src: 1, dst: 2, flags: 0).bytes().prefix(12))
            + (ip[0] >> 4 == 4 ? [0x08, 0x00] : [0x86, 0xdd]) + ip
    }

    /// The inner packet: the client's SYN, exactly as it arrived (TTL 57, TOS 0x10, id 0x4321).
    func syn4(payload: Int = 0) -> PacketBuilder {
        PacketBuilder().ipv4(src: c, dst: v, ttl: 57, tos: 0x10, id: 0x4321)
            .tcp(src: 40000, dst: 80, flags: TCPFlag.syn).payload([UInt8](repeating: 0x61, count: payload))
    }
    func syn6(payload: Int = 0) -> PacketBuilder {
        PacketBuilder().ipv6(src: Lab.client6, dst: Lab.vip6, hopLimit: 50)
            .tcp(src: 41000, dst: 80, flags: TCPFlag.syn).payload([UInt8](repeating: 0x62, count: payload))
    }

    @Test func ipipWrapsTheUnchangedIPv4PacketInAnOuterHeader() {
        let h = FrameHarness(Self.director(TunnelSettings(type: .ipip)))
        let inner = syn4().bytes()
        let (verdict, out) = h.run(Lab.eth().ipv4(src: c, dst: v, ttl: 57, tos: 0x10, id: 0x4321)
            .tcp(src: 40000, dst: 80, flags: TCPFlag.syn).bytes())
        // Outer: director -> real server, protocol 4, TTL/TOS/id/DF copied from the inner header.
        let expected = Lab.eth().ipv4(src: Self.dip, dst: Lab.rs1, ttl: 57, tos: 0x10, id: 0x4321, dontFragment: true)
            .rawTransport(proto: IPProto.ipip).payload(inner).bytes()
        #expect(verdict == .forward(side: .realServer, nextHop: Lab.rs1))
        #expect(out == expected)
        #expect(checksumsVerify(out))
    }

    @Test func ipv6InIPv6UsesNextHeader41() {
        let h = FrameHarness(Self.director(TunnelSettings(type: .ipip)))
        let inner = syn6().bytes()
        let (verdict, out) = h.run(Lab.eth().ipv6(src: Lab.client6, dst: Lab.vip6, hopLimit: 50)
            .tcp(src: 41000, dst: 80, flags: TCPFlag.syn).bytes())
        let expected = Lab.eth().ipv6(src: Self.dip6, dst: Lab.rs6, hopLimit: 50)
            .rawTransport(proto: IPProto.ipv6).payload(inner).bytes()
        #expect(verdict == .forward(side: .realServer, nextHop: Lab.rs6))
        #expect(out == expected)
    }

    /// GUE version 0 header: C = 0, Hlen = 0, Proto = the inner protocol, flags 0.
    func gue(_ proto: UInt8) -> [UInt8] { [0, proto, 0, 0] }

    @Test func gueOverIPv4WithoutChecksum() {
        let h = FrameHarness(Self.director(TunnelSettings(type: .gue, port: 6080)))
        var inner = syn4().bytes()
        let sport = inner.withUnsafeMutableBytes { TunnelHeader.flowPort($0.baseAddress!, true) }
        let (verdict, out) = h.run(wrap(inner))
        let expected = Lab.eth().ipv4(src: Self.dip, dst: Lab.rs1, ttl: 57, tos: 0x10, id: 0x4321)
            .udp(src: sport, dst: 6080).l4Checksum(.value(0)).payload(gue(IPProto.ipip) + inner).bytes()
        #expect(verdict == .forward(side: .realServer, nextHop: Lab.rs1))
        #expect(out == expected)
        #expect((32768...60999).contains(Int(sport)))
    }

    @Test func gueOverIPv4WithChecksum() {
        let h = FrameHarness(Self.director(TunnelSettings(type: .gue, port: 6080, udpChecksum: true)))
        var inner = syn4().bytes()
        let sport = inner.withUnsafeMutableBytes { TunnelHeader.flowPort($0.baseAddress!, true) }
        let (_, out) = h.run(wrap(inner))
        let expected = Lab.eth().ipv4(src: Self.dip, dst: Lab.rs1, ttl: 57, tos: 0x10, id: 0x4321)
            .udp(src: sport, dst: 6080).payload(gue(IPProto.ipip) + inner).bytes()
        #expect(out == expected)
        #expect(checksumsVerify(out))
    }

    @Test func gueOverIPv6AlwaysCarriesAUDPChecksum() {
        let h = FrameHarness(Self.director(TunnelSettings(type: .gue, port: 6080)))
        var inner = syn6().bytes()
        let sport = inner.withUnsafeMutableBytes { TunnelHeader.flowPort($0.baseAddress!, false) }
        let (_, out) = h.run(wrap(inner))
        let expected = Lab.eth().ipv6(src: Self.dip6, dst: Lab.rs6, hopLimit: 50)
            .udp(src: sport, dst: 6080).payload(gue(IPProto.ipv6) + inner).bytes()
        #expect(out == expected)
        #expect(checksumsVerify(out))
    }

    @Test func flowPortIsStablePerFlowAndSpreads() {
        var a = syn4().bytes(), b = syn4().bytes()
        b[20 + 1] ^= 1  // another client port
        let pa = a.withUnsafeMutableBytes { TunnelHeader.flowPort($0.baseAddress!, true) }
        let pa2 = a.withUnsafeMutableBytes { TunnelHeader.flowPort($0.baseAddress!, true) }
        let pb = b.withUnsafeMutableBytes { TunnelHeader.flowPort($0.baseAddress!, true) }
        #expect(pa == pa2)
        #expect(pa != pb)
    }

    @Test func ecnCEBecomesECT0InTheOuterHeader() {
        let h = FrameHarness(Self.director(TunnelSettings(type: .ipip)))
        let (_, out) = h.run(Lab.eth().ipv4(src: c, dst: v, tos: 0x13).tcp(src: 40000, dst: 80, flags: TCPFlag.syn).bytes())
        #expect(out[15] == 0x12)  // outer TOS: DSCP kept, CE (11) -> ECT(0) (10)
        #expect(out[14 + 20 + 1] == 0x13)  // inner untouched
    }

    @Test func packetsThatFitTheTunnelMTUAreForwarded() {
        let h = FrameHarness(Self.director(TunnelSettings(type: .ipip), mtu: 1500))
        // 1480 bytes + 20 = 1500: fits exactly.
        let (verdict, out) = h.run(wrap(syn4(payload: 1480 - 40).bytes()))
        #expect(verdict == .forward(side: .realServer, nextHop: Lab.rs1))
        #expect(out.count == 14 + 1500)
    }

    @Test func tooBigWithDFIsAnsweredWithFragNeeded() {
        let d = Self.director(TunnelSettings(type: .ipip), mtu: 1500)
        let h = FrameHarness(d)
        let inner = syn4(payload: 1481 - 40).bytes()
        let (verdict, out) = h.run(wrap(inner))
        // ICMP type 3 code 4 from the VIP to the client, next-hop MTU 1480, quoting IP header + 8.
        let expected = PacketBuilder().ethernet(src: PacketBuilder.defaultDirectorMAC, dst: PacketBuilder.defaultClientMAC)
            .ipv4(src: v, dst: c, ttl: 64, tos: 0xc0, id: 0, dontFragment: false)
            .icmp(type: ICMPv4Type.destinationUnreachable, code: ICMPv4Type.codeFragmentationNeeded, rest: 1480)
            .payload(Array(inner.prefix(28))).bytes()
        #expect(verdict == .reply)
        #expect(out == expected)
        #expect(checksumsVerify(out))
        #expect(d.counters.fragmentationNeeded == 1)
        #expect(d.counters.replies == 1)
    }

    @Test func gueOverheadLowersTheMTUFurther() {
        let h = FrameHarness(Self.director(TunnelSettings(type: .gue, port: 6080), mtu: 1400))
        let (verdict, out) = h.run(wrap(syn4(payload: 1369 - 40).bytes()))
        #expect(verdict == .reply)
        // 1400 - 20 (IPv4) - 8 (UDP) - 4 (GUE)
        #expect(Array(out[14 + 20 + 6..<14 + 20 + 8]) == [0x05, 0x58])  // 1368
    }

    @Test func tooBigWithoutDFIsDropped() {
        let d = Self.director(TunnelSettings(type: .ipip), mtu: 1500)
        let h = FrameHarness(d)
        let (verdict, _) = h.run(Lab.eth().ipv4(src: c, dst: v, dontFragment: false)
            .tcp(src: 40000, dst: 80, flags: TCPFlag.syn).payload([UInt8](repeating: 0, count: 1500)).bytes())
        #expect(verdict == .drop(.tunnelUnusable))
        #expect(d.counters.fragmentationNeeded == 0)
    }

    @Test func ipv6TooBigIsAnsweredWithPacketTooBig() {
        let h = FrameHarness(Self.director(TunnelSettings(type: .ipip), mtu: 1500))
        let inner = syn6(payload: 1461 - 60).bytes()  // 1461 + 40 > 1500
        let (verdict, out) = h.run(wrap(inner))
        let expected = PacketBuilder().ethernet(src: PacketBuilder.defaultDirectorMAC, dst: PacketBuilder.defaultClientMAC)
            .ipv6(src: Lab.vip6, dst: Lab.client6, hopLimit: 64)
            .icmp(type: ICMPv6Type.packetTooBig, rest: 1460)
            .payload(Array(inner.prefix(1280 - 48))).bytes()
        #expect(verdict == .reply)
        #expect(out == expected)
        #expect(checksumsVerify(out))
    }

    @Test func gsoSuperFrameIsCheckedPerSegment() {
        let h = FrameHarness(Self.director(TunnelSettings(type: .ipip), mtu: 1500))
        let big = wrap(syn4(payload: 8000).bytes())
        func run(gso: UInt16) -> (Verdict, Int) {
            let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: big.count + 256, alignment: 16)
            defer { buf.deallocate() }
            buf.copyBytes(from: big)
            var f = Frame(base: buf.baseAddress!, length: big.count, capacity: buf.count, gsoSize: gso)
            return (h.director.process(&f, now: Timestamp(milliseconds: 1000)), Int(f.encapsulation))
        }
        // 1440 + 40 headers + 20 = 1500: each segment fits, the super-frame is encapsulated whole.
        let fits = run(gso: 1440)
        #expect(fits.0 == .forward(side: .realServer, nextHop: Lab.rs1))
        #expect(fits.1 == 20)
        // 1448-byte segments would be 1508 on the wire.
        #expect(run(gso: 1448).0 == .reply)
    }

    @Test func partialChecksumIsCompletedBeforeEncapsulation() {
        let h = FrameHarness(Self.director(TunnelSettings(type: .ipip)))
        let input = Lab.eth().ipv4(src: c, dst: v).tcp(src: 40000, dst: 80, flags: TCPFlag.syn).l4Checksum(.partial).bytes()
        let (_, out) = h.run(input, partial: true)
        let full = PacketBuilder().ipv4(src: c, dst: v).tcp(src: 40000, dst: 80, flags: TCPFlag.syn).bytes()
        #expect(Array(out[34...]) == full)
    }

    @Test func noTunnelSourceForTheFamilyDrops() {
        let d = Self.director(TunnelSettings(type: .ipip))
        d.setTunnelPath(TunnelPath(source4: Self.dip, source6: .zero))
        let (verdict, _) = FrameHarness(d).run(wrap(syn6().bytes()))
        #expect(verdict == .drop(.tunnelUnusable))
    }

    @Test func tunConnectionsAreInputOnlyAndRepliesAreNotOurs() {
        let d = Self.director(TunnelSettings(type: .ipip))
        let h = FrameHarness(d)
        _ = h.run(wrap(syn4().bytes()))
        // A reply from the real server (VIP -> client) is not the director's business.
        let (verdict, _) = h.run(Lab.eth().ipv4(src: Lab.rs1, dst: c).tcp(src: 80, dst: 40000, flags: TCPFlag.syn | TCPFlag.ack).bytes())
        #expect(verdict == .notOurs)
        #expect(d.connections(now: Timestamp(milliseconds: 1000)).first?.destination == Endpoint(Lab.rs1, 80))
    }

    @Test func icmpErrorAboutATunConnectionIsForwardedEncapsulated() {
        let h = FrameHarness(Self.director(TunnelSettings(type: .ipip)))
        _ = h.run(wrap(syn4().bytes()))
        // A router on the client side cannot deliver the server's reply VIP:80 -> client:40000.
        let quoted = Array(PacketBuilder().ipv4(src: v, dst: c).tcp(src: 80, dst: 40000, flags: TCPFlag.ack).bytes().prefix(28))
        let error = PacketBuilder().ipv4(src: Lab.router, dst: v, ttl: 61)
            .icmp(type: ICMPv4Type.destinationUnreachable, code: ICMPv4Type.codeFragmentationNeeded, rest: 1400)
            .payload(quoted).bytes()
        let (verdict, out) = h.run(wrap(error))
        // Unchanged inside, wrapped toward the connection's real server.
        let expected = Lab.eth().ipv4(src: Self.dip, dst: Lab.rs1, ttl: 61, id: 0x1234, dontFragment: true)
            .rawTransport(proto: IPProto.ipip).payload(error).bytes()
        #expect(verdict == .forward(side: .realServer, nextHop: Lab.rs1))
        #expect(out == expected)
    }

    /// IPVS's IPIP special case: a router between director and server cannot forward our tunnel
    /// packet; the director tells the client, with the MTU less the encapsulation.
    @Test(arguments: [TunnelType.ipip, TunnelType.gue])
    func fragNeededAboutOurTunnelPacketIsRelayedToTheClient(_ type: TunnelType) {
        let d = Self.director(TunnelSettings(type: type, port: 6080))
        let h = FrameHarness(d)
        let clientPacket = syn4(payload: 1000).bytes()
        let (_, tunnelled) = h.run(wrap(clientPacket))
        let outerPacket = Array(tunnelled[14...])
        let router = IPAddress("192.168.10.254")!
        // The router quotes 576 bytes of the packet it could not forward (as Linux does).
        let error = PacketBuilder().ipv4(src: router, dst: Self.dip)
            .icmp(type: ICMPv4Type.destinationUnreachable, code: ICMPv4Type.codeFragmentationNeeded, rest: 1400)
            .payload(Array(outerPacket.prefix(576 - 28))).bytes()
        let (verdict, out) = h.run(wrap(error))
        let overhead = type == .ipip ? 20 : 32
        let expected = PacketBuilder().ethernet(src: PacketBuilder.defaultDirectorMAC, dst: PacketBuilder.defaultClientMAC)
            .ipv4(src: v, dst: c, ttl: 64, tos: 0xc0, id: 0, dontFragment: false)
            .icmp(type: ICMPv4Type.destinationUnreachable, code: ICMPv4Type.codeFragmentationNeeded,
                  rest: UInt32(1400 - overhead))
            .payload(Array(clientPacket.prefix(28))).bytes()
        #expect(verdict == .forward(side: .client, nextHop: c))
        #expect(out == expected)
        #expect(d.counters.fragmentationNeeded == 1)
    }

    @Test func otherErrorsToTheTunnelSourceAreLeftToTheKernel() {
        let d = Self.director(TunnelSettings(type: .ipip))
        let h = FrameHarness(d)
        let (_, tunnelled) = h.run(wrap(syn4().bytes()))
        let error = PacketBuilder().ipv4(src: IPAddress("192.168.10.254")!, dst: Self.dip)
            .icmp(type: ICMPv4Type.timeExceeded).payload(Array(tunnelled[14...])).bytes()
        #expect(h.run(wrap(error)).0 == .notOurs)
    }
}
