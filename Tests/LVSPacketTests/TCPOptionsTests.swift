import LVSPacket
import Testing

@Suite struct TCPOptionsTests {
    /// Runs `body` over an options area holding exactly `bytes` (exact-size buffer).
    func withOptions<R>(_ bytes: [UInt8], _ body: (TCPOptions) throws -> R) rethrows -> R {
        if bytes.isEmpty {
            var none: UInt8 = 0
            return try withUnsafeMutableBytes(of: &none) { try body(TCPOptions(base: $0.baseAddress!, length: 0)) }
        }
        return try withFrame(bytes) { p, n in try body(TCPOptions(base: p, length: n)) }
    }

    /// An option as [kind, offset, length] (Option's memberwise init is internal).
    typealias Opt = [Int]

    func triple(_ o: TCPOptions.Option) -> Opt { [Int(o.kind), o.offset, o.length] }

    func options(_ bytes: [UInt8]) -> (list: [Opt], wellFormed: Bool) {
        withOptions(bytes) { o in (o.map(triple), o.isWellFormed) }
    }

    @Test func linuxSYNOptions() {
        // MSS 1460, SACK permitted, timestamps, NOP, window scale 7: what Linux sends.
        let bytes: [UInt8] = [
            2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0x00, 0x0f, 0x42, 0x40, 0x00, 0x00, 0x00, 0x00, 1, 3, 3, 7,
        ]
        withOptions(bytes) { o in
            let list = Array(o)
            #expect(
                list.map(\.kind) == [
                    TCPOptions.maximumSegmentSize, TCPOptions.sackPermitted, TCPOptions.timestamps,
                    TCPOptions.windowScale,
                ])
            #expect(list.map(\.offset) == [0, 4, 6, 17])
            #expect(list.map(\.length) == [4, 2, 10, 3])
            #expect(o.isWellFormed)
            #expect(o.maximumSegmentSize == 1460)
            // Values read through the offsets.
            #expect(o.base.u8(list[3].offset + 2) == 7)
            #expect(o.base.be32(list[2].offset + 2) == 1_000_000)
            #expect(o.base.be32(list[2].offset + 6) == 0)
        }
    }

    @Test func nopPaddedTimestampsAndSACKBlocks() {
        let bytes: [UInt8] = [1, 1, 8, 10, 1, 2, 3, 4, 5, 6, 7, 8, 1, 1, 5, 10, 0, 0, 0, 1, 0, 0, 0, 9]
        let (list, ok) = options(bytes)
        #expect(ok)
        #expect(list == [[8, 2, 10], [5, 14, 10]])
        #expect(withOptions(bytes) { $0.maximumSegmentSize } == nil)
    }

    @Test func endOfListStopsTheWalk() {
        // Bytes after EOL are padding, even when they look like a broken option.
        let (list, ok) = options([2, 4, 0x02, 0x18, 0, 2, 0, 0xff])
        #expect(list == [[2, 0, 4]])
        #expect(ok)
        #expect(withOptions([2, 4, 0x02, 0x18, 0, 2, 0, 0xff]) { $0.maximumSegmentSize } == 536)
        #expect(options([0, 2, 4, 5, 180]).list.isEmpty)
    }

    @Test func emptyAndAllNOP() {
        #expect(options([]).list.isEmpty)
        #expect(options([]).wellFormed)
        #expect(options([1, 1, 1, 1]).list.isEmpty)
        #expect(options([1, 1, 1, 1]).wellFormed)
    }

    @Test func negativeLengthIsEmpty() {
        withFrame([2, 4, 5, 180]) { p, _ in
            let o = TCPOptions(base: p, length: -4)
            #expect(o.length == 0)
            #expect(Array(o).isEmpty)
            #expect(o.isWellFormed)
        }
    }

    @Test func unknownKindsAreWalkedByLength() {
        let (list, ok) = options([253, 6, 0xaa, 0xbb, 0xcc, 0xdd, 2, 4, 0x23, 0x28])
        #expect(ok)
        #expect(list == [[253, 0, 6], [2, 6, 4]])
        #expect(withOptions([253, 6, 0xaa, 0xbb, 0xcc, 0xdd, 2, 4, 0x23, 0x28]) { $0.maximumSegmentSize } == 9000)
    }

    @Test func mssWithWrongLengthIsIgnored() {
        let bytes: [UInt8] = [2, 3, 5, 1]  // kind 2 of length 3, then a NOP
        #expect(options(bytes).wellFormed)
        #expect(options(bytes).list == [[2, 0, 3]])
        #expect(withOptions(bytes) { $0.maximumSegmentSize } == nil)
        // The first well-formed MSS wins.
        #expect(withOptions([2, 3, 9, 2, 4, 0x05, 0x78, 2, 4, 0x05, 0xb4, 0]) { $0.maximumSegmentSize } == 1400)
    }

    @Test(
        arguments: [
            ("length byte 0", [2, 0, 5, 180] as [UInt8], [Opt]()),
            ("length byte 1", [8, 1, 0, 0], []),
            ("length past the area", [1, 8, 10, 0, 0, 0, 1], []),
            ("second option past the area", [2, 4, 5, 180, 3, 4, 7], [[2, 0, 4]]),
            ("missing length byte", [1, 1, 1, 2], []),
            ("lone kind", [3], []),
            ("missing length after an option", [4, 2, 5], [[4, 0, 2]]),
        ] as [(String, [UInt8], [Opt])])
    func malformed(name: String, bytes: [UInt8], before: [Opt]) {
        withOptions(bytes) { o in
            #expect(!o.isWellFormed, "\(name)")
            var it = o.makeIterator()
            var seen: [Opt] = []
            while let opt = it.next() { seen.append(triple(opt)) }
            #expect(seen == before, "\(name)")
            #expect(it.malformed, "\(name)")
            // The iterator stays stopped.
            #expect(it.next() == nil)
        }
        #expect(withOptions(bytes) { $0.maximumSegmentSize } == (before.first?.first == 2 ? 1460 : nil))
    }

    @Test func wellFormedIteratorIsNotMarked() {
        withOptions([2, 4, 5, 180, 1, 0]) { o in
            var it = o.makeIterator()
            while it.next() != nil {}
            #expect(!it.malformed)
        }
    }

    /// Hostile option bytes never yield an option outside the area.
    @Test func randomAreasStayInBounds() {
        var g = SplitMix64(seed: 9293)
        for _ in 0..<5000 {
            let length = Int.random(in: 1...40, using: &g)
            let bytes = (0..<length).map { _ in
                Bool.random(using: &g) ? UInt8.random(in: 0...12, using: &g) : UInt8.random(in: 0...255, using: &g)
            }
            withOptions(bytes) { o in
                var it = o.makeIterator()
                var last = -1
                while let opt = it.next() {
                    #expect(opt.offset > last && opt.length >= 2 && opt.offset + opt.length <= length)
                    last = opt.offset
                }
                #expect(o.isWellFormed == !it.malformed)
                _ = o.maximumSegmentSize
            }
        }
    }

    /// Through a parsed frame: the options area is the header beyond 20 bytes.
    @Test func optionsOfAParsedSegment() throws {
        let frame = PacketBuilder().ethernet().ipv4(src: client4, dst: vip4)
            .tcp(src: 1, dst: 2, flags: TCPFlag.syn, options: [2, 4, 0x05, 0xb4, 1, 3, 3, 14])
            .payload([0xff, 0xff]).bytes()
        try withFrame(frame) { p, n in
            let info = try #require(PacketParser.parse(p, length: n).info)
            let tcp = TCPView(unchecked: p + info.l4Offset)
            #expect(tcp.headerLength == 28)
            #expect(tcp.options.length == 8)
            #expect(tcp.options.maximumSegmentSize == 1460)
            #expect(Array(tcp.options).map(\.kind) == [2, 3])
            #expect(tcp.options.isWellFormed)
        }
        // An odd-length option list is padded with EOL by the builder and stays well-formed.
        let padded = PacketBuilder().ipv4(src: client4, dst: vip4).tcp(src: 1, dst: 2, flags: 2, options: [3, 3, 7])
            .bytes()
        withFrame(padded) { p, _ in
            let tcp = TCPView(unchecked: p + 20)
            #expect(tcp.headerLength == 24)
            #expect(tcp.options.map(triple) == [[3, 0, 3]])
            #expect(tcp.options.isWellFormed)
        }
        // No options: an empty area.
        let bare = PacketBuilder().ipv4(src: client4, dst: vip4).tcp(src: 1, dst: 2, flags: 2).bytes()
        withFrame(bare) { p, _ in
            #expect(TCPView(unchecked: p + 20).options.length == 0)
            #expect(Array(TCPView(unchecked: p + 20).options).isEmpty)
        }
    }
}
