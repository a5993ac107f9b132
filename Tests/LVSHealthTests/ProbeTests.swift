#if canImport(Glibc)
import Glibc
#endif
import LVSControl
import LVSPacket
import Testing

@testable import LVSHealth

/// Probes against loopback servers run by the test, MISC_CHECK commands, MD5, HTTP parsing.
@Suite(.serialized) struct ProbeTests {
    static let lo = IPAddress(127, 0, 0, 1)

    /// A loopback TCP listener answering `response` to every connection (then closing); with
    /// `readFirst` it waits for the request first (HTTP), else it speaks first (agent).
    final class Server: @unchecked Sendable {
        let fd: Int32
        let port: UInt16
        init(response: [UInt8]?, readFirst: Bool = true) {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            self.fd = fd
            var sin = sockaddr_in()
            sin.sin_family = sa_family_t(AF_INET)
            sin.sin_addr.s_addr = ProbeTests.lo.v4Raw
            _ = withUnsafePointer(to: &sin) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            listen(fd, 16)
            var len = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = withUnsafeMutablePointer(to: &sin) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
            }
            port = UInt16(bigEndian: sin.sin_port)
            HealthThread.detach {
                while true {
                    let c = accept(fd, nil, nil)
                    if c < 0 {
                        close(fd)  // here, not in stop(): the number must not be reused while we accept
                        return
                    }
                    if let response {
                        var buf = [UInt8](repeating: 0, count: 4096)
                        if readFirst { _ = recv(c, &buf, buf.count, 0) }
                        _ = response.withUnsafeBytes { send(c, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                    }
                    close(c)
                }
            }
        }
        var stopped = false
        /// Wakes the accept loop, which closes the socket. Only once: after the close the
        /// number may belong to another test's socket.
        func stop() {
            guard !stopped else { return }
            stopped = true
            shutdown(fd, Int32(SHUT_RDWR))
        }
    }

    static func http(_ status: String, _ body: String) -> [UInt8] {
        Array("HTTP/1.1 \(status)\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)".utf8)
    }

    @Test func tcpCheck() {
        let s = Server(response: nil)
        defer { s.stop() }
        let spec = HealthCheckSpec(kind: .tcp, connectTimeout: 1)
        #expect(Probe.run(spec, address: Self.lo, port: s.port) == .up())
        s.stop()
        usleep(50_000)
        guard case .down(let why) = Probe.run(spec, address: Self.lo, port: s.port) else {
            Issue.record("a closed port must fail")
            return
        }
        #expect(why == "connect to 127.0.0.1:\(s.port): Connection refused")
    }

    @Test func httpStatusAndDigest() {
        let good = Server(response: Self.http("200 OK", "hello\n"))
        let sick = Server(response: Self.http("503 Service Unavailable", "busy"))
        defer { good.stop(); sick.stop() }
        let md5 = MD5.hex(Array("hello\n".utf8))
        func spec(_ codes: [ClosedRange<Int>], _ digest: String? = nil) -> HealthCheckSpec {
            HealthCheckSpec(kind: .http([HTTPCheckURL(path: "/health", statusCodes: codes, digest: digest)], virtualhost: nil),
                            connectTimeout: 1)
        }
        #expect(Probe.run(spec([200...200]), address: Self.lo, port: good.port) == .up())
        #expect(Probe.run(spec([200...200], md5), address: Self.lo, port: good.port) == .up())
        #expect(Probe.run(spec([200...200]), address: Self.lo, port: sick.port)
            == .down(reason: "GET /health: status 503 not in [200]"))
        #expect(Probe.run(spec([200...299, 503...503]), address: Self.lo, port: sick.port) == .up())
        let wrong = String(repeating: "0", count: 32)
        #expect(Probe.run(spec([200...200], wrong), address: Self.lo, port: good.port)
            == .down(reason: "GET /health: body digest \(md5), expected \(wrong)"))
    }

    @Test func httpTimeoutOnASilentServer() {
        // Accepts (kernel backlog) but never answers: the read runs into connect_timeout.
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var sin = sockaddr_in()
        sin.sin_family = sa_family_t(AF_INET)
        sin.sin_addr.s_addr = Self.lo.v4Raw
        _ = withUnsafePointer(to: &sin) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, 16) } }
        listen(fd, 4)
        var len = socklen_t(16)
        _ = withUnsafeMutablePointer(to: &sin) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        defer { close(fd) }
        let spec = HealthCheckSpec(kind: .http([HTTPCheckURL(path: "/")], virtualhost: nil), connectTimeout: 0.3)
        let t0 = ProbeSocket.now()
        #expect(Probe.run(spec, address: Self.lo, port: UInt16(bigEndian: sin.sin_port)) == .down(reason: "GET /: read: timed out"))
        let took = ProbeSocket.now() - t0
        #expect(took >= 0.29 && took < 1)
    }

    @Test func sslGetAgainstAPlainHTTPServerFailsTheHandshake() {
        let plain = Server(response: Self.http("200 OK", "hello\n"))
        defer { plain.stop() }
        let spec = HealthCheckSpec(kind: .ssl([HTTPCheckURL(path: "/")], virtualhost: nil), connectTimeout: 1)
        guard case .down(let why) = Probe.run(spec, address: Self.lo, port: plain.port) else {
            Issue.record("TLS to a plain HTTP server must fail")
            return
        }
        #expect(why.hasPrefix("GET /: TLS handshake: "), "\(why)")
    }

    @Test func agentProbe() {
        let s = Server(response: Array("up 75%\n".utf8), readFirst: false)
        defer { s.stop() }
        let spec = HealthCheckSpec(kind: .agent, connectPort: s.port, connectTimeout: 1)
        #expect(Probe.run(spec, address: Self.lo, port: 80) == .agent(AgentReport(state: .up, percent: 75, text: "up 75%")))
        s.stop()
        usleep(50_000)
        guard case .inconclusive = Probe.run(spec, address: Self.lo, port: 80) else {
            Issue.record("an unreachable agent must not decide")
            return
        }
    }

    @Test func miscCheckExitStatuses() {
        #expect(MiscCheck.run("exit 0", timeout: 2, dynamic: false) == .up())
        #expect(MiscCheck.run("exit 1", timeout: 2, dynamic: true) == .down(reason: "'exit 1' exited with status 1"))
        #expect(MiscCheck.run("exit 7", timeout: 2, dynamic: false) == .down(reason: "'exit 7' exited with status 7"))
        #expect(MiscCheck.run("exit 7", timeout: 2, dynamic: true) == .up(weight: 5))
        #expect(MiscCheck.run("exit 2", timeout: 2, dynamic: true) == .up(weight: 0))
        let t0 = ProbeSocket.now()
        #expect(MiscCheck.run("sleep 5; exit 0", timeout: 0.3, dynamic: false)
            == .down(reason: "'sleep 5; exit 0' timed out after 0.3 s (killed)"))
        #expect(ProbeSocket.now() - t0 < 2)
    }

    @Test func md5TestVectors() {
        // RFC 1321, appendix A.5.
        #expect(MD5.hex([]) == "d41d8cd98f00b204e9800998ecf8427e")
        #expect(MD5.hex(Array("a".utf8)) == "0cc175b9c0f1b6a831c399e269772661")
        #expect(MD5.hex(Array("abc".utf8)) == "900150983cd24fb0d6963f7d28e17f72")
        #expect(MD5.hex(Array("message digest".utf8)) == "f96b697d7cb7938d525a2f31aaf161d0")
        #expect(MD5.hex(Array("abcdefghijklmnopqrstuvwxyz".utf8)) == "c3fcd3d76192e4007dfb496cca67e13b")
        #expect(MD5.hex(Array(String(repeating: "1234567890", count: 8).utf8)) == "57edf4a22be3c955ac49da2e2107b67a")
    }

    @Test func httpResponseParsing() {
        let r = HTTPResponse(Array("HTTP/1.0 404 Not Found\r\nContent-Length: 3\r\n\r\nabcdef".utf8))
        #expect(r?.status == 404)
        #expect(r?.body == Array("abc".utf8))
        #expect(HTTPResponse(Array("garbage\r\n\r\n".utf8)) == nil)
        #expect(HTTPResponse(Array("HTTP/1.1 200 OK\r\n".utf8)) == nil)
        #expect(HTTPResponse.isComplete(Array("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok".utf8)))
        #expect(!HTTPResponse.isComplete(Array("HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nok".utf8)))
    }

    @Test func dnsQueryAndAnswer() {
        let q = DNSQuery.build(id: 0x1234, name: "example.org", type: 1)
        #expect(q == [0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 7] + Array("example".utf8) + [3] + Array("org".utf8) + [0, 0, 1, 0, 1])
        var answer = q
        answer[2] |= 0x80
        #expect(DNSQuery.check(answer, id: 0x1234) == nil)
        #expect(DNSQuery.check(answer, id: 0x1235) == "DNS reply with another id")
        answer[3] = 0x83
        #expect(DNSQuery.check(answer, id: 0x1234) == "DNS RCODE 3")
        #expect(DNSQuery.check(q, id: 0x1234) == "DNS packet is not a reply")
    }
}

/// UDP_CHECK against a loopback echo socket and a closed port (ICMP port unreachable).
@Suite(.serialized) struct UDPProbeTests {
    @Test func udpCheck() {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        var sin = sockaddr_in()
        sin.sin_family = sa_family_t(AF_INET)
        sin.sin_addr.s_addr = ProbeTests.lo.v4Raw
        _ = withUnsafePointer(to: &sin) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, 16) } }
        var len = socklen_t(16)
        _ = withUnsafeMutablePointer(to: &sin) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        let port = UInt16(bigEndian: sin.sin_port)
        HealthThread.detach {
            var buf = [UInt8](repeating: 0, count: 512)
            var peer = sockaddr_storage()
            var plen = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let n = withUnsafeMutablePointer(to: &peer) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(fd, &buf, buf.count, 0, $0, &plen) }
            }
            if n > 0 {
                _ = withUnsafePointer(to: &peer) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, buf, n, 0, $0, plen) }
                }
            }
            close(fd)
        }
        let spec = HealthCheckSpec(kind: .udp(payload: [1, 2, 3]), connectTimeout: 1)
        #expect(Probe.run(spec, address: ProbeTests.lo, port: port) == .up())
        usleep(50_000)
        #expect(Probe.run(spec, address: ProbeTests.lo, port: port) == .down(reason: "reply: Connection refused"))
    }
}
