#if canImport(Glibc)
import Glibc
#endif
import LVSEngine
import LVSPacket
import Synchronization
import Testing

@testable import LVSControl

/// The metrics endpoint on a loopback port, exercised with a raw socket client.
@Suite struct MetricsHTTPServerTests {
    final class Calls: Sendable {
        let count = Mutex(0)
        func next() -> Int { count.withLock { $0 += 1; return $0 } }
    }

    func server(readTimeoutMilliseconds: Int = 2000, _ body: @escaping @Sendable () -> String = { "lvs_up 1\n" })
        throws -> MetricsHTTPServer
    {
        let s = MetricsHTTPServer(address: IPAddress("127.0.0.1")!, port: 0,
                                  readTimeoutMilliseconds: readTimeoutMilliseconds, body: body)
        try s.start()
        return s
    }

    /// Connects to 127.0.0.1:`port`, or returns -1.
    func connectTo(_ port: UInt16, address: IPAddress = IPAddress("127.0.0.1")!) -> Int32 {
        let fd = socket(address.isIPv4 ? AF_INET : AF_INET6, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return -1 }
        var tv = timeval(tv_sec: 5, tv_usec: 0)
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        let rc: Int32
        if address.isIPv4 {
            var sa = sockaddr_in()
            sa.sin_family = sa_family_t(AF_INET)
            sa.sin_port = port.bigEndian
            sa.sin_addr = in_addr(s_addr: address.v4Raw)
            rc = withUnsafePointer(to: &sa) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        } else {
            var sa = sockaddr_in6()
            sa.sin6_family = sa_family_t(AF_INET6)
            sa.sin6_port = port.bigEndian
            let bytes = address.bytes
            withUnsafeMutableBytes(of: &sa.sin6_addr) { for i in 0..<16 { $0[i] = bytes[i] } }
            rc = withUnsafePointer(to: &sa) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size))
                }
            }
        }
        guard rc == 0 else {
            close(fd)
            return -1
        }
        return fd
    }

    func sendAll(_ fd: Int32, _ text: String) {
        let bytes = Array(text.utf8)
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            sent += n
        }
    }

    func readAll(_ fd: Int32) -> String {
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            out += buf[0..<n]
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// One request, the whole response (the server closes after answering).
    func exchange(_ port: UInt16, _ request: String, address: IPAddress = IPAddress("127.0.0.1")!) -> String {
        let fd = connectTo(port, address: address)
        guard fd >= 0 else { return "connect failed: \(String(cString: strerror(errno)))" }
        defer { close(fd) }
        sendAll(fd, request)
        return readAll(fd)
    }

    func statusLine(_ response: String) -> String {
        String(response.prefix { $0 != "\r\n" && $0 != "\n" })
    }

    func body(_ response: String) -> String {
        guard let r = response.firstRange(of: "\r\n\r\n") else { return "" }
        return String(response[r.upperBound...])
    }

    // MARK: Answers

    @Test func getMetricsAnswersTheClosuresText() throws {
        let calls = Calls()
        let s = try server { "lvs_connections \(calls.next())\n" }
        defer { s.stop() }
        #expect(s.port != 0)
        let r = exchange(s.port, "GET /metrics HTTP/1.1\r\nHost: localhost\r\nAccept: */*\r\n\r\n")
        #expect(statusLine(r) == "HTTP/1.0 200 OK")
        #expect(r.contains("\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"))
        #expect(r.contains("\r\nContent-Length: 18\r\n"))
        #expect(body(r) == "lvs_connections 1\n")
        // The closure runs once per request.
        #expect(body(exchange(s.port, "GET /metrics HTTP/1.0\r\n\r\n")) == "lvs_connections 2\n")
        #expect(body(exchange(s.port, "GET /metrics?name[]=x HTTP/1.0\n\n")) == "lvs_connections 3\n")
    }

    @Test func servesRenderedMetrics() throws {
        let text = Metrics.render(services: [], counters: DirectorCounters(), connectionCount: 5, capacity: 1024)
        let s = try server { text }
        defer { s.stop() }
        let r = exchange(s.port, "GET /metrics HTTP/1.0\r\n\r\n")
        #expect(body(r) == text)
    }

    @Test func headHasNoBody() throws {
        let s = try server()
        defer { s.stop() }
        let r = exchange(s.port, "HEAD /metrics HTTP/1.0\r\n\r\n")
        #expect(statusLine(r) == "HTTP/1.0 200 OK")
        #expect(r.contains("Content-Length: 9\r\n"))
        #expect(body(r) == "")
    }

    @Test(arguments: ["GET / HTTP/1.0", "GET /metricsx HTTP/1.0", "GET /metrics/ HTTP/1.0", "POST /metrics HTTP/1.0",
                      "GET /favicon.ico HTTP/1.1"])
    func otherRequestsAre404(_ line: String) throws {
        let s = try server()
        defer { s.stop() }
        let r = exchange(s.port, line + "\r\n\r\n")
        #expect(statusLine(r) == "HTTP/1.0 404 Not Found")
        #expect(body(r) == "not found\n")
    }

    @Test(arguments: ["hello\r\n\r\n", "GET /metrics\r\n\r\n", "GET /metrics FTP/1.0\r\n\r\n"])
    func malformedRequestsAre400(_ request: String) throws {
        let s = try server()
        defer { s.stop() }
        #expect(statusLine(exchange(s.port, request)) == "HTTP/1.0 400 Bad Request")
    }

    // MARK: Bounds

    @Test func oversizedRequestIsRefused() throws {
        let s = try server()
        defer { s.stop() }
        let big = "GET /metrics HTTP/1.0\r\nX-Filler: " + String(repeating: "a", count: 9000) + "\r\n\r\n"
        #expect(statusLine(exchange(s.port, big)) == "HTTP/1.0 431 Request Header Fields Too Large")
        // Still serving.
        #expect(statusLine(exchange(s.port, "GET /metrics HTTP/1.0\r\n\r\n")) == "HTTP/1.0 200 OK")
    }

    @Test func slowClientIsCutOffAndOthersAreServed() throws {
        let s = try server(readTimeoutMilliseconds: 300)
        defer { s.stop() }
        let slow = connectTo(s.port)
        #expect(slow >= 0)
        defer { close(slow) }
        sendAll(slow, "GET /metr")
        let start = MetricsHTTPServer.nowMilliseconds()
        // Served after the slow client's budget runs out (the server answers one at a time).
        let r = exchange(s.port, "GET /metrics HTTP/1.0\r\n\r\n")
        let waited = MetricsHTTPServer.nowMilliseconds() - start
        #expect(statusLine(r) == "HTTP/1.0 200 OK")
        #expect(waited < 1500, "waited \(waited) ms")
        #expect(statusLine(readAll(slow)) == "HTTP/1.0 408 Request Timeout")
    }

    @Test func silentClientIsCutOff() throws {
        let s = try server(readTimeoutMilliseconds: 200)
        defer { s.stop() }
        let fd = connectTo(s.port)
        #expect(fd >= 0)
        defer { close(fd) }
        let start = MetricsHTTPServer.nowMilliseconds()
        let r = readAll(fd)
        #expect(statusLine(r) == "HTTP/1.0 408 Request Timeout")
        #expect(MetricsHTTPServer.nowMilliseconds() - start < 1500)
    }

    // MARK: Start and stop

    @Test(arguments: ["10.0.0.1", "0.0.0.0", "192.168.1.1", "::"])
    func nonLoopbackIsRefused(_ address: String) {
        let s = MetricsHTTPServer(address: IPAddress(address)!, port: 9117) { "" }
        do {
            try s.start()
            s.stop()
            Issue.record("expected a refusal")
        } catch {
            #expect(error.message == "refusing to serve metrics on \(Endpoint(IPAddress(address)!, 9117)): not a "
                    + "loopback address (127.0.0.0/8 or ::1)")
        }
        #expect(!s.isRunning)
    }

    @Test func portInUseIsAClearError() throws {
        let first = try server()
        defer { first.stop() }
        let second = MetricsHTTPServer(address: IPAddress("127.0.0.1")!, port: first.port) { "" }
        do {
            try second.start()
            second.stop()
            Issue.record("expected the bind to fail")
        } catch {
            #expect(error.message == "cannot serve metrics on 127.0.0.1:\(first.port): bind: Address already in use")
        }
        // The first one is unaffected.
        #expect(statusLine(exchange(first.port, "GET /metrics HTTP/1.0\r\n\r\n")) == "HTTP/1.0 200 OK")
    }

    @Test func stopClosesTheSocketAndAllowsARestart() throws {
        let s = try server()
        let port = s.port
        #expect(s.isRunning)
        #expect(statusLine(exchange(port, "GET /metrics HTTP/1.0\r\n\r\n")) == "HTTP/1.0 200 OK")
        s.stop()
        #expect(!s.isRunning)
        #expect(s.port == 0)
        let fd = connectTo(port)
        #expect(fd < 0, "nothing listens after stop()")
        if fd >= 0 { close(fd) }
        s.stop()  // a second stop is harmless

        try s.start()
        defer { s.stop() }
        #expect(statusLine(exchange(s.port, "GET /metrics HTTP/1.0\r\n\r\n")) == "HTTP/1.0 200 OK")
    }

    @Test func stopEndsAConnectionInProgress() throws {
        let s = try server(readTimeoutMilliseconds: 10_000)
        let fd = connectTo(s.port)
        #expect(fd >= 0)
        defer { close(fd) }
        usleep(50_000)  // let the server thread pick the connection up
        let start = MetricsHTTPServer.nowMilliseconds()
        s.stop()
        #expect(MetricsHTTPServer.nowMilliseconds() - start < 2000)
    }

    @Test func ipv6Loopback() throws {
        // Skipped where the host has no IPv6 loopback.
        let probe = socket(AF_INET6, Int32(SOCK_STREAM.rawValue), 0)
        guard probe >= 0 else { return }
        close(probe)
        let s = MetricsHTTPServer(address: IPAddress("::1")!, port: 0) { "v6\n" }
        do { try s.start() } catch { return }
        defer { s.stop() }
        #expect(body(exchange(s.port, "GET /metrics HTTP/1.0\r\n\r\n", address: IPAddress("::1")!)) == "v6\n")
    }
}
