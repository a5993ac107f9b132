import LVSPacket
import Testing

@Suite struct ChecksumTests {
    /// Folded sum of `bytes` via `Checksum.accumulate`, in host order.
    func sum(_ bytes: [UInt8], initial: UInt64 = 0) -> UInt16 {
        withExactBuffer(bytes) {
            UInt16(bigEndian: Checksum.fold(Checksum.accumulate($0.baseAddress!, count: $0.count, initial: initial)))
        }
    }

    func compute(_ bytes: [UInt8]) -> UInt16 {
        withExactBuffer(bytes) { Checksum.compute($0.baseAddress!, count: $0.count) }
    }

    func verifies(_ bytes: [UInt8], initial: UInt64 = 0) -> Bool {
        withExactBuffer(bytes) { Checksum.verifies($0.baseAddress!, count: $0.count, initial: initial) }
    }

    // MARK: Known vectors

    @Test func rfc1071Example() {
        // RFC 1071 1.4: 00 01 f2 03 f4 f5 f6 f7 sums to dd f2 in network order.
        let data: [UInt8] = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]
        #expect(sum(data) == 0xddf2)
        // The checksum is the complement: 22 0d on the wire.
        let ck = compute(data)
        #expect(withUnsafeBytes(of: ck) { Array($0) } == [0x22, 0x0d])
        #expect(verifies(data + [0x22, 0x0d]))
        #expect(!verifies(data + [0x0d, 0x22]))
    }

    @Test func knownIPv4HeaderChecksum() {
        let header = hex("45 00 00 73 00 00 40 00 40 11 b8 61 c0 a8 00 01 c0 a8 00 c7")
        #expect(verifies(header))
        var zeroed = header
        zeroed[10] = 0
        zeroed[11] = 0
        let ck = compute(zeroed)
        // Stored raw: bytes b8 61, which on a little-endian host is the word 0x61b8.
        #expect(ck == 0x61b8)
        #expect(UInt16(bigEndian: ck) == 0xb861)
        // One flipped bit anywhere breaks it.
        for bit in 0..<(header.count * 8) {
            var broken = header
            broken[bit / 8] ^= UInt8(1) << UInt8(bit % 8)
            #expect(!verifies(broken), "bit \(bit)")
        }
    }

    @Test(
        arguments: [
            ([UInt8](), UInt16(0)),
            ([0x01], 0x0100),
            ([0xab], 0xab00),
            ([0x01, 0x02, 0x03], 0x0402),
            ([0x01, 0x02, 0x03, 0x04, 0x05], 0x0906),
            ([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], 0xff00),
            ([0x80, 0x00, 0x80, 0x00, 0x80], 0x8001),
        ] as [([UInt8], UInt16)])
    func oddLengths(bytes: [UInt8], expected: UInt16) {
        #expect(sum(bytes) == expected)
    }

    @Test func accumulateMatchesReferenceForRandomBuffersAndAlignments() {
        var g = SplitMix64(seed: 1071)
        for _ in 0..<3000 {
            let count = Int.random(in: 0...257, using: &g)
            let data = g.bytes(count)
            // Vary the start address's alignment: the loads are unaligned.
            let lead = Int.random(in: 0...7, using: &g)
            let got = withExactBuffer([UInt8](repeating: 0x5a, count: lead) + data) { buf in
                UInt16(bigEndian: Checksum.fold(Checksum.accumulate(buf.baseAddress! + lead, count: count)))
            }
            #expect(got == referenceSum(data), "count \(count) lead \(lead)")
        }
    }

    @Test func accumulateChainsThroughInitial() {
        var g = SplitMix64(seed: 2)
        for _ in 0..<500 {
            let a = g.bytes(2 * Int.random(in: 0...40, using: &g))  // even, so b's words stay aligned
            let b = g.bytes(Int.random(in: 0...81, using: &g))
            let chained = withExactBuffer(a) { ba in
                withExactBuffer(b) { bb in
                    Checksum.accumulate(
                        bb.baseAddress!, count: bb.count,
                        initial: Checksum.accumulate(ba.baseAddress!, count: ba.count))
                }
            }
            #expect(UInt16(bigEndian: Checksum.fold(chained)) == referenceSum(a + b))
        }
    }

    @Test(
        arguments: [
            (UInt64(0), UInt16(0)),
            (0xffff, 0xffff),
            (0x1_0000, 0x0001),
            (0x1_fffe, 0xffff),
            (0xffff_ffff, 0xffff),
            (0x1_0000_0000, 0x0001),
            (UInt64.max, 0xffff),
            (0x8000_0000_0000_0000, 0x8000),
            (0x0001_0002_0003_0004, 0x000a),
        ] as [(UInt64, UInt16)])
    func foldVectors(value: UInt64, expected: UInt16) {
        #expect(Checksum.fold(value) == expected)
    }

    @Test func foldIsOnesComplementReduction() {
        var g = SplitMix64(seed: 3)
        for _ in 0..<5000 {
            // Bias towards values near word boundaries as well as the full range.
            let shift = UInt64.random(in: 0...63, using: &g)
            let x = g.next() >> shift
            let r = x % 0xffff
            let expected: UInt16 = x == 0 ? 0 : (r == 0 ? 0xffff : UInt16(r))
            #expect(Checksum.fold(x) == expected, "\(x)")
        }
    }

    @Test func computeThenVerify() {
        var g = SplitMix64(seed: 4)
        for _ in 0..<1000 {
            var data = g.bytes(2 * Int.random(in: 1...60, using: &g))
            let at = 2 * Int.random(in: 0..<(data.count / 2), using: &g)
            data[at] = 0
            data[at + 1] = 0
            let ck = compute(data)
            data[at] = UInt8(truncatingIfNeeded: ck)
            data[at + 1] = UInt8(truncatingIfNeeded: ck >> 8)
            #expect(verifies(data))
            #expect(referenceSum(data) == 0xffff)
            let flip = Int.random(in: 0..<data.count, using: &g)
            data[flip] ^= UInt8.random(in: 1...255, using: &g)
            #expect(!verifies(data))
        }
    }

    // MARK: Pseudo-header

    @Test func pseudoHeaderMatchesByteLayout() {
        var g = SplitMix64(seed: 793)
        for i in 0..<2000 {
            let v6 = i % 2 == 1
            let src = v6 ? g.ipv6() : g.ipv4()
            let dst = v6 ? g.ipv6() : g.ipv4()
            let proto = [IPProto.tcp, IPProto.udp, IPProto.icmpv6, UInt8.random(in: 0...255, using: &g)][i % 4]
            let length = Int.random(in: 0...(v6 ? 70000 : 65535), using: &g)
            let got = UInt16(
                bigEndian: Checksum.fold(Checksum.pseudoHeader(src: src, dst: dst, protocol: proto, length: length)))
            #expect(got == referenceSum(pseudoHeaderBytes(src: src, dst: dst, proto: proto, length: length)))
        }
    }

    @Test func pseudoHeaderKnownValue() {
        // 192.0.2.1 -> 192.0.2.2, TCP, 20 bytes: c000+0201+c000+0202+0006+0014 = 0x1841d -> 0x841e.
        let s = Checksum.pseudoHeader(
            src: IPAddress(192, 0, 2, 1), dst: IPAddress(192, 0, 2, 2), protocol: 6, length: 20)
        #expect(UInt16(bigEndian: Checksum.fold(s)) == 0x841e)
        // ::1 -> ::2, UDP, 8 bytes: 1 + 2 + 8 + 0x11 = 0x1c.
        let s6 = Checksum.pseudoHeader(src: IPAddress("::1")!, dst: IPAddress("::2")!, protocol: 17, length: 8)
        #expect(UInt16(bigEndian: Checksum.fold(s6)) == 0x001c)
    }

    // MARK: Incremental update (RFC 1624)

    enum Field: CaseIterable, Sendable { case word16, word32, address4, address6 }

    /// Random buffers with a checksum field; one field changes and `update` must give what a full
    /// recompute gives.
    @Test(arguments: Field.allCases)
    func updateMatchesRecompute(field: Field) {
        var g = SplitMix64(seed: 1624 &+ UInt64(Field.allCases.firstIndex(of: field)!))
        for _ in 0..<3000 {
            let count = Int.random(in: 40...160, using: &g)
            var data = g.bytes(count)
            // The checksum field and the changed field sit at distinct even offsets.
            let ckAt = 2 * Int.random(in: 0..<4, using: &g)
            let width = field == .word16 ? 2 : (field == .address6 ? 16 : 4)
            let fieldAt = 8 + 2 * Int.random(in: 0...((count - 8 - width) / 2), using: &g)
            data[ckAt] = 0
            data[ckAt + 1] = 0
            let check = compute(data)

            let newValue = g.bytes(width)
            let delta: UInt64 = withExactBuffer(data) { buf in
                let p = buf.baseAddress!
                switch field {
                case .word16:
                    let old = p.raw16(fieldAt)
                    let new = newValue.withUnsafeBytes { $0.loadUnaligned(as: UInt16.self) }
                    return Checksum.delta16(old: old, new: new)
                case .word32:
                    let old = p.raw32(fieldAt)
                    let new = newValue.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }
                    return Checksum.delta32(old: old, new: new)
                case .address4:
                    return Checksum.deltaAddress(old: p.address4(fieldAt), new: IPAddress(bytes: newValue)!)
                case .address6:
                    return Checksum.deltaAddress(old: p.address16(fieldAt), new: IPAddress(bytes: newValue)!)
                }
            }
            for (i, b) in newValue.enumerated() { data[fieldAt + i] = b }
            let updated = Checksum.update(check, delta: delta)
            #expect(updated == compute(data), "field at \(fieldAt), checksum at \(ckAt), count \(count)")
            // And the stored result verifies.
            data[ckAt] = UInt8(truncatingIfNeeded: updated)
            data[ckAt + 1] = UInt8(truncatingIfNeeded: updated >> 8)
            #expect(verifies(data))
        }
    }

    @Test func summedDeltasApplyAtOnce() {
        // NAT changes an address and a port; the two deltas are applied in one update.
        var g = SplitMix64(seed: 99)
        for _ in 0..<2000 {
            var seg = g.bytes(2 * Int.random(in: 10...40, using: &g))
            seg[16] = 0
            seg[17] = 0
            let src = g.ipv4()
            let dst = g.ipv4()
            let newDst = g.ipv4()
            let pseudo = Checksum.pseudoHeader(src: src, dst: dst, protocol: IPProto.tcp, length: seg.count)
            let check = withExactBuffer(seg) { Checksum.compute($0.baseAddress!, count: $0.count, initial: pseudo) }
            let oldPort = rawWord(seg, 2)
            let newPort = UInt16.random(in: 0...UInt16.max, using: &g)
            seg[2] = UInt8(truncatingIfNeeded: newPort)
            seg[3] = UInt8(truncatingIfNeeded: newPort >> 8)
            let delta = Checksum.deltaAddress(old: dst, new: newDst) &+ Checksum.delta16(old: oldPort, new: newPort)
            let updated = Checksum.update(check, delta: delta)
            let newPseudo = Checksum.pseudoHeader(src: src, dst: newDst, protocol: IPProto.tcp, length: seg.count)
            #expect(
                updated
                    == withExactBuffer(seg) { Checksum.compute($0.baseAddress!, count: $0.count, initial: newPseudo) })
        }
    }

    @Test(arguments: [false, true])
    func updatePartialTracksPseudoHeader(ipv6: Bool) {
        var g = SplitMix64(seed: ipv6 ? 8200 : 791)
        for _ in 0..<3000 {
            let src = ipv6 ? g.ipv6() : g.ipv4()
            let dst = ipv6 ? g.ipv6() : g.ipv4()
            let newSrc = ipv6 ? g.ipv6() : g.ipv4()
            let newDst = ipv6 ? g.ipv6() : g.ipv4()
            let length = Int.random(in: 8...9000, using: &g)
            let partial = Checksum.fold(
                Checksum.pseudoHeader(src: src, dst: dst, protocol: IPProto.udp, length: length))
            let delta = Checksum.deltaAddress(old: src, new: newSrc) &+ Checksum.deltaAddress(old: dst, new: newDst)
            let expected = Checksum.fold(
                Checksum.pseudoHeader(src: newSrc, dst: newDst, protocol: IPProto.udp, length: length))
            #expect(Checksum.updatePartial(partial, delta: delta) == expected)
        }
    }

    @Test func deltaAddressV4EqualsDelta32() {
        var g = SplitMix64(seed: 5)
        for _ in 0..<200 {
            let a = g.ipv4()
            let b = g.ipv4()
            #expect(Checksum.deltaAddress(old: a, new: b) == Checksum.delta32(old: a.v4Raw, new: b.v4Raw))
        }
    }

    @Test func unchangedFieldLeavesChecksumEquivalent() {
        var g = SplitMix64(seed: 6)
        for _ in 0..<500 {
            let data = g.bytes(40)
            let check = compute(data)
            let w = UInt16.random(in: 0...UInt16.max, using: &g)
            #expect(Checksum.update(check, delta: Checksum.delta16(old: w, new: w)) == check)
        }
    }
}
