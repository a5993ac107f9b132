import LVSPacket
import Testing

@testable import LVSEngine

/// PROXY protocol v2 on FULLNAT: the header's exact bytes, its insertion before the client's first
/// payload byte, and the sequence shift both ways (client seq up, server ack and SACK down).
@Suite struct ProxyProtocolTests {
    let c = Lab.client, v = Lab.vip, r1 = Lab.rs1
    let lip = IPAddress("172.16.40.10")!
    let syn = TCPFlag.syn, ack = TCPFlag.ack, psh = TCPFlag.psh

    /// The v2 header for client 192.0.2.10:40000 -> 10.0.0.100:80, written out by hand.
    let header4: [UInt8] = [
        0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A,  // signature
        0x21, 0x11, 0x00, 0x0C,  // v2 PROXY, AF_INET STREAM, 12 address bytes
        192, 0, 2, 10, 10, 0, 0, 100,  // source, destination address
        0x9C, 0x40, 0x00, 0x50,  // ports 40000, 80
    ]

    func director(proxy: ClientAddressDelivery = .proxyV2) -> Director {
        let d = Director(DirectorConfiguration(connectionCapacity: 64))
        try! d.addService(ServiceSpec(Lab.web, scheduler: "rr", localAddresses: [lip], clientAddress: proxy))
        try! d.addDestination(DestinationSpec(address: r1, port: 8080, method: .fullNAT), to: Lab.web)
        return d
    }

    func fromClient(_ flags: UInt8, seq: UInt32, ack a: UInt32 = 0, _ data: String = "") -> PacketBuilder {
        Lab.eth().ipv4(src: c, dst: v).tcp(src: 40000, dst: 80, flags: flags, seq: seq, ack: a).payload(data)
    }

    func toServer(_ flags: UInt8, seq: UInt32, ack a: UInt32 = 0, _ data: [UInt8]) -> PacketBuilder {
        Lab.eth().ipv4(src: lip, dst: r1).tcp(src: 1024, dst: 8080, flags: flags, seq: seq, ack: a).payload(data)
    }

    /// Handshake: SYN (client ISN 100), SYN-ACK (server ISN 5000), ACK; returns the harness.
    func established(_ d: Director) -> FrameHarness {
        let h = FrameHarness(d)
        _ = h.run(fromClient(syn, seq: 100).bytes())
        _ = h.run(Lab.eth().ipv4(src: r1, dst: lip).tcp(src: 8080, dst: 1024, flags: syn | ack, seq: 5000, ack: 101).bytes())
        let (_, a) = h.run(fromClient(ack, seq: 101, ack: 5001).bytes())
        #expect(a == toServer(ack, seq: 101, ack: 5001, []).bytes())  // no payload: nothing inserted
        return h
    }

    @Test func headerBytes() {
        var buf = [UInt8](repeating: 0, count: 52)
        buf.withUnsafeMutableBytes {
            ProxyProtocolV2.write($0.baseAddress!, source: c, sport: 40000, destination: v, dport: 80)
        }
        #expect(Array(buf.prefix(28)) == header4)
        buf.withUnsafeMutableBytes {
            ProxyProtocolV2.write($0.baseAddress!, source: IPAddress("2001:db8::1")!, sport: 1,
                                  destination: IPAddress("2001:db8::2")!, dport: 443)
        }
        #expect(Array(buf[12..<16]) == [0x21, 0x21, 0x00, 0x24])
        #expect(Array(buf[16..<32]) == [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [1])
        #expect(Array(buf[48..<52]) == [0x00, 0x01, 0x01, 0xbb])
    }

    @Test func headerGoesBeforeTheFirstPayloadByteAndSequencesShift() {
        let h = established(director())
        let (v1, first) = h.run(fromClient(ack | psh, seq: 101, ack: 5001, "GET /").bytes())
        #expect(v1 == .forward(side: .realServer, nextHop: r1))
        #expect(first == toServer(ack | psh, seq: 101, ack: 5001, header4 + Array("GET /".utf8)).bytes())
        #expect(checksumsVerify(first))
        // The next client segment moves up by the 28 header bytes.
        let (_, second) = h.run(fromClient(ack | psh, seq: 106, ack: 5001, "x").bytes())
        #expect(second == toServer(ack | psh, seq: 134, ack: 5001, Array("x".utf8)).bytes())
        // The server acknowledges 101 + 28 + 6 = 135: the client hears 107.
        let (_, back) = h.run(Lab.eth().ipv4(src: r1, dst: lip).tcp(src: 8080, dst: 1024, flags: ack, seq: 5001, ack: 135)
            .payload("HTTP/1.1 200").bytes())
        #expect(back == Lab.eth().ipv4(src: v, dst: c).tcp(src: 80, dst: 40000, flags: ack, seq: 5001, ack: 107)
            .payload("HTTP/1.1 200").bytes())
        #expect(checksumsVerify(back))
        // A retransmission of the first segment carries the header again, at the same sequence number.
        let (_, again) = h.run(fromClient(ack | psh, seq: 101, ack: 5001, "GET /").bytes())
        #expect(again == first)
    }

    @Test func sackEdgesMoveBackToo() {
        let h = established(director())
        _ = h.run(fromClient(ack | psh, seq: 101, ack: 5001, "GET /").bytes())
        // SACK (kind 5, len 10): one block 200..300 in the server's view = 172..272 for the client.
        let sack: (UInt32, UInt32) -> [UInt8] = { l, r in
            [1, 1, 5, 10] + [UInt8(l >> 24), UInt8(l >> 16 & 0xff), UInt8(l >> 8 & 0xff), UInt8(l & 0xff),
                             UInt8(r >> 24), UInt8(r >> 16 & 0xff), UInt8(r >> 8 & 0xff), UInt8(r & 0xff)]
        }
        let (_, out) = h.run(Lab.eth().ipv4(src: r1, dst: lip)
            .tcp(src: 8080, dst: 1024, flags: ack, seq: 5001, ack: 134, options: sack(200, 300)).bytes())
        #expect(out == Lab.eth().ipv4(src: v, dst: c)
            .tcp(src: 80, dst: 40000, flags: ack, seq: 5001, ack: 106, options: sack(172, 272)).bytes())
        // An ack inside the header (the server read part of it) maps to the first payload byte.
        let (_, mid) = h.run(Lab.eth().ipv4(src: r1, dst: lip).tcp(src: 8080, dst: 1024, flags: ack, seq: 5001, ack: 110).bytes())
        #expect(mid == Lab.eth().ipv4(src: v, dst: c).tcp(src: 80, dst: 40000, flags: ack, seq: 5001, ack: 101).bytes())
    }

    @Test func partialChecksumFrameGrowsWithThePseudoHeaderSum() {
        let h = established(director())
        let input = fromClient(ack | psh, seq: 101, ack: 5001, "GET /").l4Checksum(.partial).bytes()
        let (_, out) = h.run(input, partial: true)
        #expect(out == toServer(ack | psh, seq: 101, ack: 5001, header4 + Array("GET /".utf8)).l4Checksum(.partial).bytes())
    }

    @Test func noRoomIsACountedDrop() {
        let d = director()
        var h = established(d)
        h.headroom = 10
        let (verdict, _) = h.run(fromClient(ack | psh, seq: 101, ack: 5001, "GET /").bytes())
        #expect(verdict == .drop(.noRoomForHeader))
        #expect(d.counters[.noRoomForHeader] == 1)
        h.headroom = 256
        let (v2, out) = h.run(fromClient(ack | psh, seq: 101, ack: 5001, "GET /").bytes())
        #expect(v2 == .forward(side: .realServer, nextHop: r1))
        #expect(out == toServer(ack | psh, seq: 101, ack: 5001, header4 + Array("GET /".utf8)).bytes())
    }

    @Test func withoutProxyNothingIsInserted() {
        let h = established(director(proxy: .none))
        let (_, out) = h.run(fromClient(ack | psh, seq: 101, ack: 5001, "GET /").bytes())
        #expect(out == toServer(ack | psh, seq: 101, ack: 5001, Array("GET /".utf8)).bytes())
    }

    @Test func ipv6Header() {
        let l6 = IPAddress("fd00:40::10")!
        let d = Director(DirectorConfiguration(connectionCapacity: 64))
        try! d.addService(ServiceSpec(Lab.web6, scheduler: "rr", localAddresses: [l6], clientAddress: .proxyV2))
        try! d.addDestination(DestinationSpec(address: Lab.rs6, port: 8080, method: .fullNAT), to: Lab.web6)
        let h = FrameHarness(d)
        _ = h.run(Lab.eth().ipv6(src: Lab.client6, dst: Lab.vip6).tcp(src: 41000, dst: 80, flags: syn, seq: 1).bytes())
        let (_, out) = h.run(Lab.eth().ipv6(src: Lab.client6, dst: Lab.vip6).tcp(src: 41000, dst: 80, flags: ack, seq: 2).payload("hi").bytes())
        var header = [UInt8](repeating: 0, count: 52)
        header.withUnsafeMutableBytes {
            ProxyProtocolV2.write($0.baseAddress!, source: Lab.client6, sport: 41000, destination: Lab.vip6, dport: 80)
        }
        #expect(out == Lab.eth().ipv6(src: l6, dst: Lab.rs6).tcp(src: 1024, dst: 8080, flags: ack, seq: 2)
            .payload(header + Array("hi".utf8)).bytes())
        #expect(checksumsVerify(out))
    }
}
