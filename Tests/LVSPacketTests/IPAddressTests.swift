import LVSPacket
import Testing

@Suite struct IPAddressTests {
    // MARK: IPv4 text

    @Test(arguments: [
        ("0.0.0.0", [UInt8](arrayLiteral: 0, 0, 0, 0)),
        ("10.0.0.1", [10, 0, 0, 1]),
        ("192.0.2.255", [192, 0, 2, 255]),
        ("255.255.255.255", [255, 255, 255, 255]),
        ("001.002.003.004", [1, 2, 3, 4]),
    ])
    func parsesIPv4(text: String, octets: [UInt8]) throws {
        let a = try #require(IPAddress(text))
        #expect(a.isIPv4)
        #expect(Array(a.bytes[12...]) == octets)
        #expect(Array(a.bytes[..<12]) == [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff])
        #expect(a == IPAddress(octets[0], octets[1], octets[2], octets[3]))
    }

    @Test(arguments: [
        "", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.256.1.1", "1.2.3.256", "1.2.3.-1", "1..2.3", ".1.2.3",
        "1.2.3.", "1.2.3.4 ", " 1.2.3.4", "1.2.3.0x1", "1.2.3.4/24", "0001.2.3.4", "a.b.c.d", "1.2.3.+4",
        "1.2.3.٣",
    ])
    func rejectsInvalidIPv4(text: String) {
        #expect(IPAddress(text) == nil)
    }

    @Test func ipv4ConstructorsAgree() {
        let a = IPAddress(10, 1, 2, 3)
        #expect(a == IPAddress(v4: 0x0a01_0203))
        #expect(a.v4 == 0x0a01_0203)
        // v4Raw is the memory image: byte 10 first.
        #expect(withUnsafeBytes(of: a.v4Raw) { Array($0) } == [10, 1, 2, 3])
        #expect(IPAddress(v4Raw: a.v4Raw) == a)
        #expect(IPAddress(bytes: [10, 1, 2, 3]) == a)
        #expect(a.description == "10.1.2.3")
        #expect(IPAddress.zeroV4.isIPv4)
        #expect(IPAddress.zeroV4.description == "0.0.0.0")
        #expect(!IPAddress.zero.isIPv4)
        #expect(IPAddress.zero.description == "::")
    }

    @Test(arguments: [0, 3, 5, 15, 17])
    func bytesInitRejectsOtherLengths(count: Int) {
        #expect(IPAddress(bytes: [UInt8](repeating: 1, count: count)) == nil)
    }

    // MARK: IPv6 text

    @Test(arguments: [
        ("::", "0:0:0:0:0:0:0:0"),
        ("::1", "0:0:0:0:0:0:0:1"),
        ("1::", "1:0:0:0:0:0:0:0"),
        ("2001:db8::1", "2001:db8:0:0:0:0:0:1"),
        ("2001:DB8::A:b", "2001:db8:0:0:0:0:a:b"),
        ("fe80::1:2:3:4", "fe80:0:0:0:1:2:3:4"),
        ("1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"),
        ("1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"),
        ("::2:3:4:5:6:7:8", "0:2:3:4:5:6:7:8"),
        ("1::8", "1:0:0:0:0:0:0:8"),
        ("0001:0002:0003:0004:0005:0006:0007:0008", "1:2:3:4:5:6:7:8"),
        ("::ffff:1.2.3.4", "0:0:0:0:0:ffff:102:304"),
        ("64:ff9b::192.0.2.33", "64:ff9b:0:0:0:0:c000:221"),
        ("1:2:3:4:5:6:10.0.0.1", "1:2:3:4:5:6:a00:1"),
        ("::1.2.3.4", "0:0:0:0:0:0:102:304"),
    ])
    func parsesIPv6(text: String, expanded: String) throws {
        let a = try #require(IPAddress(text))
        let groups = expanded.split(separator: ":").map { UInt16($0, radix: 16)! }
        let expectedBytes = groups.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xff)] }
        #expect(a.bytes == expectedBytes)
        #expect(IPAddress(bytes: expectedBytes) == a)
    }

    @Test(arguments: [
        ":", ":::", "1::2::3", "::1::", "1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7:8::",
        "::1:2:3:4:5:6:7:8", "12345::", "g::", ":1::", "1:", ":1", "1::2:", "1:::2", "::ffff:1.2.3",
        "::ffff:256.1.1.1", "1.2.3.4::", "1.2.3.4:1::", "::1.2.3.4:5", "1:2:3:4:5:6:7:1.2.3.4",
        "fe80::1%eth0", "::ffff:1.2.3.4.5", "1:2:3:4:5:6:1.2.3.4:8",
        // Integer parsing accepts a sign; an address must not.
        "+1::", "::-0", "1:+2::", "::+ff",
        // Fullwidth digits are hex digits to Unicode, not to RFC 4291.
        "Ａ::",
    ])
    func rejectsInvalidIPv6(text: String) {
        #expect(IPAddress(text) == nil)
    }

    // MARK: Formatting (RFC 5952)

    @Test(arguments: [
        ("0:0:0:0:0:0:0:0", "::"),
        ("0:0:0:0:0:0:0:1", "::1"),
        ("1:0:0:0:0:0:0:0", "1::"),
        ("2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"),
        // 4.2.2: a single zero group is not compressed.
        ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),
        // 4.2.1: the longest run is compressed.
        ("2001:0:0:1:0:0:0:1", "2001:0:0:1::1"),
        // 4.2.3: on a tie, the first run.
        ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
        // 4.3: lowercase.
        ("2001:DB8:ABCD::EF", "2001:db8:abcd::ef"),
        ("fe80:0:0:0:0:0:0:0", "fe80::"),
        ("0:0:1:0:0:0:0:0", "0:0:1::"),
        ("1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"),
        ("0:1:2:3:4:5:6:0", "0:1:2:3:4:5:6:0"),
        ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
        // IPv4-mapped addresses are IPv4 in this type and print as a dotted quad.
        ("::ffff:192.0.2.1", "192.0.2.1"),
        ("::ffff:c000:201", "192.0.2.1"),
        // Not mapped: hex groups.
        ("64:ff9b::192.0.2.33", "64:ff9b::c000:221"),
        ("::1.2.3.4", "::102:304"),
    ])
    func formatsIPv6(text: String, canonical: String) throws {
        let a = try #require(IPAddress(text))
        #expect(a.description == canonical)
        #expect(IPAddress(a.description) == a)
    }

    @Test func descriptionRoundTripsRandomAddresses() {
        var g = SplitMix64(seed: 0x1b6)
        for _ in 0..<2000 {
            // Sprinkle zero groups so compression paths are exercised.
            var bytes = g.bytes(16)
            for group in 0..<8 where Bool.random(using: &g) {
                bytes[2 * group] = 0
                bytes[2 * group + 1] = 0
            }
            let a = IPAddress(bytes: bytes)!
            let text = a.description
            #expect(IPAddress(text) == a, "\(text)")
            #expect(!text.contains(":::"))
            if !a.isIPv4 {
                #expect(text.split(separator: "::", omittingEmptySubsequences: false).count <= 2)
            }
        }
    }

    // MARK: Ordering, hashing, masking

    @Test func ordersLikeNetworkBytes() {
        let texts = [
            "10.0.0.2", "10.0.0.10", "9.255.255.255", "10.0.1.0", "192.168.0.1", "::1", "2001:db8::1", "2001:db8::",
            "fe80::1", "2001:db9::", "::", "::ffff:0.0.0.0", "ff02::1", "1::",
        ]
        let addresses = texts.map { IPAddress($0)! }
        let sorted = addresses.sorted()
        func lexicographic(_ a: IPAddress, _ b: IPAddress) -> Bool { a.bytes.lexicographicallyPrecedes(b.bytes) }
        #expect(sorted == addresses.sorted(by: lexicographic))
        #expect(IPAddress("10.0.0.2")! < IPAddress("10.0.0.10")!)
        #expect(IPAddress("9.255.255.255")! < IPAddress("10.0.0.0")!)
        #expect(!(IPAddress("10.0.0.1")! < IPAddress("10.0.0.1")!))
        // IPv4 (::ffff:0:0/96) sorts after ::1 and before 1::.
        #expect(IPAddress("::1")! < IPAddress("0.0.0.0")!)
        #expect(IPAddress("255.255.255.255")! < IPAddress("1::")!)
    }

    @Test func orderingMatchesBytesForRandomAddresses() {
        var g = SplitMix64(seed: 42)
        for _ in 0..<1000 {
            // Share a random-length prefix so the comparison reaches later bytes.
            let a = g.bytes(16)
            var b = g.bytes(16)
            let shared = Int.random(in: 0...16, using: &g)
            for i in 0..<shared { b[i] = a[i] }
            let x = IPAddress(bytes: a)!
            let y = IPAddress(bytes: b)!
            #expect((x < y) == a.lexicographicallyPrecedes(b))
            #expect((x == y) == (a == b))
        }
    }

    @Test func hashingDistinguishesFamilies() {
        let set: Set<IPAddress> = [IPAddress("10.0.0.1")!, IPAddress("::ffff:10.0.0.1")!, IPAddress("::a00:1")!]
        #expect(set.count == 2)
    }

    @Test(arguments: [
        ("192.168.37.201", 0, "0.0.0.0"),
        ("192.168.37.201", 8, "192.0.0.0"),
        ("192.168.37.201", 16, "192.168.0.0"),
        ("192.168.37.201", 20, "192.168.32.0"),
        ("192.168.37.201", 24, "192.168.37.0"),
        ("192.168.37.201", 31, "192.168.37.200"),
        ("192.168.37.201", 32, "192.168.37.201"),
        ("192.168.37.201", 33, "192.168.37.201"),
        ("192.168.37.201", -1, "0.0.0.0"),
        ("255.255.255.255", 1, "128.0.0.0"),
        ("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", 0, "::"),
        ("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", 1, "::"),
        ("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", 3, "2000::"),
        ("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", 32, "2001:db8::"),
        ("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", 36, "2001:db8:f000::"),
        ("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", 63, "2001:db8:ffff:fffe::"),
        ("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", 64, "2001:db8:ffff:ffff::"),
        ("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", 65, "2001:db8:ffff:ffff:8000::"),
        ("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", 120, "2001:db8:ffff:ffff:ffff:ffff:ffff:ff00"),
        ("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", 127, "2001:db8:ffff:ffff:ffff:ffff:ffff:fffe"),
        ("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", 128, "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"),
        ("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", 200, "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"),
    ])
    func masks(text: String, prefix: Int, expected: String) throws {
        let a = try #require(IPAddress(text))
        let m = a.masked(prefixLength: prefix)
        #expect(m == IPAddress(expected)!, "\(m)")
        #expect(m.isIPv4 == a.isIPv4)
    }

    @Test func maskingMatchesBitwiseReference() {
        var g = SplitMix64(seed: 7)
        for _ in 0..<500 {
            let v6 = Bool.random(using: &g)
            let a = v6 ? g.ipv6() : g.ipv4()
            let width = v6 ? 128 : 32
            let prefix = Int.random(in: 0...width, using: &g)
            let bytes = a.bytes
            var expected = bytes
            let firstBit = (v6 ? 0 : 96) + prefix
            for bit in firstBit..<128 { expected[bit / 8] &= ~(UInt8(0x80) >> UInt8(bit % 8)) }
            #expect(a.masked(prefixLength: prefix).bytes == expected, "\(a)/\(prefix)")
        }
    }
}

@Suite struct MACAddressTests {
    @Test func parsesAndFormats() throws {
        let m = try #require(MACAddress("02:0A:ff:00:9b:c1"))
        #expect(m.bytes == [0x02, 0x0a, 0xff, 0x00, 0x9b, 0xc1])
        #expect(m.description == "02:0a:ff:00:9b:c1")
        #expect(MACAddress.broadcast.description == "ff:ff:ff:ff:ff:ff")
        #expect(MACAddress.zero.description == "00:00:00:00:00:00")
        #expect(MACAddress(m.description) == m)
    }

    @Test(arguments: [
        "", "02:00:00:00:00", "02:00:00:00:00:01:03", "2:00:00:00:00:01", "002:00:00:00:00:01",
        "02-00-00-00-00-01", "gg:00:00:00:00:01",
        // Empty fields must not be skipped.
        "02:00:00:00:00:01:", ":02:00:00:00:00:01", "02:00::00:00:00:01",
        // A sign is not a hex digit.
        "+2:00:00:00:00:01", "02:00:00:00:00:-1",
    ])
    func rejectsInvalid(text: String) {
        #expect(MACAddress(text) == nil)
    }

    @Test func loadsAndStoresAtOffset() {
        let m = MACAddress(1, 2, 3, 4, 5, 6)
        let bytes = mutated([UInt8](repeating: 0xee, count: 9)) { p, _ in
            m.store(to: p, 2)
            #expect(MACAddress(at: p, 2) == m)
            #expect(MACAddress(at: p, 1) == MACAddress(0xee, 1, 2, 3, 4, 5))
        }
        #expect(bytes == [0xee, 0xee, 1, 2, 3, 4, 5, 6, 0xee])
    }
}
