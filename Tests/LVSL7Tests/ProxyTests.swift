#if canImport(Glibc)
import Glibc
#endif
import LVSPacket
import NIOCore
import NIOPosix
import Testing

@testable import LVSL7

/// The switch in front of real NIO servers on loopback: routing per request on one connection,
/// pipelining, streaming, errors and retries. (Serialized: each test owns its ports and servers.)
@Suite(.serialized) struct ProxyTests {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)

    func threePools(_ a: TestUpstream, _ b: TestUpstream, _ c: TestUpstream) throws -> L7Configuration {
        L7Configuration(
            listeners: [], pools: [
                L7PoolConfiguration(name: "static", scheduler: "rr", servers: [server(a)]),
                L7PoolConfiguration(name: "images", scheduler: "rr", servers: [server(b)]),
                L7PoolConfiguration(name: "cgi", scheduler: "wlc", servers: [server(c)]),
            ],
            rules: [
                L7Rule([.pathRegex(try L7Regex(#"\.(png|gif)$"#))], pool: 1),
                L7Rule([.pathPrefix("/cgi-bin/")], pool: 2),
            ], defaultPool: 0, threads: 2)
    }

    @Test func pipelinedKeepAliveAcrossPools() throws {
        let (a, b, c) = (try TestUpstream("a", group: group), try TestUpstream("b", group: group), try TestUpstream("c", group: group))
        defer { a.stop(); b.stop(); c.stop() }
        let (sw, port) = try startSwitch(try threePools(a, b, c))
        defer { sw.stop() }
        let client = RawClient(port: port)
        let paths = ["/a.html", "/x.png", "/cgi-bin/q", "/b.html", "/y.gif", "/cgi-bin/r", "/c.html", "/z.png"]
        let want = ["a", "b", "c", "a", "b", "c", "a", "b"]
        // All requests in one write: pipelined on one keep-alive connection.
        client.send(paths.map { "GET \($0) HTTP/1.1\r\nHost: example.com\r\n\r\n" }.joined())
        for (i, p) in paths.enumerated() {
            let r = try #require(client.response(), "response \(i) for \(p)")
            #expect(r.status == 200)
            #expect(r.header("x-server") == want[i], "\(p)")
            #expect(r.text.contains("path=\(p) "), "in order: \(r.text)")
            #expect(r.text.contains("xff=127.0.0.1 "))
            #expect(r.text.contains("fwd=for=127.0.0.1;proto=http;host=\"example.com\""))
        }
        // A second round on the same connection, with a body, keeps working and keeps order.
        client.send("POST /cgi-bin/p HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET /d.png HTTP/1.1\r\nHost: x\r\n\r\n")
        let r1 = try #require(client.response())
        #expect(r1.text.hasPrefix("server=c method=POST path=/cgi-bin/p len=5 "))
        let r2 = try #require(client.response())
        #expect(r2.text.hasPrefix("server=b method=GET path=/d.png len=0 "))
        // A bad request pipelined behind good ones: the good ones are answered in order, then 400
        // and the connection closes.
        client.send("GET /e.png HTTP/1.1\r\nHost: x\r\n\r\nGET /f.html HTTP/1.1\r\nHost: x\r\n\r\nBAD\r\n\r\n")
        #expect(try #require(client.response()).header("x-server") == "b")
        #expect(try #require(client.response()).header("x-server") == "a")
        #expect(try #require(client.response()).status == 400)
        #expect(client.isClosed())
        // Upstream connections were reused (keep-alive pools), not one per request.
        #expect(a.connections == 1 && b.connections == 1 && c.connections == 1)
        let stats = sw.stats()
        #expect(stats.map { $0.servers[0].requests } == [4, 5, 3])
    }

    @Test func headAndContinueAndClose() throws {
        let a = try TestUpstream("a", group: group)
        defer { a.stop() }
        let (sw, port) = try startSwitch(L7Configuration(listeners: [], pools: [
            L7PoolConfiguration(name: "p", servers: [server(a)])]))
        defer { sw.stop() }
        let client = RawClient(port: port)
        client.send("HEAD /x HTTP/1.1\r\nHost: x\r\n\r\n")
        let h = try #require(client.response(head: true))
        #expect(h.status == 200 && h.header("content-length") != nil)
        client.send("POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n")
        let cont = try #require(client.response())
        #expect(cont.status == 100)
        client.send("abc")
        let r = try #require(client.response())
        #expect(r.text.hasPrefix("server=a method=POST path=/up len=3 "))
        client.send("GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        let last = try #require(client.response())
        #expect(last.status == 200 && last.header("connection") == "close")
        #expect(client.isClosed())
        // HTTP/1.0 without keep-alive: answered, then closed.
        let c10 = RawClient(port: port)
        c10.send("GET /ten HTTP/1.0\r\n\r\n")
        #expect(try #require(c10.response()).status == 200)
        #expect(c10.isClosed())
    }

    /// The byte-level path's framing cases end to end: a chunked response passes through with
    /// its framing to an HTTP/1.1 client and loses it for an HTTP/1.0 client (then the
    /// connection closes); heads are forwarded with the switch's edits only.
    @Test func responseFramingPerClientVersion() throws {
        let a = try TestUpstream("a", group: group)
        defer { a.stop() }
        let (sw, port) = try startSwitch(L7Configuration(listeners: [], pools: [
            L7PoolConfiguration(name: "p", servers: [server(a)])]))
        defer { sw.stop() }
        let n = 200_000
        let c11 = RawClient(port: port)
        c11.send("GET /big?n=\(n) HTTP/1.1\r\nHost: x\r\n\r\n")
        let r11 = try #require(c11.response())
        #expect(r11.header("transfer-encoding") == "chunked" && r11.body.count == n)
        #expect(r11.header("connection") == nil)
        // The same connection still works (keep-alive after a chunked response).
        c11.send("GET /after HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 10.1.1.1\r\nConnection: keep-alive, X-Drop\r\nX-Drop: 1\r\n\r\n")
        let after = try #require(c11.response())
        #expect(after.text.contains("path=/after ") && after.text.contains("xff=10.1.1.1, 127.0.0.1 "))
        let c10 = RawClient(port: port)
        c10.send("GET /big?n=\(n) HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        let r10 = try #require(c10.response())
        #expect(r10.header("transfer-encoding") == nil && r10.header("connection") == "close")
        #expect(r10.body.count == n && r10.body.allSatisfy { $0 == UInt8(ascii: "x") })
        #expect(c10.isClosed())
    }

    @Test func malformedRequestsGet4xxAndClose() throws {
        let a = try TestUpstream("a", group: group)
        defer { a.stop() }
        var c = L7Configuration(listeners: [], pools: [L7PoolConfiguration(name: "p", servers: [server(a)])])
        c.limits.maxHeaderBytes = 8192
        c.limits.maxBodyBytes = 1000
        let (sw, port) = try startSwitch(c)
        defer { sw.stop() }
        let cases: [(String, Int)] = [
            ("GARBAGE\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nHost: x\r\nX-Big: \(String(repeating: "y", count: 20000))\r\n\r\n", 431),
            ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\n\r\n", 400),  // HTTP/1.1 without Host
            ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n", 413),
            ("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400),
        ]
        for (request, status) in cases {
            let client = RawClient(port: port)
            client.send(request)
            let r = try #require(client.response(), "\(request.prefix(40))")
            #expect(r.status == status, "\(request.prefix(40))")
            #expect(r.header("connection") == "close")
            #expect(client.isClosed(), "closed after \(status)")
        }
        // Still serving.
        let ok = RawClient(port: port)
        ok.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try #require(ok.response()).status == 200)
    }

    @Test func upstreamDyingMidResponseClosesClient() throws {
        let a = try TestUpstream("a", group: group)
        defer { a.stop() }
        let (sw, port) = try startSwitch(L7Configuration(listeners: [], pools: [
            L7PoolConfiguration(name: "p", servers: [server(a)])]))
        defer { sw.stop() }
        let client = RawClient(port: port)
        client.send("GET /die HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(client.line() == "HTTP/1.1 200 OK")
        // The head was relayed, the body is cut: the client sees EOF well before 100000 bytes.
        let start = NIODeadline.now()
        while client.fill() {}  // until EOF (the socket's 10 s receive timeout would also end it)
        #expect(client.buffer.count < 100000)
        #expect(NIODeadline.now() - start < .seconds(5), "closed promptly, not hung")
    }

    @Test func retryOnlyWhenSafe() throws {
        let good = try TestUpstream("good", group: group)
        let bad = try TestUpstream("bad", dropper: true, group: group)
        defer { good.stop(); bad.stop() }
        var pool = L7PoolConfiguration(name: "p", scheduler: "rr", servers: [server(bad), server(good)])
        pool.failThreshold = 1000
        let (sw, port) = try startSwitch(L7Configuration(listeners: [], pools: [pool], threads: 1))
        defer { sw.stop() }
        // GET (idempotent, no body): a server that drops it is retried on the other one.
        for i in 0..<4 {
            let client = RawClient(port: port)
            client.send("GET /g\(i) HTTP/1.1\r\nHost: x\r\n\r\n")
            let r = try #require(client.response())
            #expect(r.status == 200 && r.header("x-server") == "good")
        }
        #expect(bad.requests >= 2)
        // POST with a body: not retried after it was sent; 502.
        var statuses: [Int] = []
        for i in 0..<4 {
            let client = RawClient(port: port)
            client.send("POST /p\(i) HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi")
            statuses.append(try #require(client.response()).status)
        }
        #expect(statuses.filter { $0 == 502 }.count == 2, "\(statuses)")
        #expect(statuses.filter { $0 == 200 }.count == 2, "\(statuses)")
        // A refused connection (nothing sent) is retried even for POST.
        let refused = L7Server(address: IPAddress(127, 0, 0, 1), port: closedPort())
        let (sw2, port2) = try startSwitch(L7Configuration(listeners: [], pools: [
            L7PoolConfiguration(name: "q", scheduler: "rr", servers: [refused, server(good)])]))
        defer { sw2.stop() }
        for i in 0..<4 {
            let client = RawClient(port: port2)
            client.send("POST /r\(i) HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi")
            #expect(try #require(client.response()).status == 200)
        }
        // Passive health took the refusing server out after 3 consecutive failures.
        let s = sw2.stats()[0].servers
        #expect(s[0].up == false && s[0].failures == 3)
        #expect(s[1].up)
    }

    @Test func noServerAnswers503And502() throws {
        let refused = L7Server(address: IPAddress(127, 0, 0, 1), port: closedPort())
        var pool = L7PoolConfiguration(name: "q", servers: [refused])
        pool.failThreshold = 1
        let (sw, port) = try startSwitch(L7Configuration(listeners: [], pools: [pool]))
        defer { sw.stop() }
        let c1 = RawClient(port: port)
        c1.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try #require(c1.response()).status == 502)
        // The only server is now out: 503 without trying.
        c1.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try #require(c1.response()).status == 503)
    }

    @Test func timeoutsAnswer408And504() throws {
        let a = try TestUpstream("a", group: group)
        defer { a.stop() }
        var c = L7Configuration(listeners: [], pools: [L7PoolConfiguration(name: "p", servers: [server(a)])])
        c.limits.clientIdleTimeoutMilliseconds = 300
        c.limits.responseTimeoutMilliseconds = 300
        let (sw, port) = try startSwitch(c)
        defer { sw.stop() }
        // No response head in time: 504, and the connection closes.
        let c1 = RawClient(port: port)
        c1.send("GET /hang HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try #require(c1.response()).status == 504)
        #expect(c1.isClosed())
        // A request head begun and left unfinished: 408 at the idle timeout.
        let c2 = RawClient(port: port)
        c2.send("GET / HTTP/1.1\r\nHost: x\r\n")
        #expect(try #require(c2.response()).status == 408)
        #expect(c2.isClosed())
        // An idle keep-alive connection is just closed.
        let c3 = RawClient(port: port)
        c3.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try #require(c3.response()).status == 200)
        #expect(c3.isClosed())
    }

    @Test func cookieInsertPersistence() throws {
        let a = try TestUpstream("a", group: group)
        let b = try TestUpstream("b", group: group)
        defer { a.stop(); b.stop() }
        let (sw, port) = try startSwitch(L7Configuration(listeners: [], pools: [
            L7PoolConfiguration(name: "p", scheduler: "rr", cookie: "SRV", servers: [server(a), server(b)])]))
        defer { sw.stop() }
        let client = RawClient(port: port)
        client.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        let first = try #require(client.response())
        let setCookie = try #require(first.header("set-cookie"))
        let who = try #require(first.header("x-server"))
        #expect(setCookie == "SRV=\(who); Path=/; HttpOnly")
        for _ in 0..<4 {
            client.send("GET / HTTP/1.1\r\nHost: x\r\nCookie: other=1; SRV=\(who)\r\n\r\n")
            let r = try #require(client.response())
            #expect(r.header("x-server") == who)
            #expect(r.header("set-cookie") == nil)
        }
    }

    @Test func largeBodiesStreamBothWaysWithBoundedMemory() throws {
        let a = try TestUpstream("a", group: group)
        defer { a.stop() }
        let (sw, port) = try startSwitch(L7Configuration(listeners: [], pools: [
            L7PoolConfiguration(name: "p", servers: [server(a)])]))
        defer { sw.stop() }
        // Warm up, then measure the resident size across a 256 MiB chunked upload.
        let client = RawClient(port: port)
        client.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        _ = client.response()
        let before = residentBytes()
        let total = 256 << 20
        client.send("POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        let chunk = Array("10000\r\n".utf8) + [UInt8](repeating: 0x61, count: 0x10000) + Array("\r\n".utf8)
        for _ in 0..<(total / 0x10000) { client.send(chunk) }
        client.send("0\r\n\r\n")
        let r = try #require(client.response())
        #expect(r.text.contains("len=\(total) "))
        let growth = residentBytes() - before
        #expect(growth < 64 << 20, "RSS grew by \(growth >> 20) MiB for a \(total >> 20) MiB upload")
        // And a 64 MiB download on the same connection.
        client.send("GET /big?n=\(64 << 20) HTTP/1.1\r\nHost: x\r\n\r\n")
        let d = try #require(client.response())
        #expect(d.body.count == 64 << 20)
    }
}
