// Shared helpers for the packet tests: a deterministic PRNG, exact-size frame buffers, hex input.
import LVSPacket
import Testing

/// SplitMix64 (Steele, Lea, Flood 2014): a tiny deterministic generator, so property and fuzz
/// tests see the same inputs on every run and a failure is reproducible from its seed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }

    mutating func bytes(_ count: Int) -> [UInt8] {
        (0..<count).map { _ in UInt8.random(in: 0...255, using: &self) }
    }

    mutating func ipv4() -> IPAddress { IPAddress(v4: UInt32.random(in: 0...UInt32.max, using: &self)) }

    mutating func ipv6() -> IPAddress {
        while true {
            let a = IPAddress(hi: next(), lo: next())
            if !a.isIPv4 { return a }
        }
    }
}

/// Copies `bytes` into a heap buffer of exactly `bytes.count` bytes (alignment 1), so a read past
/// the end leaves the allocation and is caught by the address sanitizer.
func withExactBuffer<R>(_ bytes: [UInt8], _ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows -> R {
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 1)
    defer { buffer.deallocate() }
    buffer.copyBytes(from: bytes)
    return try body(buffer)
}

/// Like `withExactBuffer`, for code that wants the base pointer (never nil for a non-empty frame).
func withFrame<R>(_ bytes: [UInt8], _ body: (UnsafeMutableRawPointer, Int) throws -> R) rethrows -> R {
    precondition(!bytes.isEmpty)
    return try withExactBuffer(bytes) { try body($0.baseAddress!, $0.count) }
}

/// Runs `body` over a copy of `bytes` and returns the bytes as `body` left them.
func mutated(_ bytes: [UInt8], _ body: (UnsafeMutableRawPointer, Int) throws -> Void) rethrows -> [UInt8] {
    try withExactBuffer(bytes) { buffer in
        try body(buffer.baseAddress!, buffer.count)
        return Array(buffer)
    }
}

/// Parses `bytes` from an exact-size buffer.
func parseFrame(_ bytes: [UInt8]) -> ParseResult {
    withExactBuffer(bytes) { PacketParser.parse($0) }
}

/// `bytes` with `replacement` written at `offset` (the array grows when needed).
func patched(_ bytes: [UInt8], at offset: Int, _ replacement: [UInt8]) -> [UInt8] {
    var out = bytes
    if out.count < offset + replacement.count {
        out += [UInt8](repeating: 0, count: offset + replacement.count - out.count)
    }
    for (i, b) in replacement.enumerated() { out[offset + i] = b }
    return out
}

/// Bytes from hex text; spaces and newlines are ignored ("45 00 00 73").
func hex(_ text: String) -> [UInt8] {
    let digits = text.unicodeScalars.filter { !$0.properties.isWhitespace }.map(Character.init)
    precondition(digits.count % 2 == 0, "odd number of hex digits")
    return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(digits[$0...$0 + 1]), radix: 16)! }
}

func be16Bytes(_ v: UInt16) -> [UInt8] { [UInt8(v >> 8), UInt8(v & 0xff)] }
func be32Bytes(_ v: UInt32) -> [UInt8] {
    [UInt8(v >> 24), UInt8((v >> 16) & 0xff), UInt8((v >> 8) & 0xff), UInt8(v & 0xff)]
}

/// A reference Internet checksum written the obvious way (big-endian 16-bit words, end-around
/// carry), independent of `Checksum`'s raw-word arithmetic. Returns the folded sum in host order.
func referenceSum(_ bytes: [UInt8]) -> UInt16 {
    var sum: UInt32 = 0
    var i = 0
    while i < bytes.count {
        let hi = UInt32(bytes[i])
        let lo = i + 1 < bytes.count ? UInt32(bytes[i + 1]) : 0
        sum += hi << 8 | lo
        sum = (sum & 0xffff) + (sum >> 16)
        i += 2
    }
    return UInt16(sum)
}

/// The pseudo-header of RFC 793 (IPv4) or RFC 8200 8.1 (IPv6), as bytes.
func pseudoHeaderBytes(src: IPAddress, dst: IPAddress, proto: UInt8, length: Int) -> [UInt8] {
    if src.isIPv4 {
        return Array(src.bytes[12...]) + Array(dst.bytes[12...]) + [0, proto] + be16Bytes(UInt16(length))
    }
    return src.bytes + dst.bytes + be32Bytes(UInt32(length)) + [0, 0, 0, proto]
}

/// True when the L4 checksum of the segment (header + payload) verifies against its pseudo-header.
func l4ChecksumVerifies(_ segment: [UInt8], src: IPAddress, dst: IPAddress, proto: UInt8) -> Bool {
    referenceSum(pseudoHeaderBytes(src: src, dst: dst, proto: proto, length: segment.count) + segment) == 0xffff
}

/// The raw (memory-order) UInt16 at `offset`, as `raw16` would load it.
func rawWord(_ bytes: [UInt8], _ offset: Int) -> UInt16 {
    UInt16(bytes[offset]) | UInt16(bytes[offset + 1]) << 8
}

extension ParseResult {
    var info: PacketInfo? {
        if case .ok(let info) = self { return info }
        return nil
    }

    var reason: MalformedReason? {
        if case .malformed(let reason) = self { return reason }
        return nil
    }
}

// Addresses used across the fixtures (RFC 5737 / RFC 3849 documentation ranges).
let client4 = IPAddress(192, 0, 2, 10)
let vip4 = IPAddress(198, 51, 100, 1)
let real4 = IPAddress(10, 0, 0, 21)
let client6 = IPAddress("2001:db8:1::10")!
let vip6 = IPAddress("2001:db8:100::1")!
let real6 = IPAddress("fd00::21")!
let clientMAC = MACAddress(0x02, 0x00, 0x00, 0x00, 0x00, 0x01)
let directorMAC = MACAddress(0x02, 0x00, 0x00, 0x00, 0x00, 0x02)

@Test func splitMix64MatchesReferenceOutput() {
    // First outputs for seed 0 of the reference C implementation (Vigna's splitmix64.c).
    var g = SplitMix64(seed: 0)
    #expect(g.next() == 0xe220_a839_7b1d_cdaf)
    #expect(g.next() == 0x6e78_9e6a_a1b9_65f4)
}
