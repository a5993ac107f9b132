import LVSPacket
import Testing

@Suite struct IPv4ViewTests {
    @Test func fields() {
        let packet = PacketBuilder().ipv4(
            src: client4, dst: vip4, ttl: 17, tos: 0xb8, id: 0xbeef, dontFragment: false, moreFragments: true,
            fragmentOffset: 2960, options: [0x94, 4, 0, 0]
        ).rawTransport(proto: 253).payload([1, 2, 3]).bytes()
        withFrame(packet) { p, _ in
            let v = IPv4View(unchecked: p)
            #expect(v.version == 4)
            #expect(v.headerLength == 24)
            #expect(v.tos == 0xb8)
            #expect(v.totalLength == 27)
            #expect(v.identification == 0xbeef)
            #expect(!v.dontFragment && v.moreFragments)
            #expect(v.fragmentOffset == 2960)
            #expect(v.ttl == 17)
            #expect(v.proto == 253)
            #expect(v.source == client4 && v.destination == vip4)
            #expect(v.checksumIsValid)
            #expect(v.checksum == rawWord(packet, 10))
        }
        withFrame(PacketBuilder().ipv4(src: client4, dst: vip4).udp(src: 1, dst: 2).bytes()) { p, _ in
            let v = IPv4View(unchecked: p)
            #expect(v.dontFragment && !v.moreFragments && v.fragmentOffset == 0)
        }
    }

    @Test func checksumDetectsCorruptionAndUpdateChecksumRepairs() {
        let packet = PacketBuilder().ipv4(src: client4, dst: vip4, options: [1, 1, 1, 0]).udp(src: 1, dst: 2).bytes()
        for at in 0..<24 where at != 10 && at != 11 {
            let out = mutated(packet) { p, _ in
                let v = IPv4View(unchecked: p)
                #expect(v.checksumIsValid)
                p.setU8(p.u8(at) ^ 0x10, at)
                #expect(!v.checksumIsValid, "byte \(at)")
                v.updateChecksum()
                #expect(v.checksumIsValid, "byte \(at)")
            }
            // The repaired header equals one built with the changed byte.
            #expect(referenceSum(Array(out[0..<24])) == 0xffff)
        }
    }

    @Test func ipChecksumOverrideIsInvalid() {
        let packet = PacketBuilder().ipv4(src: client4, dst: vip4).udp(src: 1, dst: 2).ipChecksum(raw: 0x1234).bytes()
        #expect(rawWord(packet, 10) == 0x1234)
        #expect(withFrame(packet) { p, _ in IPv4View(unchecked: p).checksumIsValid } == false)
    }

    enum Rewrite: CaseIterable, Sendable { case source, destination, both }

    /// NAT on a TCP/UDP packet: the returned deltas keep the IP header and the L4 checksum valid.
    @Test(arguments: Rewrite.allCases, [IPProto.tcp, IPProto.udp])
    func rewriteKeepsChecksumsValid(rewrite: Rewrite, proto: UInt8) {
        var g = SplitMix64(seed: proto == IPProto.tcp ? 0x7c9 : 0x0d9)
        for _ in 0..<300 {
            let src = g.ipv4()
            let dst = g.ipv4()
            let newAddress = g.ipv4()
            let otherAddress = g.ipv4()
            let payload = g.bytes(Int.random(in: 0...64, using: &g))
            let options: [UInt8] = Bool.random(using: &g) ? [] : [1, 1, 1, 0]
            var b = PacketBuilder().ipv4(
                src: src, dst: dst, ttl: UInt8.random(in: 1...255, using: &g), options: options)
            b = proto == IPProto.tcp ? b.tcp(src: 1234, dst: 80, flags: 0x18) : b.udp(src: 1234, dst: 53)
            let packet = b.payload(payload).bytes()
            let ihl = 20 + options.count
            let ckAt = ihl + (proto == IPProto.tcp ? TCPView.checksumOffset : UDPView.checksumOffset)

            var newSrc = src
            var newDst = dst
            let out = mutated(packet) { p, _ in
                let v = IPv4View(unchecked: p)
                var delta: UInt64 = 0
                switch rewrite {
                case .source:
                    delta = v.rewriteSource(newAddress)
                    newSrc = newAddress
                case .destination:
                    delta = v.rewriteDestination(newAddress)
                    newDst = newAddress
                case .both:
                    delta = v.rewriteSource(newAddress) &+ v.rewriteDestination(otherAddress)
                    newSrc = newAddress
                    newDst = otherAddress
                }
                #expect(v.checksumIsValid)
                #expect(v.source == newSrc && v.destination == newDst)
                p.setRaw16(Checksum.update(p.raw16(ckAt), delta: delta), ckAt)
            }
            #expect(referenceSum(Array(out[..<ihl])) == 0xffff)
            #expect(Array(out[12..<16]) == Array(newSrc.bytes[12...]))
            #expect(Array(out[16..<20]) == Array(newDst.bytes[12...]))
            let segment = Array(out[ihl...])
            #expect(l4ChecksumVerifies(segment, src: newSrc, dst: newDst, proto: proto))
            #expect(
                withExactBuffer(segment) { buf in
                    Checksum.verifies(
                        buf.baseAddress!, count: buf.count,
                        initial: Checksum.pseudoHeader(src: newSrc, dst: newDst, protocol: proto, length: buf.count))
                })
            // Control: without applying the delta the old L4 checksum no longer verifies.
            #expect(
                !l4ChecksumVerifies(Array(packet[ihl...]), src: newSrc, dst: newDst, proto: proto)
                    || (newSrc == src && newDst == dst))
        }
    }

    @Test func rewriteDeltaFixesAPartialChecksum() {
        // Offloaded frames carry only the pseudo-header sum; updatePartial keeps it matching.
        let packet = PacketBuilder().ipv4(src: client4, dst: vip4).tcp(src: 1, dst: 80, flags: 2).payload("x")
            .l4Checksum(.partial).bytes()
        let out = mutated(packet) { p, _ in
            let delta = IPv4View(unchecked: p).rewriteDestination(real4)
            p.setRaw16(Checksum.updatePartial(p.raw16(20 + 16), delta: delta), 20 + 16)
        }
        let expected = Checksum.fold(Checksum.pseudoHeader(src: client4, dst: real4, protocol: IPProto.tcp, length: 21))
        #expect(rawWord(out, 36) == expected)
    }

    @Test func decrementTTLToOne() {
        let packet = PacketBuilder().ipv4(src: client4, dst: vip4, ttl: 255).udp(src: 1, dst: 2).bytes()
        _ = mutated(packet) { p, _ in
            let v = IPv4View(unchecked: p)
            for expected in stride(from: 254, through: 1, by: -1) {
                #expect(v.decrementTTL())
                #expect(v.ttl == UInt8(expected))
                #expect(v.checksumIsValid, "ttl \(expected)")
                #expect(v.proto == IPProto.udp)
            }
            #expect(!v.decrementTTL())
            #expect(v.ttl == 1)
            #expect(v.checksumIsValid)
        }
    }

    @Test(arguments: [UInt8(0), 1])
    func decrementTTLRefuses(ttl: UInt8) {
        let packet = PacketBuilder().ipv4(src: client4, dst: vip4, ttl: ttl).udp(src: 1, dst: 2).bytes()
        let out = mutated(packet) { p, _ in #expect(!IPv4View(unchecked: p).decrementTTL()) }
        #expect(out == packet)
    }

    @Test func settersWrite() {
        let packet = PacketBuilder().ipv4(src: client4, dst: vip4).udp(src: 1, dst: 2).bytes()
        let out = mutated(packet) { p, _ in
            let v = IPv4View(unchecked: p)
            v.totalLength = 0x0102
            v.ttl = 9
            v.source = real4
            v.destination = client4
            v.checksum = 0xabcd
        }
        #expect(Array(out[2..<4]) == [1, 2])
        #expect(out[8] == 9)
        #expect(Array(out[10..<12]) == [0xcd, 0xab])
        #expect(Array(out[12..<20]) == [10, 0, 0, 21, 192, 0, 2, 10])
    }
}

@Suite struct IPv6ViewTests {
    @Test func fieldsAndSetters() {
        let packet = PacketBuilder().ipv6(src: client6, dst: vip6, hopLimit: 33).udp(src: 1, dst: 2).payload([1, 2])
            .bytes()
        let out = mutated(packet) { p, _ in
            let v = IPv6View(unchecked: p)
            #expect(v.version == 6)
            #expect(v.payloadLength == 10)
            #expect(v.nextHeader == IPProto.udp)
            #expect(v.hopLimit == 33)
            #expect(v.source == client6 && v.destination == vip6)
            v.source = real6
            v.destination = client6
            v.hopLimit = 1
            v.payloadLength = 0x0a0b
        }
        #expect(Array(out[4..<6]) == [0x0a, 0x0b])
        #expect(out[7] == 1)
        #expect(Array(out[8..<24]) == real6.bytes)
        #expect(Array(out[24..<40]) == client6.bytes)
    }

    @Test func addressRewriteWithDeltaKeepsUDPChecksumValid() {
        var g = SplitMix64(seed: 6)
        for _ in 0..<300 {
            let src = g.ipv6()
            let dst = g.ipv6()
            let newDst = g.ipv6()
            let packet = PacketBuilder().ipv6(src: src, dst: dst).udp(src: 4000, dst: 53).payload(
                g.bytes(Int.random(in: 0...40, using: &g))
            ).bytes()
            let out = mutated(packet) { p, _ in
                let v = IPv6View(unchecked: p)
                let delta = Checksum.deltaAddress(old: v.destination, new: newDst)
                v.destination = newDst
                p.setRaw16(Checksum.update(p.raw16(40 + 6), delta: delta), 40 + 6)
            }
            #expect(l4ChecksumVerifies(Array(out[40...]), src: src, dst: newDst, proto: IPProto.udp))
        }
    }
}
