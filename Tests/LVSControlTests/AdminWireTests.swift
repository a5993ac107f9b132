import Testing

@testable import LVSControl

/// SplitMix64: a deterministic generator for the fuzz tests.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite struct AdminWireTests {
    let sample = AdminRequest(arguments: ["-A", "-t", "[2001:db8::1]:80", "-s", "wrr", "ünï"], stdin: [0, 255, 10, 13])

    @Test func requestBytesAreAsSpecified() {
        let bytes = AdminRequest(arguments: ["-L", "-n"], stdin: Array("x".utf8)).encode()
        let expected: [UInt8] = Array("LVSA".utf8) + [0, 0, 0, 1, 0, 0, 0, 2]
            + [0, 0, 0, 2] + Array("-L".utf8) + [0, 0, 0, 2] + Array("-n".utf8) + [0, 0, 0, 1, 0x78]
        #expect(bytes == expected)
    }

    @Test func responseBytesAreAsSpecified() {
        let bytes = AdminResponse(status: -2, stdout: "ok\n", stderr: "").encode()
        let expected: [UInt8] = Array("LVSR".utf8) + [0xff, 0xff, 0xff, 0xfe] + [0, 0, 0, 3] + Array("ok\n".utf8)
            + [0, 0, 0, 0]
        #expect(bytes == expected)
    }

    @Test func roundTrips() throws {
        #expect(try AdminRequest.decode(sample.encode()) == sample)
        let empty = AdminRequest(arguments: [])
        #expect(try AdminRequest.decode(empty.encode()) == empty)
        let response = AdminResponse(status: 1, stdout: "IP Virtual Server version 1.2.1 (size=4096)\n", stderr: "No such service\n")
        #expect(try AdminResponse.decode(response.encode()) == response)
        #expect(try AdminResponse.decode(AdminResponse(status: 0).encode()) == AdminResponse(status: 0))
    }

    @Test func everyStrictPrefixIsTruncatedAndFrameLengthAgrees() {
        let requestBytes = sample.encode()
        for n in 0..<requestBytes.count {
            let prefix = Array(requestBytes[..<n])
            #expect(throws: AdminWireError.truncated) { try AdminRequest.decode(prefix) }
            // Either "need more" or already the right total, never anything else.
            let length = AdminRequest.frameLength(prefix)
            #expect(length == nil || length == requestBytes.count, "prefix \(n)")
        }
        #expect(AdminRequest.frameLength(requestBytes) == requestBytes.count)
        // The total is known as soon as the stdin length field has arrived.
        #expect(AdminRequest.frameLength(Array(requestBytes.dropLast(4))) == requestBytes.count)
        #expect(AdminRequest.frameLength(Array(requestBytes.dropLast(8))) == nil)

        let responseBytes = AdminResponse(status: 3, stdout: "abc", stderr: "de").encode()
        for n in 0..<responseBytes.count {
            let prefix = Array(responseBytes[..<n])
            #expect(throws: AdminWireError.truncated) { try AdminResponse.decode(prefix) }
            let length = AdminResponse.frameLength(prefix)
            #expect(length == nil || length == responseBytes.count, "prefix \(n)")
        }
        #expect(AdminResponse.frameLength(responseBytes) == responseBytes.count)
        #expect(AdminResponse.frameLength(Array(responseBytes[..<17])) == nil)  // stdout still arriving
        #expect(AdminResponse.frameLength(Array(responseBytes[..<19])) == responseBytes.count)
    }

    @Test func frameLengthOfAStreamIgnoresWhatFollows() {
        let a = sample.encode()
        let b = AdminRequest(arguments: ["-C"]).encode()
        #expect(AdminRequest.frameLength(a + b) == a.count)
        #expect(throws: AdminWireError.trailingBytes(b.count)) { try AdminRequest.decode(a + b) }
    }

    @Test func garbageIsRejectedWithTypedErrors() {
        var bytes = sample.encode()
        bytes[0] = UInt8(ascii: "X")
        #expect(throws: AdminWireError.badMagic) { try AdminRequest.decode(bytes) }
        #expect(throws: AdminWireError.badMagic) { try AdminRequest.checkedFrameLength(Array(bytes[..<2])) }
        #expect(AdminRequest.frameLength(Array(bytes[..<2])) == 2)  // stop waiting; decode reports it
        #expect(throws: AdminWireError.badMagic) { try AdminResponse.decode(sample.encode()) }

        var version = sample.encode()
        version[7] = 2
        #expect(throws: AdminWireError.unsupportedVersion(2)) { try AdminRequest.decode(version) }
        #expect(throws: AdminWireError.unsupportedVersion(2)) { try AdminRequest.checkedFrameLength(version) }

        var utf8 = AdminRequest(arguments: ["ab"]).encode()
        utf8[16] = 0xC3  // a lead byte without its continuation
        #expect(throws: AdminWireError.invalidUTF8) { try AdminRequest.decode(utf8) }
        var response = AdminResponse(status: 0, stdout: "ab").encode()
        response[12] = 0xFF
        #expect(throws: AdminWireError.invalidUTF8) { try AdminResponse.decode(response) }
    }

    @Test func oversizedFramesAreRefusedBeforeAllocating() {
        // A stdin length of 4 GiB - 1.
        let huge: [UInt8] = Array("LVSA".utf8) + [0, 0, 0, 1, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]
        #expect(throws: AdminWireError.tooLarge) { try AdminRequest.decode(huge) }
        #expect(throws: AdminWireError.tooLarge) { try AdminRequest.checkedFrameLength(huge) }
        #expect(AdminRequest.frameLength(huge) == huge.count)
        // Exactly at the cap is fine as far as the length goes.
        let capped: [UInt8] = Array("LVSA".utf8) + [0, 0, 0, 1, 0, 0, 0, 0]
            + withUInt32(UInt32(AdminWire.maxFrameSize - 16))
        #expect(AdminRequest.frameLength(capped) == AdminWire.maxFrameSize)
        let over: [UInt8] = Array("LVSA".utf8) + [0, 0, 0, 1, 0, 0, 0, 0]
            + withUInt32(UInt32(AdminWire.maxFrameSize - 15))
        #expect(throws: AdminWireError.tooLarge) { try AdminRequest.checkedFrameLength(over) }
        // Four billion arguments.
        let argc: [UInt8] = Array("LVSA".utf8) + [0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff]
        #expect(throws: AdminWireError.tooLarge) { try AdminRequest.decode(argc) }
        #expect(throws: AdminWireError.tooLarge) { try AdminRequest.checkedFrameLength(argc) }
        let stdoutHuge: [UInt8] = Array("LVSR".utf8) + [0, 0, 0, 0, 0xff, 0, 0, 0]
        #expect(throws: AdminWireError.tooLarge) { try AdminResponse.decode(stdoutHuge) }
        #expect(throws: AdminWireError.tooLarge) { try AdminResponse.checkedFrameLength(stdoutHuge) }
    }

    func withUInt32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xff), UInt8(v >> 8 & 0xff), UInt8(v & 0xff)] }

    /// Random byte strings (some with a valid header, some mutated valid frames): decoding never
    /// crashes, and whatever decodes re-encodes to the same bytes and has that frame length.
    @Test func fuzz() {
        var rng = SplitMix64(state: 0x4C56_5341)
        let valid = [sample.encode(), AdminRequest(arguments: ["-L", "-n", "-c"]).encode()]
        let validResponses = [AdminResponse(status: 7, stdout: "x\ny", stderr: "z").encode()]
        var decodedRequests = 0
        var decodedResponses = 0
        for i in 0..<4000 {
            var bytes: [UInt8]
            switch i % 4 {
            case 0:
                bytes = (0..<Int.random(in: 0..<64, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            case 1:
                bytes = Array("LVSA".utf8) + [0, 0, 0, 1, 0, 0, 0, UInt8.random(in: 0...3, using: &rng)]
                for _ in 0..<Int.random(in: 0..<6, using: &rng) {
                    let n = Int.random(in: 0..<6, using: &rng)
                    bytes += [0, 0, 0, UInt8(n)]
                    bytes += (0..<n).map { _ in UInt8.random(in: 0x20...0x7e, using: &rng) }
                }
            case 2:
                bytes = valid[i % valid.count]
                for _ in 0..<Int.random(in: 1...3, using: &rng) {
                    bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                }
                if Bool.random(using: &rng) { bytes = Array(bytes[..<Int.random(in: 0...bytes.count, using: &rng)]) }
            default:
                bytes = validResponses[0]
                bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                if Bool.random(using: &rng) { bytes.append(UInt8.random(in: 0...255, using: &rng)) }
            }
            if let r = try? AdminRequest.decode(bytes) {
                decodedRequests += 1
                #expect(r.encode() == bytes)
                #expect(AdminRequest.frameLength(bytes) == bytes.count)
            }
            if let r = try? AdminResponse.decode(bytes) {
                decodedResponses += 1
                #expect(r.encode() == bytes)
                #expect(AdminResponse.frameLength(bytes) == bytes.count)
            }
            if let n = AdminRequest.frameLength(bytes) { #expect(n >= 1) }
            if let n = AdminResponse.frameLength(bytes) { #expect(n >= 1) }
        }
        // The generator does reach the success paths too.
        #expect(decodedRequests > 50)
        #expect(decodedResponses > 50)
    }
}
