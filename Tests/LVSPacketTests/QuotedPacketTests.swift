import LVSPacket
import Testing

/// `PacketParser.parseQuoted` on the packet inside ICMP / ICMPv6 errors.
@Suite struct QuotedPacketTests {
    /// An ICMP error frame quoting the first `quoteLength` bytes of `quoted`; returns the frame and
    /// where the quote starts and ends.
    func errorFrame(quoting quoted: [UInt8], _ quoteLength: Int, ipv6: Bool, vlan: UInt16? = nil)
        -> (frame: [UInt8], offset: Int, end: Int)
    {
        let quote = Array(quoted[..<min(quoteLength, quoted.count)])
        let b = PacketBuilder().ethernet(vlan: vlan)
        let frame =
            ipv6
            ? b.ipv6(src: real6, dst: vip6).icmp(type: ICMPv6Type.destinationUnreachable, code: 4).payload(quote)
                .bytes()
            : b.ipv4(src: real4, dst: vip4).icmp(type: 3, code: 3).payload(quote).bytes()
        let l3 = vlan == nil ? 14 : 18
        let offset = l3 + (ipv6 ? 40 : 20) + 8
        return (frame, offset, offset + quote.count)
    }

    func quoted(_ e: (frame: [UInt8], offset: Int, end: Int), ipv4: Bool) -> QuotedPacket? {
        withFrame(e.frame) { p, _ in PacketParser.parseQuoted(p, offset: e.offset, end: e.end, ipv4: ipv4) }
    }

    // MARK: IPv4

    @Test(arguments: [IPProto.udp, IPProto.tcp])
    func ipv4HeaderPlusEightBytes(proto: UInt8) throws {
        let inner = PacketBuilder().ipv4(src: vip4, dst: client4)
        let packet =
            proto == IPProto.udp
            ? inner.udp(src: 53, dst: 5353).payload([UInt8](repeating: 1, count: 100)).bytes()
            : inner.tcp(src: 80, dst: 40000, flags: 0x18).payload([UInt8](repeating: 1, count: 100)).bytes()
        let e = errorFrame(quoting: packet, 28, ipv6: false)
        // The outer frame itself parses as ICMP and the quote starts after its 8-byte header.
        let outer = try #require(parseFrame(e.frame).info)
        #expect(outer.l4Offset + 8 == e.offset && outer.l3End == e.end)
        let q = try #require(quoted(e, ipv4: true))
        #expect(q.l3Offset == e.offset)
        #expect(q.l4Offset == e.offset + 20)
        #expect(q.proto == proto)
        #expect(q.src == vip4 && q.dst == client4)
        #expect(q.srcPort == (proto == IPProto.udp ? 53 : 80))
        #expect(q.dstPort == (proto == IPProto.udp ? 5353 : 40000))
        #expect(!q.isFragment)
    }

    @Test func ipv4WithOptionsInTheQuote() throws {
        let packet = PacketBuilder().ipv4(src: vip4, dst: client4, options: [0x94, 4, 0, 0, 1, 1, 1, 0])
            .udp(src: 1000, dst: 2000).payload([0, 0, 0, 0]).bytes()
        let e = errorFrame(quoting: packet, 28 + 8, ipv6: false, vlan: 9)
        let q = try #require(quoted(e, ipv4: true))
        #expect(q.l4Offset == e.offset + 28)
        #expect(q.srcPort == 1000 && q.dstPort == 2000)
    }

    @Test(arguments: 0..<48)
    func ipv4QuoteLengths(length: Int) {
        // Header (20) + ports (4) are the minimum for UDP.
        let packet = PacketBuilder().ipv4(src: vip4, dst: client4).udp(src: 53, dst: 5353).payload(
            [UInt8](repeating: 9, count: 20)
        ).bytes()
        let e = errorFrame(quoting: packet, length, ipv6: false)
        let q = quoted(e, ipv4: true)
        #expect((q != nil) == (length >= 24), "quote of \(length) bytes")
        if let q {
            #expect(q.srcPort == 53 && q.dstPort == 5353)
        }
    }

    @Test func ipv4QuotedICMPNeedsOnlyTheHeader() throws {
        let packet = PacketBuilder().ipv4(src: vip4, dst: client4).icmp(type: 8, rest: 0x0102_0304).bytes()
        let e = errorFrame(quoting: packet, 20, ipv6: false)
        let q = try #require(quoted(e, ipv4: true))
        #expect(q.proto == IPProto.icmp && q.srcPort == 0 && q.dstPort == 0)
        #expect(q.l4Offset == e.end)
    }

    @Test func ipv4Fragments() throws {
        // A quoted first fragment has its ports; a later fragment's "ports" are payload.
        let first = PacketBuilder().ipv4(src: vip4, dst: client4, dontFragment: false, moreFragments: true)
            .udp(src: 53, dst: 5353).payload([UInt8](repeating: 0, count: 8)).bytes()
        let q = try #require(quoted(errorFrame(quoting: first, 28, ipv6: false), ipv4: true))
        #expect(!q.isFragment && q.srcPort == 53)
        let later = PacketBuilder().ipv4(
            src: vip4, dst: client4, dontFragment: false, moreFragments: true, fragmentOffset: 1480
        )
        .rawTransport(proto: IPProto.udp).payload([0, 53, 0x14, 0xe9, 0, 0, 0, 0]).bytes()
        #expect(quoted(errorFrame(quoting: later, 28, ipv6: false), ipv4: true) == nil)
        // A non-port protocol fragment is still described.
        let laterICMP = PacketBuilder().ipv4(src: vip4, dst: client4, dontFragment: false, fragmentOffset: 8)
            .rawTransport(proto: IPProto.icmp).payload([0, 0, 0, 0, 0, 0, 0, 0]).bytes()
        let qi = try #require(quoted(errorFrame(quoting: laterICMP, 28, ipv6: false), ipv4: true))
        #expect(qi.isFragment && qi.proto == IPProto.icmp)
    }

    @Test func ipv4BadHeaders() {
        let packet = PacketBuilder().ipv4(src: vip4, dst: client4).udp(src: 1, dst: 2).bytes()
        let e = errorFrame(quoting: packet, 28, ipv6: false)
        func withByte(_ at: Int, _ value: UInt8) -> QuotedPacket? {
            quoted((patched(e.frame, at: e.offset + at, [value]), e.offset, e.end), ipv4: true)
        }
        #expect(withByte(0, 0x65) == nil)  // version 6
        #expect(withByte(0, 0x44) == nil)  // IHL 4
        #expect(withByte(0, 0x48) == nil)  // IHL 8 = 32 bytes > 28 quoted
        #expect(withByte(0, 0x46) != nil)  // IHL 6 = 24 bytes, ports at 24..<28
        #expect(withByte(0, 0x47) == nil)  // IHL 7: header fits, ports do not
        // The quote's end, not the buffer's, bounds the parse.
        #expect(quoted((e.frame, e.offset, e.offset + 19), ipv4: true) == nil)
        #expect(quoted((e.frame, e.offset, e.offset - 1), ipv4: true) == nil)
        // IPv6 parsing of an IPv4 quote fails on length or version.
        #expect(quoted(e, ipv4: false) == nil)
    }

    // MARK: IPv6

    @Test func ipv6HeaderPlusEightBytes() throws {
        let packet = PacketBuilder().ipv6(src: vip6, dst: client6).tcp(src: 443, dst: 40000, flags: 0x10)
            .payload([UInt8](repeating: 2, count: 1200)).bytes()
        let e = errorFrame(quoting: packet, 48, ipv6: true)
        let outer = try #require(parseFrame(e.frame).info)
        #expect(outer.icmpType == ICMPv6Type.destinationUnreachable && outer.l4Offset + 8 == e.offset)
        let q = try #require(quoted(e, ipv4: false))
        #expect(q.l3Offset == e.offset && q.l4Offset == e.offset + 40)
        #expect(q.proto == IPProto.tcp && q.src == vip6 && q.dst == client6)
        #expect(q.srcPort == 443 && q.dstPort == 40000)
        #expect(!q.isFragment)
    }

    @Test func ipv6WithExtensionHeaders() throws {
        let packet = PacketBuilder().ipv6(
            src: vip6, dst: client6,
            extensions: [
                .init(type: IPProto.hopByHop, data: []),
                .init(type: IPProto.destinationOptions, data: [1, 8, 0, 0, 0, 0, 0, 0, 0, 0]),
                .init(type: IPProto.routing, data: [0, 0, 0, 0, 0, 0]), .fragment(offset: 0, more: true),
            ]
        ).udp(src: 5000, dst: 53).payload([UInt8](repeating: 0, count: 100)).bytes()
        let extLength = 8 + 16 + 8 + 8
        let e = errorFrame(quoting: packet, 40 + extLength + 8, ipv6: true)
        let q = try #require(quoted(e, ipv4: false))
        #expect(q.l4Offset == e.offset + 40 + extLength)
        #expect(q.proto == IPProto.udp && q.srcPort == 5000 && q.dstPort == 53)
        #expect(!q.isFragment)
        // Cut inside the ports, inside an extension header, inside the fixed header.
        #expect(quoted(errorFrame(quoting: packet, 40 + extLength + 3, ipv6: true), ipv4: false) == nil)
        #expect(quoted(errorFrame(quoting: packet, 40 + 12, ipv6: true), ipv4: false) == nil)
        #expect(quoted(errorFrame(quoting: packet, 39, ipv6: true), ipv4: false) == nil)
    }

    @Test func ipv6LaterFragmentHasNoPorts() throws {
        let packet = PacketBuilder().ipv6(src: vip6, dst: client6, extensions: [.fragment(offset: 1232, more: true)])
            .rawTransport(proto: IPProto.tcp).payload([UInt8](repeating: 3, count: 40)).bytes()
        #expect(quoted(errorFrame(quoting: packet, 56, ipv6: true), ipv4: false) == nil)
        let icmp = PacketBuilder().ipv6(src: vip6, dst: client6, extensions: [.fragment(offset: 8, more: false)])
            .rawTransport(proto: IPProto.icmpv6).payload([UInt8](repeating: 3, count: 8)).bytes()
        let q = try #require(quoted(errorFrame(quoting: icmp, 56, ipv6: true), ipv4: false))
        #expect(q.isFragment && q.proto == IPProto.icmpv6 && q.l4Offset == q.l3Offset + 48)
    }

    @Test func ipv6TooManyExtensionHeaders() {
        let ext = PacketBuilder.IPv6Extension(type: IPProto.destinationOptions, data: [])
        let eight = PacketBuilder().ipv6(src: vip6, dst: client6, extensions: Array(repeating: ext, count: 8)).udp(
            src: 1, dst: 2
        ).bytes()
        #expect(quoted(errorFrame(quoting: eight, eight.count, ipv6: true), ipv4: false)?.srcPort == 1)
        let nine = PacketBuilder().ipv6(src: vip6, dst: client6, extensions: Array(repeating: ext, count: 9)).udp(
            src: 1, dst: 2
        ).bytes()
        #expect(quoted(errorFrame(quoting: nine, nine.count, ipv6: true), ipv4: false) == nil)
    }

    @Test func ipv6ExtensionHeaderRunningPastTheQuote() {
        // A destination-options header claiming 2048 bytes, quoted with 8 of them: no transport
        // header is in the quote, whatever the protocol (and no offset may point past the end).
        let packet = PacketBuilder().ipv6(src: vip6, dst: client6).rawTransport(proto: IPProto.destinationOptions)
            .payload([IPProto.icmpv6, 255, 0, 0, 0, 0, 0, 0]).bytes()
        #expect(quoted(errorFrame(quoting: packet, packet.count, ipv6: true), ipv4: false) == nil)
    }

    @Test func ipv6BadVersion() {
        let packet = PacketBuilder().ipv6(src: vip6, dst: client6).udp(src: 1, dst: 2).bytes()
        let e = errorFrame(quoting: packet, 48, ipv6: true)
        #expect(quoted((patched(e.frame, at: e.offset, [0x45]), e.offset, e.end), ipv4: false) == nil)
        #expect(quoted(e, ipv4: true) == nil)  // version 6 read as IPv4
    }

    // MARK: Fuzz

    @Test func randomQuotesStayInBounds() {
        var g = SplitMix64(seed: 4443)
        let seeds: [[UInt8]] = [
            PacketBuilder().ipv4(src: vip4, dst: client4, options: [1, 1, 1, 0]).udp(src: 1, dst: 2).payload([1, 2, 3])
                .bytes(),
            PacketBuilder().ipv6(
                src: vip6, dst: client6,
                extensions: [.init(type: IPProto.hopByHop, data: []), .fragment(offset: 0, more: true)]
            ).tcp(src: 3, dst: 4, flags: 2).bytes(),
        ]
        var failures: [String] = []
        var found = 0
        for iteration in 0..<10_000 {
            let v6 = Bool.random(using: &g)
            var quote = seeds[v6 ? 1 : 0]
            for _ in 0..<Int.random(in: 1...3, using: &g) {
                quote[Int.random(in: 0..<min(quote.count, 64), using: &g)] = UInt8.random(in: 0...255, using: &g)
            }
            quote = Array(quote[..<Int.random(in: 0...quote.count, using: &g)])
            let lead = 8
            let frame = [UInt8](repeating: 0xcc, count: lead) + quote + [0xcc]  // a byte past `end`, to be ignored
            guard
                let q = withFrame(
                    frame, { p, _ in PacketParser.parseQuoted(p, offset: lead, end: lead + quote.count, ipv4: !v6) })
            else { continue }
            found += 1
            let end = lead + quote.count
            if !(q.l3Offset == lead && q.l4Offset >= lead + 20 && q.l4Offset <= end) {
                failures.append("#\(iteration): l4Offset \(q.l4Offset) outside \(lead + 20)...\(end)")
            }
            if (q.proto == IPProto.tcp || q.proto == IPProto.udp) && q.l4Offset + 4 > end {
                failures.append("#\(iteration): ports past the quote")
            }
            if failures.count > 5 { break }
        }
        #expect(failures.isEmpty, "\(failures)")
        #expect(found > 1000)
    }
}
