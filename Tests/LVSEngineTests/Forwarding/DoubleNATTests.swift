import LVSPacket
import Testing

@testable import LVSEngine

/// Double-NAT (double-nat.md): both ends translated, IN and OUT keys, vdport allocation with
/// per-port reuse across real servers, the VIP's service ports excluded, exhaustion counted.
/// Expected frames are built independently with full checksums, so incremental updates are
/// checked byte for byte.
@Suite struct DoubleNATTests {
    let c = Lab.client, v = Lab.vip, r1 = Lab.rs1, r2 = Lab.rs2
    let syn = TCPFlag.syn, ack = TCPFlag.ack

    /// TCP VIP:80 and UDP VIP:53 with Double-NAT servers `servers` (port 8080 / 5353).
    func director(_ servers: [IPAddress] = [Lab.rs1], range: ClosedRange<UInt16> = 1024...65535,
                  capacity: Int = 1024) -> Director {
        let d = Director(DirectorConfiguration(connectionCapacity: capacity))
        try! d.addService(ServiceSpec(Lab.web, scheduler: "rr", virtualPortRange: range))
        try! d.addService(ServiceSpec(Lab.dns, scheduler: "rr", virtualPortRange: range))
        for s in servers {
            try! d.addDestination(DestinationSpec(address: s, port: 8080, method: .doubleNAT), to: Lab.web)
            try! d.addDestination(DestinationSpec(address: s, port: 5353, method: .doubleNAT), to: Lab.dns)
        }
        return d
    }

    func synFrame(_ cport: UInt16) -> [UInt8] {
        Lab.eth().ipv4(src: c, dst: v).tcp(src: cport, dst: 80, flags: syn, seq: 7).bytes()
    }

    /// (destination, source port) of a forwarded IPv4 TCP/UDP frame.
    func forwardedTo(_ out: [UInt8]) -> (IPAddress, UInt16, UInt16) {
        var copy = out
        return copy.withUnsafeMutableBytes { buf in
            guard case .ok(let p) = PacketParser.parse(buf) else { return (.zero, 0, 0) }
            return (p.dst, p.srcPort, p.dstPort)
        }
    }

    @Test func synBecomesVIPvdportToRIPrport() {
        let h = FrameHarness(director())
        let (verdict, out) = h.run(synFrame(40000))
        #expect(verdict == .forward(side: .realServer, nextHop: r1))
        #expect(out == Lab.eth().ipv4(src: v, dst: r1).tcp(src: 1024, dst: 8080, flags: syn, seq: 7).bytes())
        #expect(checksumsVerify(out))
    }

    @Test func replyToVIPvdportBecomesVIPvportToClient() {
        let h = FrameHarness(director())
        _ = h.run(synFrame(40000))
        let reply = PacketBuilder().ethernet(src: .zero, dst: .broadcast).ipv4(src: r1, dst: v)
            .tcp(src: 8080, dst: 1024, flags: syn | ack, seq: 99, ack: 8).payload("hello").bytes()
        let (verdict, out) = h.run(reply)
        #expect(verdict == .forward(side: .client, nextHop: c))
        #expect(out == PacketBuilder().ethernet(src: .zero, dst: .broadcast).ipv4(src: v, dst: c)
            .tcp(src: 80, dst: 40000, flags: syn | ack, seq: 99, ack: 8).payload("hello").bytes())
        #expect(checksumsVerify(out))
        // Data after the handshake keeps the same vdport.
        let (_, data) = h.run(Lab.eth().ipv4(src: c, dst: v).tcp(src: 40000, dst: 80, flags: ack, seq: 8).payload("GET /").bytes())
        #expect(data == Lab.eth().ipv4(src: v, dst: r1).tcp(src: 1024, dst: 8080, flags: ack, seq: 8).payload("GET /").bytes())
    }

    @Test func aReplyToAnUnknownVdportIsDroppedAndCounted() {
        let d = director()
        let h = FrameHarness(d)
        _ = h.run(synFrame(40000))
        let stray = Lab.eth().ipv4(src: r1, dst: v).tcp(src: 8080, dst: 1025, flags: ack).bytes()
        #expect(h.run(stray).0 == .drop(.noService))
    }

    @Test func udpBothWaysAndPartialChecksum() {
        let h = FrameHarness(director())
        let (v1, q) = h.run(Lab.eth().ipv4(src: c, dst: v).udp(src: 5000, dst: 53).payload("q1").bytes())
        #expect(v1 == .forward(side: .realServer, nextHop: r1))
        #expect(q == Lab.eth().ipv4(src: v, dst: r1).udp(src: 1024, dst: 5353).payload("q1").bytes())
        let (v2, a) = h.run(Lab.eth().ipv4(src: r1, dst: v).udp(src: 5353, dst: 1024).payload("answer").bytes())
        #expect(v2 == .forward(side: .client, nextHop: c))
        #expect(a == Lab.eth().ipv4(src: v, dst: c).udp(src: 53, dst: 5000).payload("answer").bytes())
        let partialIn = Lab.eth().ipv4(src: c, dst: v).tcp(src: 40009, dst: 80, flags: syn).payload("x").l4Checksum(.partial).bytes()
        let (_, p) = h.run(partialIn, partial: true)
        // The UDP flow holds 1024 towards rs1:5353; rs1:8080 may hold the same port.
        #expect(p == Lab.eth().ipv4(src: v, dst: r1).tcp(src: 1024, dst: 8080, flags: syn).payload("x").l4Checksum(.partial).bytes())
    }

    @Test func ipv6BothWays() {
        let d = Director(DirectorConfiguration(connectionCapacity: 64))
        try! d.addService(ServiceSpec(Lab.web6, scheduler: "rr"))
        try! d.addDestination(DestinationSpec(address: Lab.rs6, port: 8080, method: .doubleNAT), to: Lab.web6)
        let h = FrameHarness(d)
        let (v1, out) = h.run(Lab.eth().ipv6(src: Lab.client6, dst: Lab.vip6).tcp(src: 41000, dst: 80, flags: syn).bytes())
        #expect(v1 == .forward(side: .realServer, nextHop: Lab.rs6))
        #expect(out == Lab.eth().ipv6(src: Lab.vip6, dst: Lab.rs6).tcp(src: 1024, dst: 8080, flags: syn).bytes())
        let (v2, back) = h.run(Lab.eth().ipv6(src: Lab.rs6, dst: Lab.vip6).tcp(src: 8080, dst: 1024, flags: syn | ack).payload("hi").bytes())
        #expect(v2 == .forward(side: .client, nextHop: Lab.client6))
        #expect(back == Lab.eth().ipv6(src: Lab.vip6, dst: Lab.client6).tcp(src: 80, dst: 41000, flags: syn | ack).payload("hi").bytes())
        #expect(checksumsVerify(out) && checksumsVerify(back))
    }

    /// The paper's per-port counting: with N servers each port is held up to N times, once per
    /// RIP:rport, so a 2-port range with 2 servers holds exactly 4 connections; the 5th is refused
    /// (counted, not crashed) and existing flows keep working.
    @Test func eachPortIsHeldOncePerServerThenExhaustionIsCounted() {
        let d = director([r1, r2], range: 2000...2001)
        let h = FrameHarness(d)
        var seen = Set<String>()
        for i in 0..<4 {
            let (verdict, out) = h.run(synFrame(UInt16(40000 + i)))
            guard case .forward(side: .realServer, _) = verdict else {
                Issue.record("connection \(i) refused: \(verdict)")
                return
            }
            let (dst, sport, _) = forwardedTo(out)
            #expect((2000...2001).contains(sport))
            seen.insert("\(dst):\(sport)")
        }
        #expect(seen.count == 4)  // every (RIP, vdport) pair distinct
        #expect(d.virtualPortsHeld(v) == 4)
        let (refused, _) = h.run(synFrame(40100))
        #expect(refused == .drop(.portsExhausted))
        #expect(d.counters[.portsExhausted] == 1)
        #expect(d.connectionCount == 4)
        // An existing flow is untouched.
        let (again, _) = h.run(Lab.eth().ipv4(src: c, dst: v).tcp(src: 40000, dst: 80, flags: ack).bytes())
        #expect(again == .forward(side: .realServer, nextHop: r1))
    }

    /// A pool full for one server but not for the other (every port has 1 holder of 2, so each
    /// needs a table probe): a refused search stops after `maxPortProbes` probes and the next one
    /// resumes where it stopped, so a port freed far from the cursor is found by a later SYN.
    @Test func aRefusedSearchIsBoundedAndTheNextResumesWhereItStopped() {
        let n = 3000
        let d = director([r1, r2], range: 10000...UInt16(10000 + n - 1), capacity: 8192)
        // r2 quiesced: every connection goes to r1.
        try! d.editDestination(DestinationSpec(address: r2, port: 8080, weight: 0, method: .doubleNAT), in: Lab.web)
        let h = FrameHarness(d)
        let t0 = Timestamp(milliseconds: 1000)
        var portOf: [UInt16: UInt16] = [:]  // vdport -> client port
        for i in 0..<n {
            let cport = UInt16(20000 + i)
            let (verdict, out) = h.run(synFrame(cport), now: t0)
            guard case .forward(side: .realServer, nextHop: r1) = verdict else {
                Issue.record("connection \(i): \(verdict)")
                return
            }
            portOf[forwardedTo(out).1] = cport
        }
        #expect(d.virtualPortsHeld(v) == n)
        // The connection on vdport 12500 is established, then reset by the client; its CLOSE
        // entry expires long before the others (SYN_RECV), and gives the port back. (An RST in
        // SYN_RECV keeps SYN_RECV, as in IPVS.)
        let victim = portOf[12500]!
        _ = h.run(Lab.eth().ipv4(src: c, dst: v).tcp(src: victim, dst: 80, flags: ack, seq: 8).bytes(), now: t0)
        _ = h.run(Lab.eth().ipv4(src: c, dst: v).tcp(src: victim, dst: 80, flags: TCPFlag.rst, seq: 8).bytes(), now: t0)
        d.advance(to: Timestamp(milliseconds: 1000 + 20_000))
        #expect(d.virtualPortsHeld(v) == n - 1)
        // The cursor is back at 10000: probes 10000-11023, then 11024-12047, are refused; the
        // third search reaches 12500.
        let later = Timestamp(milliseconds: 1000 + 21_000)
        #expect(h.run(synFrame(30000), now: later).0 == .drop(.portsExhausted))
        #expect(h.run(synFrame(30001), now: later).0 == .drop(.portsExhausted))
        let (third, out) = h.run(synFrame(30002), now: later)
        #expect(third == .forward(side: .realServer, nextHop: r1))
        #expect(forwardedTo(out).1 == 12500)
        #expect(d.counters[.portsExhausted] == 2)
    }

    @Test func theVIPsServicePortsAreNeverHandedOut() {
        // Services on VIP ports 80 and 53 (the UDP one); 81 is added as a third service port.
        let d = director(range: 79...82)
        try! d.addService(ServiceSpec(ServiceKey(.tcp, v, 81), scheduler: "rr"))
        let h = FrameHarness(d)
        var ports: [UInt16] = []
        for i in 0..<3 {
            let (verdict, out) = h.run(synFrame(UInt16(41000 + i)))
            if case .forward = verdict { ports.append(forwardedTo(out).1) }
        }
        #expect(ports == [79, 82])
        #expect(d.counters[.portsExhausted] == 1)
    }

    @Test func expiryReturnsThePortToThePool() {
        let d = director(range: 3000...3000)
        let h = FrameHarness(d)
        #expect(h.run(synFrame(40000)).0 == .forward(side: .realServer, nextHop: r1))
        #expect(h.run(synFrame(40001)).0 == .drop(.portsExhausted))
        #expect(d.virtualPortsHeld(v) == 1)
        d.advance(to: Timestamp(milliseconds: 1000 + 60_000 + 100))  // SYN_RECV's 60 s timeout
        #expect(d.connectionCount == 0)
        #expect(d.virtualPortsHeld(v) == 0)
        let (verdict, out) = h.run(synFrame(40001), now: Timestamp(milliseconds: 62_000))
        #expect(verdict == .forward(side: .realServer, nextHop: r1))
        #expect(forwardedTo(out).1 == 3000)
    }

    @Test func removingTheServiceFreesItsPorts() throws {
        let d = director([r1, r2], range: 2000...2009)
        let h = FrameHarness(d)
        for i in 0..<6 { _ = h.run(synFrame(UInt16(40000 + i))) }
        #expect(d.virtualPortsHeld(v) == 6)
        try d.removeService(Lab.web)
        #expect(d.virtualPortsHeld(v) == 0)
        try d.removeService(Lab.dns)
        #expect(d.virtualPortPools.isEmpty)
    }

    @Test func aNewSYNOnAFinishedTupleTakesAFreshPort() {
        let d = director(range: 4000...4001)
        let h = FrameHarness(d)
        _ = h.run(synFrame(40000))
        // Server RST: the connection goes to CLOSE; a new SYN with the same tuple is rescheduled.
        _ = h.run(Lab.eth().ipv4(src: r1, dst: v).tcp(src: 8080, dst: 4000, flags: TCPFlag.rst).bytes())
        let (verdict, out) = h.run(synFrame(40000))
        #expect(verdict == .forward(side: .realServer, nextHop: r1))
        #expect(forwardedTo(out).1 == 4001)
        #expect(d.virtualPortsHeld(v) == 1)
        #expect(d.connectionCount == 1)
    }

    /// The first 28 bytes (IP header + 8) of a packet, as an ICMP error quotes it.
    func quote(_ b: PacketBuilder) -> [UInt8] { Array(b.bytes().prefix(28)) }

    @Test func icmpFromTheServerSideReachesTheClientAsAboutItsOwnPacket() {
        let h = FrameHarness(director())
        _ = h.run(synFrame(40000))
        let hop = IPAddress("192.168.20.1")!
        let quoted = PacketBuilder().ipv4(src: v, dst: r1).tcp(src: 1024, dst: 8080, flags: syn)
        let input = Lab.eth().ipv4(src: hop, dst: v).icmp(type: ICMPv4Type.timeExceeded).payload(quote(quoted)).bytes()
        let expected = Lab.eth().ipv4(src: v, dst: c).icmp(type: ICMPv4Type.timeExceeded)
            .payload(quote(PacketBuilder().ipv4(src: c, dst: v).tcp(src: 40000, dst: 80, flags: syn))).bytes()
        let (verdict, out) = h.run(input)
        #expect(verdict == .forward(side: .client, nextHop: c))
        #expect(out == expected)
        #expect(checksumsVerify(out))
    }

    @Test func icmpFromTheClientSideReachesTheServerAsAboutItsOwnPacket() {
        let h = FrameHarness(director())
        _ = h.run(synFrame(40000))
        let quoted = PacketBuilder().ipv4(src: v, dst: c).tcp(src: 80, dst: 40000, flags: ack)
        let input = Lab.eth().ipv4(src: Lab.router, dst: v)
            .icmp(type: ICMPv4Type.destinationUnreachable, code: ICMPv4Type.codeFragmentationNeeded, rest: 1400)
            .payload(quote(quoted)).bytes()
        let expected = Lab.eth().ipv4(src: v, dst: r1)
            .icmp(type: ICMPv4Type.destinationUnreachable, code: ICMPv4Type.codeFragmentationNeeded, rest: 1400)
            .payload(quote(PacketBuilder().ipv4(src: r1, dst: v).tcp(src: 8080, dst: 1024, flags: ack))).bytes()
        let (verdict, out) = h.run(input)
        #expect(verdict == .forward(side: .realServer, nextHop: r1))
        #expect(out == expected)
        #expect(checksumsVerify(out))
    }

    @Test func natAndDoubleNATServersMixInOneService() {
        let d = Director(DirectorConfiguration(connectionCapacity: 64))
        try! d.addService(ServiceSpec(Lab.web, scheduler: "rr"))
        try! d.addDestination(DestinationSpec(address: r1, port: 8080, method: .masquerade), to: Lab.web)
        try! d.addDestination(DestinationSpec(address: r2, port: 8080, method: .doubleNAT), to: Lab.web)
        let h = FrameHarness(d)
        let (_, a) = h.run(synFrame(40000))
        let (_, b) = h.run(synFrame(40001))
        #expect(a == Lab.eth().ipv4(src: c, dst: r1).tcp(src: 40000, dst: 8080, flags: syn, seq: 7).bytes())
        #expect(b == Lab.eth().ipv4(src: v, dst: r2).tcp(src: 1024, dst: 8080, flags: syn, seq: 7).bytes())
        #expect(d.virtualPortsHeld(v) == 1)
    }
}
