import LVSPacket
import LVSTunnel
import Testing

/// lvs-tunnel's decapsulation: what the director sends is accepted and stripped to the client's
/// packet; anything inconsistent is rejected with a counted reason.
@Suite struct DecapsulationTests {
    static let client = IPAddress("192.0.2.10")!, vip = IPAddress("10.0.0.100")!
    static let dip = IPAddress("192.168.10.1")!, rs = IPAddress("192.168.10.2")!

    let inner4 = PacketBuilder().ipv4(src: client, dst: vip).tcp(src: 40000, dst: 80, flags: TCPFlag.syn).bytes()
    let inner6 = PacketBuilder().ipv6(src: "2001:db8:c::10", dst: "2001:db8::100").tcp(src: 1, dst: 80, flags: TCPFlag.syn).bytes()

    func decap(_ bytes: [UInt8], _ carrier: TunnelCarrier) -> Result<[UInt8], DecapsulationReject> {
        bytes.withUnsafeBytes { b in
            Decapsulation.inner(b.baseAddress!, count: b.count, carrier: carrier).map { Array(bytes[$0]) }
        }
    }

    @Test func ipipFromARawIPv4Socket() {
        let packet = PacketBuilder().ipv4(src: Self.dip, dst: Self.rs).rawTransport(proto: IPProto.ipip).payload(inner4).bytes()
        #expect(decap(packet, .rawIPv4(protocol: IPProto.ipip)) == .success(inner4))
    }

    @Test func ipv6InIPv6FromARawIPv6SocketHasNoOuterHeader() {
        #expect(decap(inner6, .rawIPv6(protocol: IPProto.ipv6)) == .success(inner6))
        #expect(decap(inner4, .rawIPv6(protocol: IPProto.ipv6)) == .failure(.badInner))
    }

    @Test func gueStripsTheHeaderAndItsOptionalWords() {
        #expect(decap([0, IPProto.ipip, 0, 0] + inner4, .gue) == .success(inner4))
        #expect(decap([0, IPProto.ipv6, 0, 0] + inner6, .gue) == .success(inner6))
        // Hlen = 1: one 32-bit word of optional fields follows the base header.
        #expect(decap([1, IPProto.ipip, 0, 0, 9, 9, 9, 9] + inner4, .gue) == .success(inner4))
    }

    @Test func gueControlMessagesOtherVersionsAndProtocolsAreRejected() {
        #expect(decap([0x20, IPProto.ipip, 0, 0] + inner4, .gue) == .failure(.unsupportedGUE))
        #expect(decap([0x40, IPProto.ipip, 0, 0] + inner4, .gue) == .failure(.unsupportedGUE))
        #expect(decap([0, IPProto.tcp, 0, 0] + inner4, .gue) == .failure(.unsupportedGUE))
        #expect(decap([0, IPProto.ipip], .gue) == .failure(.badOuter))
    }

    @Test func innerPacketsMustBeConsistent() {
        // Announced IPv4, carries IPv6.
        #expect(decap([0, IPProto.ipip, 0, 0] + inner6, .gue) == .failure(.badInner))
        // Truncated inner packet.
        #expect(decap([0, IPProto.ipip, 0, 0] + inner4.dropLast(), .gue) == .failure(.badInner))
        // Bad inner IPv4 header checksum.
        var broken = inner4
        broken[10] ^= 0xff
        #expect(decap([0, IPProto.ipip, 0, 0] + broken, .gue) == .failure(.badInner))
    }

    @Test func outerIPv4MustMatchTheSocketAndNotBeAFragment() {
        let packet = PacketBuilder().ipv4(src: Self.dip, dst: Self.rs).rawTransport(proto: IPProto.ipip).payload(inner4).bytes()
        #expect(decap(packet, .rawIPv4(protocol: IPProto.ipv6)) == .failure(.badOuter))
        let fragment = PacketBuilder().ipv4(src: Self.dip, dst: Self.rs, dontFragment: false, moreFragments: true)
            .rawTransport(proto: IPProto.ipip).payload(inner4).bytes()
        #expect(decap(fragment, .rawIPv4(protocol: IPProto.ipip)) == .failure(.badOuter))
        #expect(decap(Array(packet.prefix(10)), .rawIPv4(protocol: IPProto.ipip)) == .failure(.badOuter))
    }

    @Test func countersSummarise() {
        var c = DecapsulationCounters()
        c.count(.gue, .success(0..<1))
        c.count(.rawIPv4(protocol: 4), .success(0..<1))
        c.count(.gue, .failure(.unsupportedGUE))
        #expect(c.summary == "decapsulated 2 (ipip 1, gue 1), rejected 1 (unsupported_gue 1), write errors 0")
    }
}

@Suite struct TunnelAgentOptionsTests {
    @Test func parsesEveryOption() throws {
        let o = try TunnelAgentOptions.parse(["--gue-port", "6080", "--director", "10.0.0.1", "--director", "fd00::1",
                                              "--device", "tun7", "--no-ipip"])
        #expect(o.guePort == 6080)
        #expect(o.directors == [IPAddress("10.0.0.1")!, IPAddress("fd00::1")!])
        #expect(o.device == "tun7")
        #expect(!o.ipip)
    }

    @Test func saysWhatIsWrong() {
        #expect(throws: TunnelAgentOptionsError("--gue-port: 'x' is not a port (1-65535)")) {
            try TunnelAgentOptions.parse(["--gue-port", "x"])
        }
        #expect(throws: TunnelAgentOptionsError("nothing to receive: --no-ipip without --gue-port")) {
            try TunnelAgentOptions.parse(["--no-ipip"])
        }
        #expect(throws: TunnelAgentOptionsError("option --director needs a value")) {
            try TunnelAgentOptions.parse(["--director"])
        }
        #expect(throws: TunnelAgentOptionsError("unknown argument '--bogus' (see --help)")) {
            try TunnelAgentOptions.parse(["--bogus"])
        }
    }

    @Test func xdpOptions() throws {
        let o = try TunnelAgentOptions.parse(["--xdp", "eth0", "--xdp", "eth1", "--xdp-mode", "generic", "--gue-port", "6080"])
        #expect(o.xdpInterfaces == ["eth0", "eth1"])
        #expect(o.xdpMode == .generic)
        #expect(try TunnelAgentOptions.parse(["--xdp", "eth0"]).xdpMode == nil)
        #expect(throws: TunnelAgentOptionsError("--xdp: eth0 is given twice")) {
            try TunnelAgentOptions.parse(["--xdp", "eth0", "--xdp", "eth0"])
        }
        #expect(throws: TunnelAgentOptionsError("--xdp-mode: 'driver' is not native or generic")) {
            try TunnelAgentOptions.parse(["--xdp", "eth0", "--xdp-mode", "driver"])
        }
        #expect(throws: TunnelAgentOptionsError("--xdp-mode needs --xdp IFACE")) {
            try TunnelAgentOptions.parse(["--xdp-mode", "native"])
        }
        #expect(throws: TunnelAgentOptionsError("--device names the TUN device, which --xdp does not use")) {
            try TunnelAgentOptions.parse(["--xdp", "eth0", "--device", "tun7"])
        }
        #expect(throws: TunnelAgentOptionsError("--xdp: an interface name of 1 to 15 characters")) {
            try TunnelAgentOptions.parse(["--xdp", "averyveryverylongname"])
        }
    }
}
