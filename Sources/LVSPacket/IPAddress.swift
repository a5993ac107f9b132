/// An IPv4 or IPv6 address held as 16 bytes in network order (IPv4 as `::ffff:a.b.c.d`).
///
/// One type for both families keeps connection keys fixed-size and comparisons branch-free: an
/// equality test is two 64-bit compares. The two words are the raw memory image of the address, so
/// moving an address between a packet and a table is a plain load or store.
@frozen
public struct IPAddress: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// Bytes 0...7 of the address, as loaded from memory.
    public var hi: UInt64
    /// Bytes 8...15 of the address, as loaded from memory.
    public var lo: UInt64

    @inlinable @inline(__always)
    public init(hi: UInt64, lo: UInt64) {
        self.hi = hi
        self.lo = lo
    }

    /// An IPv4 address from its 4 bytes as loaded from memory (network order).
    @inlinable @inline(__always)
    public init(v4Raw: UInt32) {
        hi = 0
        lo = 0xffff_0000 | (UInt64(v4Raw) << 32)
    }

    /// An IPv4 address from its host-order value (`0x0a000001` is 10.0.0.1).
    @inlinable
    public init(v4 value: UInt32) { self.init(v4Raw: value.bigEndian) }

    public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) {
        self.init(v4: UInt32(a) << 24 | UInt32(b) << 16 | UInt32(c) << 8 | UInt32(d))
    }

    public static let zero = IPAddress(hi: 0, lo: 0)
    public static let zeroV4 = IPAddress(v4Raw: 0)

    @inlinable
    public var isIPv4: Bool { hi == 0 && (lo & 0xffff_ffff) == 0xffff_0000 }

    /// The IPv4 address as loaded from memory (only meaningful when `isIPv4`).
    @inlinable
    public var v4Raw: UInt32 { UInt32(truncatingIfNeeded: lo >> 32) }

    /// The IPv4 address in host order (only meaningful when `isIPv4`).
    @inlinable
    public var v4: UInt32 { UInt32(bigEndian: v4Raw) }

    /// The 16 bytes in network order.
    public var bytes: [UInt8] {
        var out = [UInt8](repeating: 0, count: 16)
        withUnsafeBytes(of: hi) { for i in 0..<8 { out[i] = $0[i] } }
        withUnsafeBytes(of: lo) { for i in 0..<8 { out[8 + i] = $0[i] } }
        return out
    }

    /// Builds an address from 4 (IPv4) or 16 (IPv6) bytes in network order.
    public init?(bytes: [UInt8]) {
        switch bytes.count {
        case 4:
            self.init(bytes[0], bytes[1], bytes[2], bytes[3])
        case 16:
            var h: UInt64 = 0
            var l: UInt64 = 0
            withUnsafeMutableBytes(of: &h) { for i in 0..<8 { $0[i] = bytes[i] } }
            withUnsafeMutableBytes(of: &l) { for i in 0..<8 { $0[i] = bytes[8 + i] } }
            self.init(hi: h, lo: l)
        default:
            return nil
        }
    }

    /// Parses dotted-quad IPv4 or RFC 4291 IPv6 text (with `::` and an embedded IPv4 tail).
    public init?(_ text: some StringProtocol) {
        if let v4 = IPAddress.parseV4(Substring(text)) {
            self.init(v4: v4)
        } else if let v6 = IPAddress.parseV6(Substring(text)) {
            self.init(bytes: v6)
        } else {
            return nil
        }
    }

    static func parseV4(_ text: Substring) -> UInt32? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var value: UInt32 = 0
        for part in parts {
            guard !part.isEmpty, part.count <= 3, part.allSatisfy({ $0.isASCII && $0.isNumber }),
                let octet = UInt32(part), octet <= 255
            else { return nil }
            value = value << 8 | octet
        }
        return value
    }

    /// Splits at every "::" (Foundation-free `components(separatedBy:)`).
    static func splitOnDoubleColon(_ text: Substring) -> [Substring] {
        var parts: [Substring] = []
        var start = text.startIndex
        var i = text.startIndex
        while i < text.endIndex {
            let next = text.index(after: i)
            if text[i] == ":" && next < text.endIndex && text[next] == ":" {
                parts.append(text[start..<i])
                i = text.index(after: next)
                start = i
            } else {
                i = next
            }
        }
        parts.append(text[start...])
        return parts
    }

    static func parseV6(_ text: Substring) -> [UInt8]? {
        guard text.contains(":") else { return nil }
        var head: [UInt16] = []
        var tail: [UInt16] = []
        var tailV4: UInt32? = nil
        let halves = splitOnDoubleColon(text)
        guard halves.count <= 2 else { return nil }
        func groups(_ s: Substring, allowV4: Bool) -> ([UInt16], UInt32?)? {
            if s.isEmpty { return ([], nil) }
            var out: [UInt16] = []
            var v4: UInt32? = nil
            let items = s.split(separator: ":", omittingEmptySubsequences: false)
            for (i, item) in items.enumerated() {
                if allowV4 && i == items.count - 1 && item.contains(".") {
                    guard let v = parseV4(item) else { return nil }
                    v4 = v
                } else {
                    // Hex digits only: UInt16(_:radix:) would also take a sign ("+1", "-0").
                    guard !item.isEmpty, item.count <= 4, item.allSatisfy(\.isASCIIHexDigit),
                        let g = UInt16(item, radix: 16)
                    else { return nil }
                    out.append(g)
                }
            }
            return (out, v4)
        }
        if halves.count == 1 {
            guard let (g, v4) = groups(text, allowV4: true) else { return nil }
            head = g
            tailV4 = v4
            guard head.count + (v4 == nil ? 0 : 2) == 8 else { return nil }
        } else {
            guard let (h, hv4) = groups(halves[0], allowV4: false), hv4 == nil,
                let (t, tv4) = groups(halves[1], allowV4: true)
            else { return nil }
            head = h
            tail = t
            tailV4 = tv4
            guard head.count + tail.count + (tailV4 == nil ? 0 : 2) <= 7 else { return nil }
        }
        var words = head
        let fill = 8 - head.count - tail.count - (tailV4 == nil ? 0 : 2)
        words += [UInt16](repeating: 0, count: fill)
        words += tail
        if let v4 = tailV4 {
            words.append(UInt16(v4 >> 16))
            words.append(UInt16(v4 & 0xffff))
        }
        guard words.count == 8 else { return nil }
        var bytes: [UInt8] = []
        for w in words {
            bytes.append(UInt8(w >> 8))
            bytes.append(UInt8(w & 0xff))
        }
        return bytes
    }

    /// Dotted quad for IPv4, RFC 5952 text for IPv6 (as ipvsadm prints them).
    public var description: String {
        let b = bytes
        if isIPv4 { return "\(b[12]).\(b[13]).\(b[14]).\(b[15])" }
        var words: [UInt16] = []
        for i in 0..<8 { words.append(UInt16(b[2 * i]) << 8 | UInt16(b[2 * i + 1])) }
        // Longest run (length >= 2) of zero words becomes "::" (RFC 5952 4.2).
        var bestStart = -1
        var bestLen = 0
        var i = 0
        while i < 8 {
            if words[i] == 0 {
                var j = i
                while j < 8 && words[j] == 0 { j += 1 }
                if j - i > bestLen {
                    bestStart = i
                    bestLen = j - i
                }
                i = j
            } else {
                i += 1
            }
        }
        if bestLen < 2 { bestStart = -1 }
        func hex(_ w: UInt16) -> String { String(w, radix: 16) }
        if bestStart < 0 { return words.map(hex).joined(separator: ":") }
        let left = words[0..<bestStart].map(hex).joined(separator: ":")
        let right = words[(bestStart + bestLen)...].map(hex).joined(separator: ":")
        return left + "::" + right
    }

    /// Orders as the bytes in network order do (so listings sort like ipvsadm's).
    public static func < (a: IPAddress, b: IPAddress) -> Bool {
        let ah = a.hi.byteSwapped
        let bh = b.hi.byteSwapped
        if ah != bh { return ah < bh }
        return a.lo.byteSwapped < b.lo.byteSwapped
    }

    /// The address with all bits after the first `prefixLength` (of 32 for IPv4, 128 for IPv6) cleared.
    public func masked(prefixLength: Int) -> IPAddress {
        let bits = isIPv4 ? 96 + max(0, min(32, prefixLength)) : max(0, min(128, prefixLength))
        var h = hi.byteSwapped
        var l = lo.byteSwapped
        if bits < 64 {
            h = bits == 0 ? 0 : h & ~(UInt64.max >> UInt64(bits))
            l = 0
        } else if bits < 128 {
            l &= ~(UInt64.max >> UInt64(bits - 64))
        }
        return IPAddress(hi: h.byteSwapped, lo: l.byteSwapped)
    }
}

/// A 48-bit Ethernet address.
@frozen
public struct MACAddress: Hashable, Sendable, CustomStringConvertible {
    public var b0, b1, b2, b3, b4, b5: UInt8

    public init(_ b0: UInt8, _ b1: UInt8, _ b2: UInt8, _ b3: UInt8, _ b4: UInt8, _ b5: UInt8) {
        (self.b0, self.b1, self.b2, self.b3, self.b4, self.b5) = (b0, b1, b2, b3, b4, b5)
    }

    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 6 else { return nil }
        var v: [UInt8] = []
        for p in parts {
            guard p.count == 2, p.allSatisfy(\.isASCIIHexDigit), let x = UInt8(p, radix: 16) else { return nil }
            v.append(x)
        }
        self.init(v[0], v[1], v[2], v[3], v[4], v[5])
    }

    public static let zero = MACAddress(0, 0, 0, 0, 0, 0)
    public static let broadcast = MACAddress(0xff, 0xff, 0xff, 0xff, 0xff, 0xff)

    public var bytes: [UInt8] { [b0, b1, b2, b3, b4, b5] }

    public var description: String {
        bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined(separator: ":")
    }

    @inlinable
    public init(at p: UnsafeMutableRawPointer, _ offset: Int) {
        self.init(p.u8(offset), p.u8(offset + 1), p.u8(offset + 2), p.u8(offset + 3), p.u8(offset + 4), p.u8(offset + 5))
    }

    @inlinable
    public func store(to p: UnsafeMutableRawPointer, _ offset: Int) {
        p.setU8(b0, offset)
        p.setU8(b1, offset + 1)
        p.setU8(b2, offset + 2)
        p.setU8(b3, offset + 3)
        p.setU8(b4, offset + 4)
        p.setU8(b5, offset + 5)
    }
}

extension Character {
    /// 0-9, a-f, A-F (unlike `isHexDigit`, which also accepts fullwidth forms).
    var isASCIIHexDigit: Bool { isASCII && isHexDigit }
}
