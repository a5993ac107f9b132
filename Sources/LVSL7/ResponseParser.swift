#if canImport(Glibc)
import Glibc
#endif
import NIOCore

/// How a response body is delimited (RFC 9112 6.3).
enum ResponseFraming: Equatable {
    /// No body (HEAD, 204, 304, or Content-Length: 0).
    case none
    case length(Int64)
    case chunked
    /// Until the server closes the connection (no length, or a transfer coding other than chunked).
    case untilClose
}

/// A response head as the switch forwards it: the facts it acts on, and the bytes to send on.
struct ResponseHead {
    var status: Int
    /// The server lets the connection carry another request (HTTP/1.1 without `close`, HTTP/1.0
    /// with `keep-alive`; never when the body runs until close).
    var keepAlive: Bool
    var framing: ResponseFraming
    /// The chunked framing is being removed for an HTTP/1.0 client: the body is data only, and
    /// its end is the connection's end.
    var dechunked: Bool
    /// The client connection closes after this response: the client asked for it
    /// (`clientKeepAlive` false), or the body ends with the server's close or loses its chunking.
    var closesClient: Bool
    /// The head for the client, complete: `HTTP/1.x CODE REASON` (x the client's version),
    /// every header line that is not hop-by-hop as received, `Connection: close` (or
    /// `keep-alive` for an HTTP/1.0 client), `setCookie`, the blank line; then, for a small
    /// Content-Length body that arrived with the head, the body itself (`bodyInHead` bytes), so
    /// a typical response is one buffer and one write.
    var bytes: ByteBuffer
    var bodyInHead = 0
}

/// What the upstream connection hands its client connection.
enum ResponseEvent {
    case head(ResponseHead)
    /// Bytes to forward as they are (chunk framing included unless dechunked).
    case body(ByteBuffer)
    case end
}

/// A message the switch cannot relay: a request is answered 400 (431 for a head over the
/// limit), a response 502 when nothing of it was sent yet.
struct HTTPParseError: Error, Equatable, CustomStringConvertible {
    let reason: String
    var headTooLarge = false
    init(reason: String, headTooLarge: Bool = false) {
        self.reason = reason
        self.headTooLarge = headTooLarge
    }
    var description: String { "malformed HTTP message: \(reason)" }
}
typealias ResponseParseError = HTTPParseError

/// A byte-level HTTP/1.1 response parser for the proxy path: it scans the head once, keeps the
/// header bytes as received (dropping only hop-by-hop lines), and tracks body framing with a small
/// state machine so bodies pass through as slices of what was read, chunk framing and trailers
/// included, never decoded into Strings or re-encoded. One response at a time: the caller sets
/// `noBody` (HEAD) and `clientMinor` before each request, and calls `next` until it returns nil
/// (more bytes needed); after `.end` it returns nil until the next call.
struct ResponseParser {
    var maxHeadBytes: Int
    /// The request was HEAD: the response has no body whatever its headers say.
    var noBody = false
    /// The client's HTTP minor version (the forwarded status line carries it; 0 removes chunking).
    var clientMinor = 1
    /// The client keeps its connection after this response (else `Connection: close` is added).
    var clientKeepAlive = true
    /// A complete `Set-Cookie: …\r\n` line to add (cookie-insert persistence), or empty.
    var setCookie: [UInt8] = []
    /// Bodies up to this size that arrived with their head are copied into the head's buffer.
    static let inlineBodyLimit = 8192

    /// The body of the response under way (`.idle` while waiting for a head).
    var body = BodyFraming()
    /// How far an unfinished head was already searched for its blank line.
    var scanned = 0
    /// Header lines of the head being parsed (start, colon, end at CR); reused.
    var lines: [(start: Int, colon: Int, end: Int)] = []

    init(maxHeadBytes: Int = 65536) {
        self.maxHeadBytes = maxHeadBytes
        body.maxLine = maxHeadBytes
        lines.reserveCapacity(32)
    }

    /// Between responses with nothing of the next one seen.
    var isIdle: Bool { body.state == .idle && scanned == 0 }

    /// The connection closed: `.end` when that ends the body (no length), nil otherwise (a
    /// response cut short, or none under way).
    mutating func closed() -> ResponseEvent? {
        guard body.state == .untilClose else { return nil }
        body.state = .idle
        return .end
    }

    /// The next event from `buffer` (its reader index moves past what the event covers), or nil
    /// when more bytes are needed or the response has ended.
    mutating func next(_ buffer: inout ByteBuffer) throws -> ResponseEvent? {
        while body.state == .idle {
            guard buffer.readableBytes > 0, let length = try headLength(buffer) else { return nil }
            var head = try parseHead(buffer, length: length)
            buffer.moveReaderIndex(forwardBy: length)
            scanned = 0
            if head.status < 200 { continue }  // 100 (the switch answered Expect itself), 103
            body.start(head.framing, dechunk: head.dechunked)
            if case .length(let n) = head.framing, n <= Self.inlineBodyLimit, buffer.readableBytes >= Int(n) {
                // (Into `head` itself: its buffer is not shared, so this is no copy-on-write.)
                var b = buffer.readSlice(length: Int(n))!
                head.bytes.writeBuffer(&b)
                head.bodyInHead = Int(n)
                body.state = .finished
            }
            return .head(head)
        }
        switch try body.next(&buffer) {
        case .body(let b): return .body(b)
        case .end: return .end
        case nil: return nil
        }
    }

    // MARK: Heads

    /// The head's length up to and including its blank line, or nil when it is not complete.
    mutating func headLength(_ buffer: ByteBuffer) throws -> Int? {
        try Self.headLength(buffer, scanned: &scanned, max: maxHeadBytes)
    }

    /// Where a head ends (past CRLF CRLF) in `buffer`'s readable bytes; `scanned` carries how far
    /// an unfinished head was already searched. Throws (`headTooLarge`) beyond `max` bytes.
    static func headLength(_ buffer: ByteBuffer, scanned: inout Int, max limit: Int) throws -> Int? {
        let from = scanned
        let found: Int? = buffer.withUnsafeReadableBytes { p in
            // From line feed to line feed (memchr), looking back for CR LF CR before each.
            let n = p.count
            var i = max(from, 3)
            while i < n {
                let lf = lineFeed(p, from: i, to: n)
                guard lf < n else { return nil }
                if lf >= 3 && p[lf - 1] == 13 && p[lf - 2] == 10 && p[lf - 3] == 13 { return lf + 1 }
                i = lf + 1
            }
            return nil
        }
        if let found {
            guard found <= limit else { throw HTTPParseError(reason: "head too large", headTooLarge: true) }
            return found
        }
        scanned = buffer.readableBytes
        if scanned > limit { throw HTTPParseError(reason: "head too large", headTooLarge: true) }
        return nil
    }

    static var contentLength: StaticString { "content-length" }
    static var transferEncoding: StaticString { "transfer-encoding" }
    static var connection: StaticString { "connection" }
    static var keepAliveName: StaticString { "keep-alive" }
    static var proxyConnection: StaticString { "proxy-connection" }
    static var te: StaticString { "te" }
    static var trailer: StaticString { "trailer" }
    static var upgrade: StaticString { "upgrade" }
    static var chunkedToken: StaticString { "chunked" }
    static var closeToken: StaticString { "close" }

    /// Parses the head in the first `length` readable bytes (which end in CRLF CRLF).
    mutating func parseHead(_ buffer: ByteBuffer, length: Int) throws -> ResponseHead {
        var lines: [(start: Int, colon: Int, end: Int)] = []
        swap(&lines, &self.lines)  // reused without a copy
        lines.removeAll(keepingCapacity: true)
        defer { swap(&lines, &self.lines) }
        let noBody = self.noBody
        let clientMinor = self.clientMinor
        let clientKeepAlive = self.clientKeepAlive
        let setCookie = self.setCookie
        return try buffer.withUnsafeReadableBytes { p -> ResponseHead in
            // Status line: HTTP/1.x SP 3DIGIT [SP reason] CRLF
            guard length >= 16, p[0] == 72, p[1] == 84, p[2] == 84, p[3] == 80, p[4] == 47, p[5] == 49, p[6] == 46,
                  p[7] == 48 || p[7] == 49, p[8] == 32,
                  (48...57).contains(p[9]), (48...57).contains(p[10]), (48...57).contains(p[11])
            else { throw ResponseParseError(reason: "bad status line") }
            let minor = Int(p[7] - 48)
            let status = Int(p[9] - 48) * 100 + Int(p[10] - 48) * 10 + Int(p[11] - 48)
            var i = 12
            i = Self.lineFeed(p, from: i, to: length)  // the head ends in LF, so there is one
            guard p[i - 1] == 13, i == 13 || p[12] == 32 else { throw ResponseParseError(reason: "bad status line") }
            let statusEnd = i + 1
            var pos = statusEnd
            var contentLength: Int64? = nil
            var transferEncoding = false
            var chunked = false
            var close = false
            var keepAliveToken = false
            var listsOthers = false
            while pos < length - 2 {
                let e = Self.lineFeed(p, from: pos, to: length)
                guard e > pos, p[e - 1] == 13 else { throw ResponseParseError(reason: "header line without CRLF") }
                let end = e - 1
                guard p[pos] != 32 && p[pos] != 9 else { throw ResponseParseError(reason: "folded header line") }
                var colon = pos
                while colon < end && p[colon] != 58 {
                    guard p[colon] > 32 && p[colon] < 127 else { throw ResponseParseError(reason: "bad header name") }
                    colon += 1
                }
                guard colon < end, colon > pos else { throw ResponseParseError(reason: "header line without a name and colon") }
                lines.append((pos, colon, end))
                let nameLength = colon - pos
                var vs = colon + 1
                var ve = end
                while vs < ve && (p[vs] == 32 || p[vs] == 9) { vs += 1 }
                while ve > vs && (p[ve - 1] == 32 || p[ve - 1] == 9) { ve -= 1 }
                if nameLength == 14 && Self.equals(p, pos, Self.contentLength) {
                    var value: Int64 = 0
                    guard ve > vs, ve - vs <= 18 else { throw ResponseParseError(reason: "bad Content-Length") }
                    for k in vs..<ve {
                        guard (48...57).contains(p[k]) else { throw ResponseParseError(reason: "bad Content-Length") }
                        value = value * 10 + Int64(p[k] - 48)
                    }
                    if let c = contentLength, c != value { throw ResponseParseError(reason: "conflicting Content-Length") }
                    contentLength = value
                } else if nameLength == 17 && Self.equals(p, pos, Self.transferEncoding) {
                    transferEncoding = true
                    // Chunked when it is the final coding (of the last such line).
                    var t = ve
                    while t > vs && p[t - 1] != 44 { t -= 1 }
                    while t < ve && (p[t] == 32 || p[t] == 9) { t += 1 }
                    chunked = ve - t == 7 && Self.equals(p, t, Self.chunkedToken)
                } else if nameLength == 10 && Self.equals(p, pos, Self.connection) {
                    Self.tokens(p, vs, ve) { s, e in
                        if e - s == 5 && Self.equals(p, s, Self.closeToken) {
                            close = true
                        } else if e - s == 10 && Self.equals(p, s, Self.keepAliveName) {
                            keepAliveToken = true
                        } else if e > s {
                            listsOthers = true
                        }
                    }
                }
                pos = e + 1
            }
            var framing: ResponseFraming
            if noBody || status == 204 || status == 304 || status < 200 {
                framing = .none
            } else if transferEncoding {
                framing = chunked ? .chunked : .untilClose
            } else if let c = contentLength {
                framing = c == 0 ? .none : .length(c)
            } else {
                framing = .untilClose
            }
            let dechunked = framing == .chunked && clientMinor == 0
            let keepAlive = framing != .untilClose && (minor == 1 ? !close : keepAliveToken)

            // The forwarded head: the client's version, the status, and the end-to-end lines.
            var out = ByteBufferAllocator().buffer(capacity: length + 96 + setCookie.count
                + (contentLength.map { $0 <= Self.inlineBodyLimit ? Int($0) : 0 } ?? 0))
            // Kept lines are copied in runs (consecutive lines, one copy), from the status line on
            // when its version is the client's, else from the status code.
            var run = 0..<statusEnd
            if minor != clientMinor {
                out.writeStaticString(clientMinor == 0 ? "HTTP/1.0" : "HTTP/1.1")
                run = 8..<statusEnd
            }
            for line in lines {
                let nameLength = line.colon - line.start
                let s = line.start
                switch nameLength {
                case 2 where Self.equals(p, s, Self.te): continue
                case 7 where Self.equals(p, s, Self.trailer) || Self.equals(p, s, Self.upgrade): continue
                case 10 where Self.equals(p, s, Self.connection) || Self.equals(p, s, Self.keepAliveName): continue
                case 16 where Self.equals(p, s, Self.proxyConnection): continue
                case 14 where transferEncoding && Self.equals(p, s, Self.contentLength): continue
                case 17 where dechunked && Self.equals(p, s, Self.transferEncoding): continue
                default: break
                }
                if listsOthers && Self.listedByConnection(p, lines, line) { continue }
                if s == run.upperBound {
                    run = run.lowerBound..<(line.end + 2)
                } else {
                    out.writeBytes(UnsafeRawBufferPointer(rebasing: p[run]))
                    run = s..<(line.end + 2)
                }
            }
            out.writeBytes(UnsafeRawBufferPointer(rebasing: p[run]))
            let closesClient = !clientKeepAlive || framing == .untilClose || dechunked
            if closesClient {
                out.writeStaticString("Connection: close\r\n")
            } else if clientMinor == 0 {
                out.writeStaticString("Connection: keep-alive\r\n")
            }
            if !setCookie.isEmpty { out.writeBytes(setCookie) }
            out.writeStaticString("\r\n")
            return ResponseHead(status: status, keepAlive: keepAlive, framing: framing, dechunked: dechunked,
                                closesClient: closesClient, bytes: out)
        }
    }

    /// Whether a Connection header names this line's field (it is then hop-by-hop too).
    static func listedByConnection(_ p: UnsafeRawBufferPointer, _ lines: [(start: Int, colon: Int, end: Int)],
                                   _ line: (start: Int, colon: Int, end: Int)) -> Bool {
        let nameLength = line.colon - line.start
        var found = false
        for c in lines where c.colon - c.start == 10 && equals(p, c.start, connection) {
            tokens(p, c.colon + 1, c.end) { s, e in
                if e - s == nameLength && equalsIgnoringCase(p, s, line.start, nameLength) { found = true }
            }
        }
        return found
    }

    /// Calls `body` with each comma-separated token of p[from..<to], trimmed.
    static func tokens(_ p: UnsafeRawBufferPointer, _ from: Int, _ to: Int, _ body: (Int, Int) -> Void) {
        var s = from
        while s < to {
            var e = s
            while e < to && p[e] != 44 { e += 1 }
            var a = s
            var b = e
            while a < b && (p[a] == 32 || p[a] == 9) { a += 1 }
            while b > a && (p[b - 1] == 32 || p[b - 1] == 9) { b -= 1 }
            body(a, b)
            s = e + 1
        }
    }

    /// The index of the first LF in p[from..<to], or `to` when there is none (memchr: the
    /// library's vectorised scan, instead of a byte loop).
    @inline(__always)
    static func lineFeed(_ p: UnsafeRawBufferPointer, from: Int, to: Int) -> Int {
        guard from < to, let base = p.baseAddress else { return to }
        guard let hit = memchr(base + from, 10, to - from) else { return to }
        return UnsafeRawPointer(hit) - base
    }

    @inline(__always)
    static func lower(_ c: UInt8) -> UInt8 { c &- 65 < 26 ? c | 0x20 : c }

    /// p[at...] starts with `lowerName` (ASCII, case-insensitive); the caller checked the length.
    /// (A StaticString: no array to retain per comparison.)
    @inline(__always)
    static func equals(_ p: UnsafeRawBufferPointer, _ at: Int, _ lowerName: StaticString) -> Bool {
        let q = lowerName.utf8Start
        for k in 0..<lowerName.utf8CodeUnitCount where lower(p[at + k]) != q[k] { return false }
        return true
    }

    static func equalsIgnoringCase(_ p: UnsafeRawBufferPointer, _ a: Int, _ b: Int, _ n: Int) -> Bool {
        for k in 0..<n where lower(p[a + k]) != lower(p[b + k]) { return false }
        return true
    }
}
