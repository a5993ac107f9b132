// The lvsadm <-> lvsd wire format: one request, one response, over a unix stream socket.
// Pure encode/decode, no I/O. All integers are big-endian.
//
//   request   "LVSA" | u32 version (1) | u32 argc | argc x (u32 length | UTF-8 bytes)
//             | u32 stdin length | stdin bytes
//   response  "LVSR" | i32 exit status | u32 stdout length | UTF-8 bytes
//             | u32 stderr length | UTF-8 bytes
//
// A frame (header included) is at most `AdminWire.maxFrameSize` bytes; decoders reject anything
// larger, truncated, followed by extra bytes, or not valid UTF-8 with a typed error.

/// Why a frame was rejected.
public enum AdminWireError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The first four bytes are not "LVSA" / "LVSR".
    case badMagic
    case unsupportedVersion(UInt32)
    /// The bytes end before the frame does.
    case truncated
    /// The frame (as its length fields describe it) exceeds `AdminWire.maxFrameSize`.
    case tooLarge
    /// Bytes follow the end of the frame.
    case trailingBytes(Int)
    /// An argument, stdout or stderr is not valid UTF-8.
    case invalidUTF8

    public var description: String {
        switch self {
        case .badMagic: "not an lvsadm control message (bad magic)"
        case .unsupportedVersion(let v): "unsupported control protocol version \(v)"
        case .truncated: "truncated control message"
        case .tooLarge: "control message larger than \(AdminWire.maxFrameSize) bytes"
        case .trailingBytes(let n): "\(n) unexpected bytes after the control message"
        case .invalidUTF8: "control message text is not valid UTF-8"
        }
    }
}

/// Constants and primitives shared by the request and the response codecs.
public enum AdminWire {
    /// Largest frame, header included (16 MiB).
    public static let maxFrameSize = 16 << 20
    public static let version: UInt32 = 1
    static let requestMagic: [UInt8] = Array("LVSA".utf8)
    static let responseMagic: [UInt8] = Array("LVSR".utf8)

    static func append(_ value: UInt32, to out: inout [UInt8]) {
        out.append(UInt8(truncatingIfNeeded: value >> 24))
        out.append(UInt8(truncatingIfNeeded: value >> 16))
        out.append(UInt8(truncatingIfNeeded: value >> 8))
        out.append(UInt8(truncatingIfNeeded: value))
    }

    static func appendBlob(_ bytes: some Collection<UInt8>, to out: inout [UInt8]) {
        append(UInt32(truncatingIfNeeded: bytes.count), to: &out)
        out.append(contentsOf: bytes)
    }

    /// A bounds-checked reader over a byte array.
    struct Reader {
        let bytes: [UInt8]
        var offset = 0

        init(_ bytes: [UInt8]) { self.bytes = bytes }

        var remaining: Int { bytes.count - offset }

        mutating func magic(_ expected: [UInt8]) throws(AdminWireError) {
            // Compare what is there, so a wrong prefix is reported before "truncated".
            let n = min(expected.count, remaining)
            for i in 0..<n where bytes[offset + i] != expected[i] { throw .badMagic }
            guard n == expected.count else { throw .truncated }
            offset += n
        }

        mutating func u32() throws(AdminWireError) -> UInt32 {
            guard remaining >= 4 else { throw .truncated }
            let b = bytes
            let o = offset
            offset += 4
            return UInt32(b[o]) << 24 | UInt32(b[o + 1]) << 16 | UInt32(b[o + 2]) << 8 | UInt32(b[o + 3])
        }

        /// Skips a length-prefixed blob; returns its range. Checks the frame size cap first.
        mutating func blobRange() throws(AdminWireError) -> Range<Int> {
            let length = Int(try u32())
            guard offset + length <= AdminWire.maxFrameSize else { throw .tooLarge }
            guard remaining >= length else { throw .truncated }
            defer { offset += length }
            return offset..<(offset + length)
        }

        mutating func string() throws(AdminWireError) -> String {
            let r = try blobRange()
            guard let s = String(validating: bytes[r], as: UTF8.self) else { throw .invalidUTF8 }
            return s
        }

        func finish() throws(AdminWireError) {
            guard remaining == 0 else { throw .trailingBytes(remaining) }
        }
    }

    /// Walks length fields as far as `prefix` allows. Returns the total frame length once every
    /// length field is available, nil when more bytes are needed; throws when the prefix is
    /// already invalid (bad magic or version, or a frame over the cap).
    static func measure(_ prefix: [UInt8], magic: [UInt8], blobsAfterHeader: (inout Reader) throws(AdminWireError) -> Int)
        throws(AdminWireError) -> Int?
    {
        var r = Reader(prefix)
        do throws(AdminWireError) {
            try r.magic(magic)
            let total = try blobsAfterHeader(&r)
            guard total <= maxFrameSize else { throw AdminWireError.tooLarge }
            return total
        } catch {
            if error == .truncated { return nil }
            throw error
        }
    }

    /// Skips one complete length-prefixed blob (throws `.truncated` while it is arriving).
    static func skipBlob(_ r: inout Reader) throws(AdminWireError) {
        let length = Int(try r.u32())
        guard r.offset + length <= maxFrameSize else { throw .tooLarge }
        guard r.remaining >= length else { throw .truncated }
        r.offset += length
    }

    /// Reads the final blob's length field: the frame ends after its contents.
    static func lastBlobEnd(_ r: inout Reader) throws(AdminWireError) -> Int {
        let length = Int(try r.u32())
        let end = r.offset + length
        guard end <= maxFrameSize else { throw .tooLarge }
        return end
    }
}

/// One lvsadm invocation: its arguments (without the program name, i.e. argv[1...]) and, for
/// `-R`, what it read from standard input.
public struct AdminRequest: Equatable, Sendable {
    public var arguments: [String]
    public var stdin: [UInt8]

    public init(arguments: [String], stdin: [UInt8] = []) {
        self.arguments = arguments
        self.stdin = stdin
    }

    public func encode() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(16 + stdin.count + arguments.reduce(0) { $0 + 4 + $1.utf8.count })
        out += AdminWire.requestMagic
        AdminWire.append(AdminWire.version, to: &out)
        AdminWire.append(UInt32(truncatingIfNeeded: arguments.count), to: &out)
        for a in arguments { AdminWire.appendBlob(a.utf8, to: &out) }
        AdminWire.appendBlob(stdin, to: &out)
        return out
    }

    public static func decode(_ bytes: [UInt8]) throws(AdminWireError) -> AdminRequest {
        guard bytes.count <= AdminWire.maxFrameSize else { throw .tooLarge }
        var r = AdminWire.Reader(bytes)
        try r.magic(AdminWire.requestMagic)
        let version = try r.u32()
        guard version == AdminWire.version else { throw .unsupportedVersion(version) }
        let argc = Int(try r.u32())
        // Each argument needs at least its 4-byte length: refuse absurd counts before allocating.
        guard argc <= r.remaining / 4 else {
            throw argc > AdminWire.maxFrameSize / 4 ? .tooLarge : .truncated
        }
        var arguments: [String] = []
        arguments.reserveCapacity(argc)
        for _ in 0..<argc { arguments.append(try r.string()) }
        let stdin = Array(bytes[try r.blobRange()])
        try r.finish()
        return AdminRequest(arguments: arguments, stdin: stdin)
    }

    /// The total length of the request that `prefix` starts, once enough of it has arrived to
    /// know; nil while more bytes are needed. An invalid prefix (wrong magic or version, a frame
    /// over the cap) returns `prefix.count`, so that a reader stops waiting and `decode` reports
    /// the typed error.
    public static func frameLength(_ prefix: [UInt8]) -> Int? {
        do {
            return try checkedFrameLength(prefix)
        } catch {
            return max(prefix.count, 1)
        }
    }

    /// `frameLength` that throws on an invalid prefix instead.
    public static func checkedFrameLength(_ prefix: [UInt8]) throws(AdminWireError) -> Int? {
        try AdminWire.measure(prefix, magic: AdminWire.requestMagic) { (r: inout AdminWire.Reader) throws(AdminWireError) -> Int in
            let version = try r.u32()
            guard version == AdminWire.version else { throw .unsupportedVersion(version) }
            let argc = Int(try r.u32())
            guard argc <= AdminWire.maxFrameSize / 4 else { throw .tooLarge }
            // Argument lengths are interleaved with their contents: each argument must have
            // arrived before the next length is known. Only stdin, the last blob, may be partial.
            for _ in 0..<argc { try AdminWire.skipBlob(&r) }
            return try AdminWire.lastBlobEnd(&r)
        }
    }
}

/// The result of one lvsadm invocation: ipvsadm's exit status and what it printed.
public struct AdminResponse: Equatable, Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String

    public init(status: Int32, stdout: String = "", stderr: String = "") {
        self.status = status
        self.stdout = stdout
        self.stderr = stderr
    }

    public func encode() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(16 + stdout.utf8.count + stderr.utf8.count)
        out += AdminWire.responseMagic
        AdminWire.append(UInt32(bitPattern: status), to: &out)
        AdminWire.appendBlob(stdout.utf8, to: &out)
        AdminWire.appendBlob(stderr.utf8, to: &out)
        return out
    }

    public static func decode(_ bytes: [UInt8]) throws(AdminWireError) -> AdminResponse {
        guard bytes.count <= AdminWire.maxFrameSize else { throw .tooLarge }
        var r = AdminWire.Reader(bytes)
        try r.magic(AdminWire.responseMagic)
        let status = Int32(bitPattern: try r.u32())
        let out = try r.string()
        let err = try r.string()
        try r.finish()
        return AdminResponse(status: status, stdout: out, stderr: err)
    }

    /// See `AdminRequest.frameLength`.
    public static func frameLength(_ prefix: [UInt8]) -> Int? {
        do {
            return try checkedFrameLength(prefix)
        } catch {
            return max(prefix.count, 1)
        }
    }

    public static func checkedFrameLength(_ prefix: [UInt8]) throws(AdminWireError) -> Int? {
        try AdminWire.measure(prefix, magic: AdminWire.responseMagic) { (r: inout AdminWire.Reader) throws(AdminWireError) -> Int in
            _ = try r.u32()  // status
            try AdminWire.skipBlob(&r)  // stdout
            return try AdminWire.lastBlobEnd(&r)  // stderr
        }
    }

    /// Bytes of framing around stdout and stderr.
    public static let overhead = 16
}
