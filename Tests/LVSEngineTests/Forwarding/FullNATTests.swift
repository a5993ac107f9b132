import LVSPacket
import Testing

@testable import LVSEngine

/// FULLNAT: source -> LIP:lport from the service's local addresses, destination -> RIP:rport;
/// replies to LIP:lport go back as VIP:vport -> CIP:cport. One port pool per LIP, a port used once
/// per real server, LIPs taken in turn, exhaustion counted. Expected frames are built
/// independently with full checksums.
@Suite struct FullNATTests {
    let c = Lab.client, v = Lab.vip, r1 = Lab.rs1, r2 = Lab.rs2
    let lip1 = IPAddress("172.16.40.10")!, lip2 = IPAddress("172.16.40.11")!
    let syn = TCPFlag.syn, ack = TCPFlag.ack

    func director(_ servers: [IPAddress] = [Lab.rs1], lips: [IPAddress]? = nil,
                  range: ClosedRange<UInt16> = 1024...65535) -> Director {
        let d = Director(DirectorConfiguration(connectionCapacity: 1024))
        try! d.addService(ServiceSpec(Lab.web, scheduler: "rr", virtualPortRange: range, localAddresses: lips ?? [lip1]))
        for s in servers {
            try! d.addDestination(DestinationSpec(address: s, port: 8080, method: .fullNAT), to: Lab.web)
        }
        return d
    }

    func synFrame(_ cport: UInt16) -> [UInt8] {
        Lab.eth().ipv4(src: c, dst: v).tcp(src: cport, dst: 80, flags: syn, seq: 7).bytes()
    }

    func ends(_ out: [UInt8]) -> (IPAddress, UInt16, IPAddress, UInt16) {
        var copy = out
        return copy.withUnsafeMutableBytes { buf in
            guard case .ok(let p) = PacketParser.parse(buf) else { return (.zero, 0, .zero, 0) }
            return (p.src, p.srcPort, p.dst, p.dstPort)
        }
    }

    @Test func synGoesFromLIPlportToRIPrport() {
        let h = FrameHarness(director())
        let (verdict, out) = h.run(synFrame(40000))
        #expect(verdict == .forward(side: .realServer, nextHop: r1))
        #expect(out == Lab.eth().ipv4(src: lip1, dst: r1).tcp(src: 1024, dst: 8080, flags: syn, seq: 7).bytes())
        #expect(checksumsVerify(out))
    }

    @Test func replyToLIPlportGoesBackFromTheVIP() {
        let h = FrameHarness(director())
        _ = h.run(synFrame(40000))
        let reply = Lab.eth().ipv4(src: r1, dst: lip1).tcp(src: 8080, dst: 1024, flags: syn | ack, seq: 5, ack: 8)
            .payload("hello").bytes()
        let (verdict, out) = h.run(reply)
        #expect(verdict == .forward(side: .client, nextHop: c))
        #expect(out == Lab.eth().ipv4(src: v, dst: c).tcp(src: 80, dst: 40000, flags: syn | ack, seq: 5, ack: 8)
            .payload("hello").bytes())
        #expect(checksumsVerify(out))
        // A reply to the VIP (not the LIP) is not this connection's.
        let wrong = Lab.eth().ipv4(src: r1, dst: v).tcp(src: 8080, dst: 1024, flags: ack).bytes()
        #expect(h.run(wrong).0 == .drop(.noService))
    }

    /// LIP slots are finite (4,096; 64 here); the slots of LIPs that no service lists any more
    /// are reused, except while a connection still holds a port of that LIP.
    @Test func slotsOfUnlistedLIPsAreReusedButNotWhileAConnectionHoldsOne() throws {
        let d = director()
        d.localAddressLimit = 64
        let h = FrameHarness(d)
        #expect(h.run(synFrame(40000)).0 == .forward(side: .realServer, nextHop: r1))  // held on lip1
        // 20 edits of 16 new LIPs each: 320 distinct LIPs, five times the slots.
        var last: [IPAddress] = []
        for i in 0..<20 {
            last = (0..<16).map { IPAddress(v4: 0x0a64_0000 &+ UInt32(i * 16 + $0)) }
            try d.editService(ServiceSpec(Lab.web, scheduler: "rr", localAddresses: last))
        }
        // lip1's connection still translates its reply: its slot was not handed to another LIP.
        let reply = Lab.eth().ipv4(src: r1, dst: lip1).tcp(src: 8080, dst: 1024, flags: syn | ack, seq: 5, ack: 8).bytes()
        let (back, out) = h.run(reply)
        #expect(back == .forward(side: .client, nextHop: c))
        #expect(ends(out).0 == v)
        // New connections come from the current LIPs.
        let (verdict, fresh) = h.run(synFrame(40001))
        #expect(verdict == .forward(side: .realServer, nextHop: r1))
        #expect(last.contains(ends(fresh).0))
        #expect(d.localAddresses == last)
    }

    @Test func lipsAreTakenInTurnAndEachHasItsOwnPorts() {
        let d = director(lips: [lip1, lip2], range: 5000...5000)
        let h = FrameHarness(d)
        let a = ends(h.run(synFrame(40000)).1)
        let b = ends(h.run(synFrame(40001)).1)
        #expect(a.0 == lip1 && a.1 == 5000)
        #expect(b.0 == lip2 && b.1 == 5000)
        // One port per LIP and one server: the third connection is refused, and counted.
        #expect(h.run(synFrame(40002)).0 == .drop(.portsExhausted))
        #expect(d.counters[.portsExhausted] == 1)
        #expect(d.virtualPortsHeld(lip1) == 1 && d.virtualPortsHeld(lip2) == 1)
    }

    @Test func aPortIsUsedOncePerServer() {
        let d = director([r1, r2], range: 6000...6000)
        let h = FrameHarness(d)
        let a = ends(h.run(synFrame(40000)).1)
        let b = ends(h.run(synFrame(40001)).1)
        #expect(a.0 == lip1 && a.1 == 6000 && a.2 == r1)
        #expect(b.0 == lip1 && b.1 == 6000 && b.2 == r2)
        #expect(h.run(synFrame(40002)).0 == .drop(.portsExhausted))
        // Both replies find their own connection through the same LIP:lport.
        let (v1, o1) = h.run(Lab.eth().ipv4(src: r1, dst: lip1).tcp(src: 8080, dst: 6000, flags: syn | ack).bytes())
        let (v2, o2) = h.run(Lab.eth().ipv4(src: r2, dst: lip1).tcp(src: 8080, dst: 6000, flags: syn | ack).bytes())
        #expect(v1 == .forward(side: .client, nextHop: c) && ends(o1).3 == 40000)
        #expect(v2 == .forward(side: .client, nextHop: c) && ends(o2).3 == 40001)
    }

    @Test func expiryGivesThePortBack() {
        let d = director(range: 7000...7000)
        let h = FrameHarness(d)
        _ = h.run(synFrame(40000))
        #expect(h.run(synFrame(40001)).0 == .drop(.portsExhausted))
        d.advance(to: Timestamp(milliseconds: 1000 + 60_000 + 100))
        #expect(d.virtualPortsHeld(lip1) == 0)
        let (verdict, out) = h.run(synFrame(40001), now: Timestamp(milliseconds: 62_000))
        #expect(verdict == .forward(side: .realServer, nextHop: r1))
        #expect(ends(out).1 == 7000)
    }

    @Test func ipv6() {
        let l6 = IPAddress("fd00:40::10")!
        let d = Director(DirectorConfiguration(connectionCapacity: 64))
        try! d.addService(ServiceSpec(Lab.web6, scheduler: "rr", localAddresses: [l6]))
        try! d.addDestination(DestinationSpec(address: Lab.rs6, port: 8080, method: .fullNAT), to: Lab.web6)
        let h = FrameHarness(d)
        let (v1, out) = h.run(Lab.eth().ipv6(src: Lab.client6, dst: Lab.vip6).tcp(src: 41000, dst: 80, flags: syn).bytes())
        #expect(v1 == .forward(side: .realServer, nextHop: Lab.rs6))
        #expect(out == Lab.eth().ipv6(src: l6, dst: Lab.rs6).tcp(src: 1024, dst: 8080, flags: syn).bytes())
        let (v2, back) = h.run(Lab.eth().ipv6(src: Lab.rs6, dst: l6).tcp(src: 8080, dst: 1024, flags: syn | ack).bytes())
        #expect(v2 == .forward(side: .client, nextHop: Lab.client6))
        #expect(back == Lab.eth().ipv6(src: Lab.vip6, dst: Lab.client6).tcp(src: 80, dst: 41000, flags: syn | ack).bytes())
        #expect(checksumsVerify(out) && checksumsVerify(back))
    }

    func quote(_ b: PacketBuilder) -> [UInt8] { Array(b.bytes().prefix(28)) }

    @Test func icmpFromTheServerSideToTheLIPReachesTheClient() {
        let h = FrameHarness(director())
        _ = h.run(synFrame(40000))
        let hop = IPAddress("192.168.20.1")!
        let quoted = PacketBuilder().ipv4(src: lip1, dst: r1).tcp(src: 1024, dst: 8080, flags: syn)
        let input = Lab.eth().ipv4(src: hop, dst: lip1).icmp(type: ICMPv4Type.timeExceeded).payload(quote(quoted)).bytes()
        let expected = Lab.eth().ipv4(src: v, dst: c).icmp(type: ICMPv4Type.timeExceeded)
            .payload(quote(PacketBuilder().ipv4(src: c, dst: v).tcp(src: 40000, dst: 80, flags: syn))).bytes()
        let (verdict, out) = h.run(input)
        #expect(verdict == .forward(side: .client, nextHop: c))
        #expect(out == expected)
        #expect(checksumsVerify(out))
    }

    @Test func icmpFromTheClientSideReachesTheServerFromTheLIP() {
        let h = FrameHarness(director())
        _ = h.run(synFrame(40000))
        let quoted = PacketBuilder().ipv4(src: v, dst: c).tcp(src: 80, dst: 40000, flags: ack)
        let input = Lab.eth().ipv4(src: Lab.router, dst: v)
            .icmp(type: ICMPv4Type.destinationUnreachable, code: ICMPv4Type.codeFragmentationNeeded, rest: 1400)
            .payload(quote(quoted)).bytes()
        let expected = Lab.eth().ipv4(src: lip1, dst: r1)
            .icmp(type: ICMPv4Type.destinationUnreachable, code: ICMPv4Type.codeFragmentationNeeded, rest: 1400)
            .payload(quote(PacketBuilder().ipv4(src: r1, dst: lip1).tcp(src: 8080, dst: 1024, flags: ack))).bytes()
        let (verdict, out) = h.run(input)
        #expect(verdict == .forward(side: .realServer, nextHop: r1))
        #expect(out == expected)
        #expect(checksumsVerify(out))
    }

    @Test func controlPlaneRules() throws {
        let d = Director(DirectorConfiguration(connectionCapacity: 64))
        try d.addService(ServiceSpec(Lab.web, scheduler: "rr"))
        #expect(throws: DirectorError.invalid("a FULLNAT real server needs local addresses on its service (--laddr)")) {
            try d.addDestination(DestinationSpec(address: r1, port: 8080, method: .fullNAT), to: Lab.web)
        }
        try d.editService(ServiceSpec(Lab.web, scheduler: "rr", localAddresses: [lip1]))
        try d.addDestination(DestinationSpec(address: r1, port: 8080, method: .fullNAT), to: Lab.web)
        #expect(throws: DirectorError.invalid("the service has FULLNAT real servers: it needs local addresses (--laddr)")) {
            try d.editService(ServiceSpec(Lab.web, scheduler: "rr"))
        }
        #expect(throws: DirectorError.self) {
            try d.editService(ServiceSpec(Lab.web, scheduler: "rr", localAddresses: [IPAddress("fd00::1")!]))
        }
        #expect(d.localAddresses == [lip1])
        #expect(d.service(Lab.web)?.localAddresses == [lip1])
    }
}
