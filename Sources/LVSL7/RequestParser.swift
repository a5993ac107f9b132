import NIOCore
import NIOHTTP1

/// A request head as the switch routes, checks and forwards it.
struct RequestHead {
    var method: HTTPMethod
    var version: HTTPVersion
    /// The request target as received ("/a/b?q" or an absolute URI).
    var target: String
    /// The client lets the connection carry another request (HTTP/1.1 without `close`,
    /// HTTP/1.0 with `keep-alive`).
    var keepAlive: Bool
    var hosts = 0
    var contentLength: Int64 = 0
    var chunked = false
    var expectContinue = false
    /// The head as received (request line to blank line), for header look-ups by routing.
    var raw: ByteBuffer
    /// The head to send upstream: HTTP/1.1, the end-to-end lines as received, X-Forwarded-For,
    /// X-Forwarded-Proto and Forwarded added, ending in the blank line.
    var upstream: ByteBuffer

    var hasBody: Bool { chunked || contentLength > 0 }

    /// A head for answers when none was parsed (a request the parser refused).
    static let none = RequestHead(method: .GET, version: .http1_1, target: "/", keepAlive: false,
                                  raw: ByteBuffer(), upstream: ByteBuffer())

    /// The first value of a header (name case-insensitive, ASCII), trimmed, or nil.
    func header(_ name: String) -> String? {
        let want = Array(name.utf8).map(ResponseParser.lower)
        func equals(_ p: UnsafeRawBufferPointer, _ at: Int) -> Bool {
            for k in 0..<want.count where ResponseParser.lower(p[at + k]) != want[k] { return false }
            return true
        }
        return raw.withUnsafeReadableBytes { p -> String? in
            var pos = 0
            while pos < p.count && p[pos] != 10 { pos += 1 }
            pos += 1  // past the request line
            while pos < p.count - 2 {
                var e = pos
                while e < p.count && p[e] != 10 { e += 1 }
                let end = e - 1  // at CR
                if pos + want.count < end && p[pos + want.count] == 58 && equals(p, pos) {
                    var vs = pos + want.count + 1
                    var ve = end
                    while vs < ve && (p[vs] == 32 || p[vs] == 9) { vs += 1 }
                    while ve > vs && (p[ve - 1] == 32 || p[ve - 1] == 9) { ve -= 1 }
                    return String(decoding: UnsafeRawBufferPointer(rebasing: p[vs..<ve]), as: UTF8.self)
                }
                pos = e + 1
            }
            return nil
        }
    }
}

/// What the client connection's parser hands on.
enum RequestEvent {
    case head(RequestHead)
    /// Body bytes to forward as they are (chunk framing included).
    case body(ByteBuffer)
    case end
}

/// A byte-level HTTP/1.1 request parser for the proxy path (no NIO decoder, no String headers
/// but the target): it finds the request line, Host, Content-Length, Transfer-Encoding,
/// Connection and Expect by scanning the head once, and writes the upstream head in the same
/// pass (hop-by-hop lines dropped, the forwarding headers added). Bodies pass through with
/// `BodyFraming` (content-length or chunked; a request without either has none). Errors are
/// `HTTPParseError` (`headTooLarge` for a head over `maxHeadBytes`: 431).
struct RequestParser {
    var maxHeadBytes: Int
    /// The client's address as text (X-Forwarded-For), and `for=…;proto=http` (Forwarded).
    var clientText: [UInt8] = Array("unknown".utf8) { didSet { makeTail() } }
    var forwardedFor: [UInt8] = Array("for=unknown;proto=http".utf8) { didSet { makeTail() } }
    /// `CLIENT\r\nX-Forwarded-Proto: http\r\nForwarded: for=CLIENT;proto=http`: what follows
    /// the received X-Forwarded-For values, the same for every request of the connection.
    var tail: [UInt8] = []

    mutating func makeTail() {
        tail = clientText + Array("\r\nX-Forwarded-Proto: http\r\nForwarded: ".utf8) + forwardedFor
    }
    var body = BodyFraming()
    var scanned = 0
    var lines: [(start: Int, colon: Int, end: Int)] = []

    init(maxHeadBytes: Int) {
        self.maxHeadBytes = maxHeadBytes
        body.maxLine = maxHeadBytes
        lines.reserveCapacity(32)
        makeTail()
    }

    /// Between requests with nothing of the next one seen.
    var isIdle: Bool { body.state == .idle && scanned == 0 }

    /// The next event from `buffer` (its reader index moves past what the event covers), or nil
    /// when more bytes are needed.
    mutating func next(_ buffer: inout ByteBuffer) throws -> RequestEvent? {
        if body.state == .idle {
            guard buffer.readableBytes > 0, let length = try headLength(buffer) else { return nil }
            let head = try parseHead(buffer, length: length)
            buffer.moveReaderIndex(forwardBy: length)
            scanned = 0
            body.start(head.chunked ? .chunked : head.contentLength > 0 ? .length(head.contentLength) : .none,
                       dechunk: false)
            return .head(head)
        }
        switch try body.next(&buffer) {
        case .body(let b): return .body(b)
        case .end: return .end
        case nil: return nil
        }
    }

    /// The head's length up to and including its blank line, or nil when it is not complete.
    mutating func headLength(_ buffer: ByteBuffer) throws -> Int? {
        try ResponseParser.headLength(buffer, scanned: &scanned, max: maxHeadBytes)
    }

    static var host: StaticString { "host" }
    static var expect: StaticString { "expect" }
    static var xff: StaticString { "x-forwarded-for" }
    static var continueToken: StaticString { "100-continue" }

    static func isTokenChar(_ c: UInt8) -> Bool {
        switch c {
        case 48...57, 65...90, 97...122: return true
        case 33, 35, 36, 37, 38, 39, 42, 43, 45, 46, 94, 95, 96, 124, 126: return true
        default: return false
        }
    }

    static func method(_ p: UnsafeRawBufferPointer, _ n: Int) -> HTTPMethod {
        if n == 3 && p[0] == 71 && p[1] == 69 && p[2] == 84 { return .GET }
        if n == 4 && p[0] == 80 && p[1] == 79 && p[2] == 83 && p[3] == 84 { return .POST }
        if n == 4 && p[0] == 72 && p[1] == 69 && p[2] == 65 && p[3] == 68 { return .HEAD }
        return HTTPMethod(rawValue: String(decoding: UnsafeRawBufferPointer(rebasing: p[0..<n]), as: UTF8.self))
    }

    /// Parses the head in the first `length` readable bytes (which end in CRLF CRLF).
    mutating func parseHead(_ buffer: ByteBuffer, length: Int) throws -> RequestHead {
        var lines: [(start: Int, colon: Int, end: Int)] = []
        swap(&lines, &self.lines)  // reused without a copy
        lines.removeAll(keepingCapacity: true)
        defer { swap(&lines, &self.lines) }
        let tail = self.tail
        return try buffer.withUnsafeReadableBytes { p -> RequestHead in
            // Request line: method SP target SP HTTP/D.D CRLF
            var i = 0
            while i < length && Self.isTokenChar(p[i]) { i += 1 }
            let methodEnd = i
            guard methodEnd > 0, p[i] == 32 else { throw HTTPParseError(reason: "bad request line") }
            i += 1
            let targetStart = i
            while i < length && p[i] > 32 && p[i] != 127 { i += 1 }
            let targetEnd = i
            guard targetEnd > targetStart, p[i] == 32, i + 11 <= length,
                  p[i + 1] == 72, p[i + 2] == 84, p[i + 3] == 84, p[i + 4] == 80, p[i + 5] == 47,
                  (48...57).contains(p[i + 6]), p[i + 7] == 46, (48...57).contains(p[i + 8]),
                  p[i + 9] == 13, p[i + 10] == 10
            else { throw HTTPParseError(reason: "bad request line") }
            let version = HTTPVersion(major: Int(p[i + 6] - 48), minor: Int(p[i + 8] - 48))
            var pos = i + 11
            var host: (Int, Int)? = nil
            var hosts = 0
            var contentLength: Int64? = nil
            var transferEncoding = false
            var chunked = false
            var close = false
            var keepAliveToken = false
            var listsOthers = false
            var expectContinue = false
            var xffCount = 0
            while pos < length - 2 {
                let e = ResponseParser.lineFeed(p, from: pos, to: length)
                guard e > pos, p[e - 1] == 13 else { throw HTTPParseError(reason: "header line without CRLF") }
                let end = e - 1
                var colon = pos
                while colon < end && p[colon] != 58 {
                    guard Self.isTokenChar(p[colon]) else { throw HTTPParseError(reason: "bad header name") }
                    colon += 1
                }
                guard colon < end, colon > pos else { throw HTTPParseError(reason: "header line without a name and colon") }
                var vs = colon + 1
                var ve = end
                while vs < ve && (p[vs] == 32 || p[vs] == 9) { vs += 1 }
                while ve > vs && (p[ve - 1] == 32 || p[ve - 1] == 9) { ve -= 1 }
                for k in vs..<ve where p[k] < 32 && p[k] != 9 || p[k] == 127 {
                    throw HTTPParseError(reason: "control character in a header value")
                }
                lines.append((pos, colon, end))
                let s = pos
                switch colon - pos {
                case 4 where ResponseParser.equals(p, s, Self.host):
                    hosts += 1
                    host = (vs, ve)
                case 14 where ResponseParser.equals(p, s, ResponseParser.contentLength):
                    var value: Int64 = 0
                    guard ve > vs, ve - vs <= 18 else { throw HTTPParseError(reason: "bad Content-Length") }
                    for k in vs..<ve {
                        guard (48...57).contains(p[k]) else { throw HTTPParseError(reason: "bad Content-Length") }
                        value = value * 10 + Int64(p[k] - 48)
                    }
                    if contentLength != nil { throw HTTPParseError(reason: "more than one Content-Length") }
                    contentLength = value
                case 17 where ResponseParser.equals(p, s, ResponseParser.transferEncoding):
                    transferEncoding = true
                    var t = ve
                    while t > vs && p[t - 1] != 44 { t -= 1 }
                    while t < ve && (p[t] == 32 || p[t] == 9) { t += 1 }
                    chunked = ve - t == 7 && ResponseParser.equals(p, t, ResponseParser.chunkedToken)
                case 10 where ResponseParser.equals(p, s, ResponseParser.connection):
                    ResponseParser.tokens(p, vs, ve) { a, b in
                        if b - a == 5 && ResponseParser.equals(p, a, ResponseParser.closeToken) {
                            close = true
                        } else if b - a == 10 && ResponseParser.equals(p, a, ResponseParser.keepAliveName) {
                            keepAliveToken = true
                        } else if b > a {
                            listsOthers = true
                        }
                    }
                case 6 where ResponseParser.equals(p, s, Self.expect):
                    if ve - vs == 12 && ResponseParser.equals(p, vs, Self.continueToken) { expectContinue = true }
                case 15 where ResponseParser.equals(p, s, Self.xff):
                    xffCount += 1
                default:
                    break
                }
                pos = e + 1
            }
            // A request body is framed by chunked (last) or Content-Length, never both (RFC 9112
            // 6.1: a request smuggling risk otherwise), and never by the close.
            if transferEncoding && (!chunked || contentLength != nil) {
                throw HTTPParseError(reason: "bad Transfer-Encoding")
            }

            // The upstream head.
            var out = ByteBufferAllocator().buffer(capacity: length + 64 + tail.count)
            // Kept lines are copied in runs (consecutive lines, one copy); an HTTP/1.1 request
            // line starts the first run.
            var run = 0..<(targetEnd + 11)
            if version != .http1_1 {
                out.writeBytes(UnsafeRawBufferPointer(rebasing: p[0..<(targetEnd + 1)]))
                out.writeStaticString("HTTP/1.1\r\n")
                run = (targetEnd + 11)..<(targetEnd + 11)
            }
            for line in lines {
                let s = line.start
                switch line.colon - s {
                case 2 where ResponseParser.equals(p, s, ResponseParser.te): continue
                case 6 where ResponseParser.equals(p, s, Self.expect): continue
                case 7 where ResponseParser.equals(p, s, ResponseParser.trailer) || ResponseParser.equals(p, s, ResponseParser.upgrade): continue
                case 10 where ResponseParser.equals(p, s, ResponseParser.connection) || ResponseParser.equals(p, s, ResponseParser.keepAliveName): continue
                case 15 where ResponseParser.equals(p, s, Self.xff): continue
                case 16 where ResponseParser.equals(p, s, ResponseParser.proxyConnection): continue
                default: break
                }
                if listsOthers && ResponseParser.listedByConnection(p, lines, line) { continue }
                if s == run.upperBound {
                    run = run.lowerBound..<(line.end + 2)
                } else {
                    out.writeBytes(UnsafeRawBufferPointer(rebasing: p[run]))
                    run = s..<(line.end + 2)
                }
            }
            out.writeBytes(UnsafeRawBufferPointer(rebasing: p[run]))
            out.writeStaticString("X-Forwarded-For: ")
            if xffCount > 0 {
                for line in lines where line.colon - line.start == 15 && ResponseParser.equals(p, line.start, Self.xff) {
                    var vs = line.colon + 1
                    var ve = line.end
                    while vs < ve && (p[vs] == 32 || p[vs] == 9) { vs += 1 }
                    while ve > vs && (p[ve - 1] == 32 || p[ve - 1] == 9) { ve -= 1 }
                    out.writeBytes(UnsafeRawBufferPointer(rebasing: p[vs..<ve]))
                    out.writeStaticString(", ")
                }
            }
            out.writeBytes(tail)
            if let (hs, he) = host {
                out.writeStaticString(";host=\"")
                out.writeBytes(UnsafeRawBufferPointer(rebasing: p[hs..<he]))
                out.writeStaticString("\"\r\n\r\n")
            } else {
                out.writeStaticString("\r\n\r\n")
            }

            return RequestHead(
                method: Self.method(p, methodEnd), version: version,
                target: String(decoding: UnsafeRawBufferPointer(rebasing: p[targetStart..<targetEnd]), as: UTF8.self),
                keepAlive: version.minor >= 1 ? !close : keepAliveToken,
                hosts: hosts, contentLength: contentLength ?? 0, chunked: chunked, expectContinue: expectContinue,
                raw: buffer.getSlice(at: buffer.readerIndex, length: length)!, upstream: out)
        }
    }
}
