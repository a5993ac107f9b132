#if canImport(Glibc)
import Glibc
#endif
import LVSPacket
import LVSTunnel
import Testing

/// The XDP decapsulation program run by the kernel itself (BPF_PROG_TEST_RUN) on frames that the
/// director's own encapsulation (`TunnelHeader.encapsulate`) produced: what comes out must be the
/// client's frame, and everything else must pass untouched or be dropped with its counter. Loading
/// a BPF program needs root; the README's test command runs as root.
@Suite(.enabled(if: geteuid() == 0, "loads a BPF program: needs root"))
struct XDPDecapTests {
    static let client = IPAddress("192.0.2.10")!, vip = IPAddress("10.0.0.100")!
    static let dip = IPAddress("10.0.3.1")!, rs = IPAddress("10.0.3.200")!
    static let client6 = IPAddress("2001:db8:c::10")!, vip6 = IPAddress("2001:db8::100")!
    static let dip6 = IPAddress("fd00:3::1")!, rs6 = IPAddress("fd00:3::c8")!
    static let rsMAC = MACAddress(0x02, 0, 0, 0, 0, 0x33), dMAC = MACAddress(0x02, 0, 0, 0, 0, 0x44)

    /// The client's packet as the real server's stack must receive it, in a frame from the director.
    static func clientFrame(v6: Bool) -> [UInt8] {
        let b = PacketBuilder().ethernet(src: dMAC, dst: rsMAC)
        return (v6 ? b.ipv6(src: client6, dst: vip6) : b.ipv4(src: client, dst: vip))
            .tcp(src: 40000, dst: 80, flags: TCPFlag.ack, seq: 7, ack: 9).payload("GET / HTTP/1.1\r\n\r\n").bytes()
    }

    /// `clientFrame` encapsulated by the director's code towards `to` from `from`.
    static func tunnelled(v6Inner: Bool, from: IPAddress, to: IPAddress, type: TunnelType, port: UInt16 = 6080) -> [UInt8] {
        var bytes = clientFrame(v6: v6Inner)
        let length = bytes.count
        bytes += [UInt8](repeating: 0, count: 128)
        return bytes.withUnsafeMutableBytes { raw -> [UInt8] in
            var frame = Frame(base: raw.baseAddress!, length: length, capacity: raw.count)
            let ok = TunnelHeader.encapsulate(&frame, l3Offset: 14, l3End: length, source: from, destination: to,
                                        type: type, port: port, udpChecksum: false)
            precondition(ok)
            // The director rewrites the Ethernet type when the outer family differs.
            frame.base.storeBytes(of: (to.isIPv4 ? UInt16(0x0800) : 0x86dd).bigEndian, toByteOffset: 12, as: UInt16.self)
            return Array(raw.prefix(length + TunnelHeader.overhead(outerIPv4: to.isIPv4, type: type)))
        }
    }

    func load(ipip: Bool = true, gue: UInt16? = 6080, directors: [IPAddress] = []) throws -> XDPDecap {
        try XDPDecap(ipip: ipip, guePort: gue, directors: directors)
    }

    @Test(arguments: [(false, false), (true, false), (false, true), (true, true)])
    func ipipAndIPv6InIPv6BecomeTheClientsFrame(v6Inner: Bool, v6Outer: Bool) throws {
        let x = try load()
        let packet = Self.tunnelled(v6Inner: v6Inner, from: v6Outer ? Self.dip6 : Self.dip, to: v6Outer ? Self.rs6 : Self.rs, type: .ipip)
        let (action, out) = try x.run(packet)
        #expect(action == 2)
        #expect(out == Self.clientFrame(v6: v6Inner))
        #expect(x.counters().ipip == 1)
        #expect(x.counters().rejectedTotal == 0)
    }

    @Test(arguments: [(false, false), (true, false), (false, true), (true, true)])
    func gueOnItsPortBecomesTheClientsFrame(v6Inner: Bool, v6Outer: Bool) throws {
        let x = try load()
        let packet = Self.tunnelled(v6Inner: v6Inner, from: v6Outer ? Self.dip6 : Self.dip, to: v6Outer ? Self.rs6 : Self.rs, type: .gue)
        let (action, out) = try x.run(packet)
        #expect(action == 2)
        #expect(out == Self.clientFrame(v6: v6Inner))
        #expect(x.counters().gue == 1)
    }

    @Test func everythingElsePassesUntouched() throws {
        let x = try load(ipip: false, gue: 6080)
        let other = [
            Self.clientFrame(v6: false),
            Self.clientFrame(v6: true),
            Self.tunnelled(v6Inner: false, from: Self.dip, to: Self.rs, type: .gue, port: 6081),  // another UDP port
            Self.tunnelled(v6Inner: false, from: Self.dip, to: Self.rs, type: .ipip),  // IPIP not enabled
            PacketBuilder().ethernet().arp(op: 1, senderMAC: Self.dMAC, senderIP: Self.dip, targetIP: Self.rs).bytes(),
            [UInt8](repeating: 0xff, count: 20),  // runt
        ]
        for frame in other {
            let (action, out) = try x.run(frame)
            #expect(action == 2)
            #expect(out == frame)
        }
        #expect(x.counters().decapsulated == 0)
        #expect(x.counters().rejectedTotal == 0)
    }

    @Test func onlyTheListedDirectorsMayTunnel() throws {
        // 10.0.3.200 has the top bit set in the word the program compares (sign extension trap).
        let x = try load(directors: [IPAddress("10.0.3.200")!, Self.dip6])
        let (a1, _) = try x.run(Self.tunnelled(v6Inner: false, from: IPAddress("10.0.3.200")!, to: Self.dip, type: .ipip))
        let (a2, _) = try x.run(Self.tunnelled(v6Inner: false, from: Self.dip6, to: Self.rs6, type: .gue))
        let (a3, _) = try x.run(Self.tunnelled(v6Inner: false, from: Self.dip, to: Self.rs, type: .ipip))
        let (a4, _) = try x.run(Self.tunnelled(v6Inner: true, from: IPAddress("fd00:3::2")!, to: Self.rs6, type: .ipip))
        #expect([a1, a2, a3, a4] == [2, 2, 1, 1])
        let c = x.counters()
        #expect(c.decapsulated == 2)
        #expect(c.rejected[.sourceNotAllowed] == 2)
    }

    @Test func malformedTunnelPacketsAreDroppedAndCounted() throws {
        let x = try load()
        // A GUE control message (C bit), and an unknown GUE protocol.
        var control = Self.tunnelled(v6Inner: false, from: Self.dip, to: Self.rs, type: .gue)
        control[42] = 0x20
        var tcpInGUE = Self.tunnelled(v6Inner: false, from: Self.dip, to: Self.rs, type: .gue)
        tcpInGUE[43] = IPProto.tcp
        // An outer fragment.
        var fragment = Self.tunnelled(v6Inner: false, from: Self.dip, to: Self.rs, type: .ipip)
        fragment[20] = 0x20  // more fragments
        // IPIP announcing IPv4 but carrying IPv6.
        var mismatch = Self.tunnelled(v6Inner: true, from: Self.dip, to: Self.rs, type: .ipip)
        mismatch[23] = IPProto.ipip
        for frame in [control, tcpInGUE, fragment, mismatch] {
            #expect(try x.run(frame).action == 1)
        }
        let c = x.counters()
        #expect(c.rejected[.unsupportedGUE] == 2)
        #expect(c.rejected[.badOuter] == 1)
        #expect(c.rejected[.badInner] == 1)
        #expect(c.decapsulated == 0)
    }
}
