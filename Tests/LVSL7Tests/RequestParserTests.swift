import NIOCore
import NIOHTTP1
import Testing

@testable import LVSL7

/// The proxy's byte-level request parser: the facts the switch acts on, the upstream head it
/// writes, bodies passed through, reads split anywhere, and what it refuses.
@Suite struct RequestParserTests {
    struct Output {
        var heads: [RequestHead] = []
        var upstream: [String] = []
        var body: [UInt8] = []
        var ends = 0
        var bodyText: String { String(decoding: body, as: UTF8.self) }
    }

    /// Feeds `pieces` as separate reads the way `ClientHandler` does (what is not parsed stays
    /// and the next read is appended).
    static func run(_ pieces: [[UInt8]], maxHead: Int = 8192) throws -> Output {
        var p = RequestParser(maxHeadBytes: maxHead)
        p.clientText = Array("10.0.0.9".utf8)
        p.forwardedFor = Array("for=10.0.0.9;proto=http".utf8)
        var out = Output()
        var inbound = ByteBuffer()
        for piece in pieces {
            inbound.writeBytes(piece)
            while let e = try p.next(&inbound) {
                switch e {
                case .head(let h):
                    out.heads.append(h)
                    out.upstream.append(String(buffer: h.upstream))
                case .body(let b): out.body += Array(b.readableBytesView)
                case .end: out.ends += 1
                }
            }
        }
        return out
    }

    static func run(_ text: String, maxHead: Int = 8192) throws -> Output { try run([Array(text.utf8)], maxHead: maxHead) }

    @Test func headFactsAndTheUpstreamHead() throws {
        let o = try Self.run(
            "GET /a/b.png?x=1 HTTP/1.1\r\nHost: Example.com:8080\r\nUser-Agent: t\r\nConnection: keep-alive, X-Hop\r\n"
                + "X-Hop: 1\r\nKeep-Alive: 5\r\nTE: trailers\r\nUpgrade: h2c\r\nProxy-Connection: x\r\nTrailer: y\r\n"
                + "Expect: 100-continue\r\nX-Forwarded-For: 1.2.3.4\r\nx-forwarded-for: 5.6.7.8 \r\nCookie: a=1\r\n\r\n")
        let h = try #require(o.heads.first)
        #expect(h.method == .GET && h.version == .http1_1 && h.target == "/a/b.png?x=1")
        #expect(h.keepAlive && h.hosts == 1 && !h.hasBody && h.expectContinue && o.ends == 1)
        #expect(h.header("host") == "Example.com:8080" && h.header("COOKIE") == "a=1" && h.header("x-none") == nil)
        #expect(o.upstream == [
            "GET /a/b.png?x=1 HTTP/1.1\r\nHost: Example.com:8080\r\nUser-Agent: t\r\nCookie: a=1\r\n"
                + "X-Forwarded-For: 1.2.3.4, 5.6.7.8, 10.0.0.9\r\nX-Forwarded-Proto: http\r\n"
                + "Forwarded: for=10.0.0.9;proto=http;host=\"Example.com:8080\"\r\n\r\n",
        ])
        // HTTP/1.0: keep-alive only when asked; the upstream request is HTTP/1.1; no Host.
        let ten = try Self.run("GET / HTTP/1.0\r\n\r\nHEAD /x HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n")
        #expect(ten.heads.map(\.keepAlive) == [false, true] && ten.heads[1].method == .HEAD && ten.ends == 2)
        #expect(ten.upstream[0] == "GET / HTTP/1.1\r\nX-Forwarded-For: 10.0.0.9\r\nX-Forwarded-Proto: http\r\nForwarded: for=10.0.0.9;proto=http\r\n\r\n")
        let close = try Self.run("DELETE /r HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
        #expect(!close.heads[0].keepAlive && close.heads[0].method == .DELETE)
        // Other versions are parsed (the switch answers 505).
        #expect(try Self.run("GET / HTTP/2.0\r\nHost: h\r\n\r\n").heads[0].version.major == 2)
    }

    @Test func bodiesPassThroughAsReceived() throws {
        let o = try Self.run("POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhelloGET /n HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(o.heads.map(\.target) == ["/p", "/n"] && o.heads[0].contentLength == 5 && o.bodyText == "hello" && o.ends == 2)
        let body = "4\r\nwiki\r\n5;e=1\r\npedia\r\n0\r\nX-T: 1\r\n\r\n"
        let c = try Self.run("POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n" + body)
        #expect(c.heads[0].chunked && c.heads[0].hasBody && c.bodyText == body && c.ends == 1)
        #expect(c.upstream[0].contains("Transfer-Encoding: chunked\r\n"))
    }

    @Test func splitReadsAtEveryByteBoundary() throws {
        let text = "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nwiki\r\n00005\r\npedia\r\n0\r\n\r\n"
            + "PUT /l HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabcGET / HTTP/1.1\r\nHost: h\r\n\r\n"
        let bytes = Array(text.utf8)
        let whole = try Self.run([bytes])
        #expect(whole.heads.count == 3 && whole.ends == 3)
        for cut in 1..<bytes.count {
            let o = try Self.run([Array(bytes[..<cut]), Array(bytes[cut...])])
            #expect(o.upstream == whole.upstream && o.body == whole.body && o.ends == 3, "cut at \(cut)")
        }
        let single = try Self.run(bytes.map { [$0] })
        #expect(single.upstream == whole.upstream && single.body == whole.body && single.ends == 3)
    }

    @Test func malformedRequestsAreRefused() throws {
        let bad = [
            "GARBAGE\r\n\r\n",
            "BAD\r\n\r\n",
            "GET\r\n\r\n",
            "GET  / HTTP/1.1\r\n\r\n",
            "GET / HTTP/1.1 \r\n\r\n",
            "GET / HTTX/1.1\r\n\r\n",
            "GET / HTTP/1.1\nHost: h\r\n\r\n",
            "G(T / HTTP/1.1\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: h\nX: y\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: h\r\n folded\r\n\r\n",
            "GET / HTTP/1.1\r\nHost : h\r\n\r\n",
            "GET / HTTP/1.1\r\n: h\r\n\r\n",
            "GET / HTTP/1.1\r\nNoColon\r\n\r\n",
            "GET / HTTP/1.1\r\nX: a\u{1}b\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
            "POST / HTTP/1.1\r\nContent-Length: +1\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
            "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
            "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
            "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n",
        ]
        for text in bad {
            #expect(throws: HTTPParseError.self, "\(text.debugDescription)") { try Self.run(text) }
        }
    }

    @Test func hugeHeadsAreRefusedAs431AndPartialOnesWait() throws {
        let big = "GET / HTTP/1.1\r\nHost: x\r\nX-Big: \(String(repeating: "y", count: 20000))\r\n\r\n"
        for pieces in [[Array(big.utf8)], Array(big.utf8).chunked(1000)] {
            do {
                _ = try Self.run(pieces, maxHead: 8192)
                Issue.record("a 20 KB head passed a limit of 8 KB")
            } catch let e as HTTPParseError {
                #expect(e.headTooLarge)
            }
        }
        // Unfinished and under the limit: nothing yet.
        let partial = try Self.run("GET / HTTP/1.1\r\nHost: x\r\n")
        #expect(partial.heads.isEmpty)
        // A bad request is not "too large".
        do {
            _ = try Self.run("BAD\r\n\r\n")
        } catch let e as HTTPParseError {
            #expect(!e.headTooLarge)
        }
    }
}

extension Array {
    func chunked(_ n: Int) -> [[Element]] {
        stride(from: 0, to: count, by: n).map { Array(self[$0..<Swift.min($0 + n, count)]) }
    }
}

/// Mutated and truncated messages through both parsers (debug builds check every buffer index,
/// so a read past a head traps here): each either parses or throws `HTTPParseError`.
@Suite struct ParserRobustnessTests {
    static let seeds = [
        "POST /c?q=1 HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive, X-A\r\nX-A: 1\r\n\r\n4;e\r\nwiki\r\n0\r\nT: 1\r\n\r\n",
        "GET / HTTP/1.0\r\nContent-Length: 3\r\nX-Forwarded-For: 1.2.3.4\r\n\r\nabc",
    ]
    static let responses = [
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close, X-A\r\n\r\n4;e\r\nwiki\r\n0\r\nT: 1\r\n\r\n",
        "HTTP/1.0 204 No Content\r\nContent-Length: 3\r\n\r\n",
    ]

    @Test func mutatedMessagesParseOrThrow() {
        var state: UInt64 = 0x2545_f491_4f6c_dd1d
        func random(_ n: Int) -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int((state >> 33) % UInt64(n))
        }
        let alphabet = Array(" \r\n:;,0aZ\t\u{7f}Hh".utf8)
        for round in 0..<3000 {
            let isRequest = round % 2 == 0
            var bytes = Array((isRequest ? Self.seeds : Self.responses)[random(2)].utf8)
            for _ in 0..<(1 + random(4)) {
                switch random(3) {
                case 0: bytes[random(bytes.count)] = alphabet[random(alphabet.count)]
                case 1: bytes.remove(at: random(bytes.count))
                default: bytes.insert(alphabet[random(alphabet.count)], at: random(bytes.count))
                }
            }
            let cut = random(bytes.count)
            let pieces = [Array(bytes[..<cut]), Array(bytes[cut...])]
            do {
                if isRequest {
                    _ = try RequestParserTests.run(pieces)
                } else {
                    _ = try ResponseParserTests.run(pieces, close: true)
                }
            } catch is HTTPParseError {
            } catch {
                Issue.record("unexpected error \(error)")
            }
        }
    }
}
