import NIOCore
import Testing

@testable import LVSL7

/// The proxy's byte-level response parser: forwarded heads, framing, pass-through of chunked
/// bodies, reads split anywhere, and what it refuses.
@Suite struct ResponseParserTests {
    struct Output {
        var heads: [ResponseHead] = []
        var headText: [String] = []
        var body: [UInt8] = []
        var ends = 0
        var bodyText: String { String(decoding: body, as: UTF8.self) }
    }

    /// Feeds `pieces` as separate reads the way `UpstreamHandler` does (an unfinished part is
    /// kept and the next read appended), then the close when `close`.
    static func run(_ pieces: [[UInt8]], noBody: Bool = false, clientMinor: Int = 1, close: Bool = false,
                    maxHead: Int = 65536, clientKeepAlive: Bool = true, setCookie: String = "") throws -> Output {
        var p = ResponseParser(maxHeadBytes: maxHead)
        p.noBody = noBody
        p.clientMinor = clientMinor
        p.clientKeepAlive = clientKeepAlive
        p.setCookie = Array(setCookie.utf8)
        var out = Output()
        var pending: ByteBuffer?
        for piece in pieces {
            var buffer = ByteBuffer(bytes: piece)
            if var old = pending {
                pending = nil
                old.writeImmutableBuffer(buffer)
                buffer = old
            }
            while let e = try p.next(&buffer) {
                switch e {
                case .head(let h):
                    // A small body that came with the head is in the head's buffer.
                    out.heads.append(h)
                    let all = Array(h.bytes.readableBytesView)
                    out.headText.append(String(decoding: all.dropLast(h.bodyInHead), as: UTF8.self))
                    out.body += all.suffix(h.bodyInHead)
                case .body(let b): out.body += Array(b.readableBytesView)
                case .end: out.ends += 1
                }
            }
            if buffer.readableBytes > 0 { pending = buffer }
        }
        if close, case .end = p.closed() { out.ends += 1 }
        return out
    }

    static func run(_ text: String, noBody: Bool = false, clientMinor: Int = 1, close: Bool = false,
                    clientKeepAlive: Bool = true, setCookie: String = "") throws -> Output {
        try run([Array(text.utf8)], noBody: noBody, clientMinor: clientMinor, close: close,
                clientKeepAlive: clientKeepAlive, setCookie: setCookie)
    }

    @Test func contentLengthHeadIsForwardedWithoutHopByHopLines() throws {
        let o = try Self.run("HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Length: 3\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nX-A: b\r\n\r\nrs1")
        #expect(o.headText == ["HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Length: 3\r\nX-A: b\r\n\r\n"])
        #expect(o.heads[0].status == 200 && o.heads[0].keepAlive && o.heads[0].framing == .length(3))
        #expect(o.bodyText == "rs1" && o.ends == 1)
        // The small body arrived with the head: it is in the head's buffer (one write).
        #expect(o.heads[0].bodyInHead == 3 && !o.heads[0].closesClient)
        // Split from its head, or too large, it comes as body parts.
        let split = try Self.run([Array("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nr".utf8), Array("s1".utf8)])
        #expect(split.heads[0].bodyInHead == 0 && split.bodyText == "rs1" && split.ends == 1)
        let large = String(repeating: "z", count: ResponseParser.inlineBodyLimit + 1)
        let l = try Self.run("HTTP/1.1 200 OK\r\nContent-Length: \(large.utf8.count)\r\n\r\n" + large)
        #expect(l.heads[0].bodyInHead == 0 && l.bodyText == large && l.ends == 1)
    }

    @Test func theSwitchsOwnLines() throws {
        let text = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
        #expect(try Self.run(text, clientKeepAlive: false).headText == ["HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"])
        #expect(try Self.run(text, clientKeepAlive: false).heads[0].closesClient)
        #expect(try Self.run(text, clientMinor: 0).headText == ["HTTP/1.0 200 OK\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n"])
        #expect(try Self.run(text, setCookie: "Set-Cookie: SRV=a; Path=/; HttpOnly\r\n").headText
            == ["HTTP/1.1 200 OK\r\nContent-Length: 0\r\nSet-Cookie: SRV=a; Path=/; HttpOnly\r\n\r\n"])
        // A body until the close: the client connection closes after it too.
        let u = try Self.run("HTTP/1.1 200 OK\r\n\r\nabc", close: true)
        #expect(u.heads[0].closesClient && u.headText == ["HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"])
    }

    @Test func connectionSemanticsAndListedHeaders() throws {
        let c = try Self.run("HTTP/1.1 200 OK\r\nConnection: close, X-Private\r\nx-private: 1\r\nX-Kept: 2\r\nContent-Length: 0\r\n\r\n")
        #expect(c.headText == ["HTTP/1.1 200 OK\r\nX-Kept: 2\r\nContent-Length: 0\r\n\r\n"])
        #expect(!c.heads[0].keepAlive && c.heads[0].framing == .none && c.ends == 1)
        // HTTP/1.0 server: keep-alive only when it says so; the client's version is forwarded.
        let ten = try Self.run("HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n", clientMinor: 0)
        #expect(!ten.heads[0].keepAlive && ten.headText[0].hasPrefix("HTTP/1.0 404 Not Found\r\n"))
        let tenKA = try Self.run("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n")
        #expect(tenKA.heads[0].keepAlive && tenKA.headText[0].hasPrefix("HTTP/1.1 200 OK\r\n"))
        // A status line without a reason phrase.
        #expect(try Self.run("HTTP/1.1 204\r\n\r\n").headText == ["HTTP/1.1 204\r\n\r\n"])
    }

    @Test func responsesWithoutBodies() throws {
        // HEAD: the Content-Length describes the GET's body; nothing follows.
        let h = try Self.run("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", noBody: true)
        #expect(h.heads[0].framing == .none && h.body.isEmpty && h.ends == 1)
        for status in ["204 No Content", "304 Not Modified"] {
            let o = try Self.run("HTTP/1.1 \(status)\r\nTransfer-Encoding: chunked\r\n\r\n")
            #expect(o.heads[0].framing == .none && o.ends == 1, "\(status)")
        }
        // Informational responses are skipped; the final one follows.
        let i = try Self.run("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok")
        #expect(i.heads.map(\.status) == [201] && i.bodyText == "ok" && i.ends == 1)
    }

    @Test func bodyUntilCloseEndsAtTheClose() throws {
        let o = try Self.run("HTTP/1.1 200 OK\r\nX: y\r\n\r\nsome body", close: true)
        #expect(o.heads[0].framing == .untilClose && !o.heads[0].keepAlive)
        #expect(o.bodyText == "some body" && o.ends == 1)
        // A transfer coding other than chunked (last) is delimited by the close too.
        let g = try Self.run("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\nzz", close: true)
        #expect(g.heads[0].framing == .untilClose && g.bodyText == "zz" && g.ends == 1)
        // A Content-Length body cut by the close does not end: the client sees it cut.
        let cut = try Self.run("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", close: true)
        #expect(cut.ends == 0 && cut.bodyText == "abc")
    }

    static let chunkedResponse =
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 99\r\n\r\n"
        + "5\r\nhello\r\n000A;ext=\"v\"\r\n0123456789\r\nb \r\n, world!!!!\r\n0\r\nX-Trailer: t\r\n\r\n"

    @Test func chunkedBodiesPassThroughAsReceived() throws {
        let o = try Self.run(Self.chunkedResponse)
        // Transfer-Encoding wins over Content-Length, which is not forwarded.
        #expect(o.headText == ["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"])
        let body = String(Self.chunkedResponse.split(separator: "\r\n\r\n", maxSplits: 1)[1])
        #expect(o.bodyText == body && o.ends == 1)
    }

    @Test func chunkedBodiesLoseTheirFramingForHTTP10Clients() throws {
        let o = try Self.run(Self.chunkedResponse, clientMinor: 0)
        #expect(o.headText == ["HTTP/1.0 200 OK\r\nConnection: close\r\n\r\n"] && o.heads[0].dechunked && o.heads[0].closesClient)
        #expect(o.bodyText == "hello0123456789, world!!!!" && o.ends == 1)
    }

    /// Every split of the input into two reads, and one byte per read, give the same result as
    /// one read; two responses back to back on one connection (the parser is reused).
    @Test func splitReadsAtEveryByteBoundary() throws {
        let second = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nabcd"
        for (text, minor) in [(Self.chunkedResponse, 1), (Self.chunkedResponse, 0), (second, 1)] {
            let bytes = Array(text.utf8)
            let whole = try Self.run([bytes], clientMinor: minor)
            for cut in 1..<bytes.count {
                let o = try Self.run([Array(bytes[..<cut]), Array(bytes[cut...])], clientMinor: minor)
                #expect(o.headText == whole.headText && o.body == whole.body && o.ends == 1, "cut at \(cut)")
            }
            let single = try Self.run(bytes.map { [$0] }, clientMinor: minor)
            #expect(single.headText == whole.headText && single.body == whole.body && single.ends == 1)
        }
        var p = ResponseParser()
        var b = ByteBuffer(string: Self.chunkedResponse)
        var ends = 0
        for _ in 0..<2 {
            while let e = try p.next(&b) { if case .end = e { ends += 1; break } }
            b = ByteBuffer(string: second)
        }
        #expect(ends == 2 && p.isIdle)
    }

    @Test func chunkSizeEdgeCases() throws {
        let head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        // Upper and lower case hex, leading zeros, extensions, whitespace before them.
        let ok = try Self.run(head + "00aB\r\n" + String(repeating: "x", count: 0xab) + "\r\n1 ;a=b\r\ny\r\n00\r\n\r\n")
        #expect(ok.body.filter { $0 == UInt8(ascii: "x") }.count == 0xab && ok.ends == 1)
        // 15 hex digits are accepted (and wait for data); 16 are refused.
        let big = try Self.run(head + "7fffffffffffff0\r\nabc")
        #expect(big.ends == 0 && big.bodyText.hasSuffix("abc"))
        let bad = [
            "ffffffffffffffff\r\n",  // too large
            "zz\r\nabc\r\n0\r\n\r\n",  // not hex
            "\r\n",  // empty size
            "5\r\nhelloXX0\r\n\r\n",  // no CRLF after the data
            "5\nhello\r\n",  // bare LF
            "5 x\r\nhello\r\n",  // junk after the size
            "0\r\nTrailer\n\r\n",  // bare LF in a trailer
        ]
        for b in bad {
            #expect(throws: ResponseParseError.self, "\(b.debugDescription)") { try Self.run(head + b) }
        }
        #expect(throws: ResponseParseError.self) { try Self.run(head + String(repeating: "0", count: 5000)) }
    }

    @Test func malformedHeadsAreRefused() throws {
        let bad = [
            "HTTP/2.0 200 OK\r\n\r\n",
            "HTTP/1.1 2000 OK\r\n\r\n",
            "HTTP/1.1 20 OK\r\n\r\n",
            "HTTP/1.1 200OK\r\n\r\n",
            "ICY 200 OK\r\n\r\n",
            "HTTP/1.1 200 OK\nX: y\r\n\r\n",
            "HTTP/1.1 200 OK\r\nX: y\nZ: w\r\n\r\n",
            "HTTP/1.1 200 OK\r\nX: y\r\n folded\r\n\r\n",
            "HTTP/1.1 200 OK\r\nNo colon\r\n\r\n",
            "HTTP/1.1 200 OK\r\n: empty name\r\n\r\n",
            "HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 9999999999999999999\r\n\r\n",
        ]
        for text in bad {
            #expect(throws: ResponseParseError.self, "\(text.debugDescription)") { try Self.run(text) }
        }
        // Equal repeated lengths are one length.
        let same = try Self.run("HTTP/1.1 200 OK\r\nContent-Length: 2\r\ncontent-length: 2\r\n\r\nab")
        #expect(same.heads[0].framing == .length(2) && same.ends == 1)
    }

    @Test func hugeHeadsAreRefusedAndPartialOnesWait() throws {
        let line = "X-Big: " + String(repeating: "y", count: 1000) + "\r\n"
        let huge = "HTTP/1.1 200 OK\r\n" + String(repeating: line, count: 80)
        // Under the limit and unfinished: waits for more.
        let partial = try Self.run([Array(("HTTP/1.1 200 OK\r\n" + line).utf8)], maxHead: 4096)
        #expect(partial.heads.isEmpty)
        #expect(throws: ResponseParseError.self) { try Self.run([Array(huge.utf8)], maxHead: 65536) }
        #expect(throws: ResponseParseError.self) { try Self.run([Array((huge + "\r\n").utf8)], maxHead: 65536) }
        // Over the limit across many reads.
        #expect(throws: ResponseParseError.self) {
            try Self.run(Array(repeating: Array(line.utf8), count: 80), maxHead: 65536)
        }
        // Many headers under the limit are all forwarded.
        let many = "HTTP/1.1 200 OK\r\n" + (0..<200).map { "H\($0): v\r\n" }.joined() + "Content-Length: 0\r\n\r\n"
        let o = try Self.run(many)
        #expect(o.headText[0].split(separator: "\r\n").count == 202)
    }
}
