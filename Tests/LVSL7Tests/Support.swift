#if canImport(Glibc)
import Glibc
#endif
import LVSPacket
import NIOCore
import NIOHTTP1
import NIOPosix

@testable import LVSL7

/// A real server for the tests: an HTTP/1.1 keep-alive server on 127.0.0.1 (ephemeral port)
/// that answers `server=NAME method=M path=P len=N xff=X` and has a few misbehaving paths:
/// `/die` (head and part of the body, then a close), `/drop` on a `dropper` (closes after the
/// request without answering), `/big?n=N` (N body bytes, chunked), `/close` (Connection: close), `/hang` (never answers).
final class TestUpstream: @unchecked Sendable {
    let name: String
    let dropper: Bool
    let group: MultiThreadedEventLoopGroup
    var channel: Channel!
    var port: Int { channel.localAddress!.port! }
    let counter = Counter()

    final class Counter: @unchecked Sendable {
        let lock = NIOLockBox()
        var requests = 0
        var connections = 0
    }

    /// `port` 0 binds an ephemeral port; a given port brings a stopped server back on it.
    init(_ name: String, dropper: Bool = false, port: Int = 0, group: MultiThreadedEventLoopGroup) throws {
        self.name = name
        self.dropper = dropper
        self.group = group
        let n = name
        let d = dropper
        let c = counter
        channel = try ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { ch in
                ch.eventLoop.makeCompletedFuture {
                    c.lock.with { c.connections += 1 }
                    try ch.pipeline.syncOperations.configureHTTPServerPipeline()
                    try ch.pipeline.syncOperations.addHandler(Handler(name: n, dropper: d, counter: c))
                }
            }
            .bind(host: "127.0.0.1", port: port).wait()
    }

    func stop() { try? channel.close().wait() }

    var requests: Int { counter.lock.with { counter.requests } }
    var connections: Int { counter.lock.with { counter.connections } }

    final class Handler: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let name: String
        let dropper: Bool
        let counter: Counter
        var head: HTTPRequestHead?
        var length = 0
        init(name: String, dropper: Bool, counter: Counter) {
            self.name = name
            self.dropper = dropper
            self.counter = counter
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let h):
                head = h
                length = 0
            case .body(let b):
                length += b.readableBytes
            case .end:
                counter.lock.with { counter.requests += 1 }
                respond(context)
            }
        }

        func respond(_ context: ChannelHandlerContext) {
            guard let h = head else { return }
            if dropper {
                context.close(promise: nil)
                return
            }
            let path = h.uri
            if path.hasPrefix("/big") {
                let n = Int(path.split(separator: "=").last ?? "0") ?? 0
                var hd = HTTPHeaders()
                hd.add(name: "transfer-encoding", value: "chunked")
                context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: hd))), promise: nil)
                var left = n
                let chunk = ByteBuffer(repeating: UInt8(ascii: "x"), count: 65536)
                while left > 0 {
                    let k = min(left, chunk.readableBytes)
                    context.write(wrapOutboundOut(.body(.byteBuffer(chunk.getSlice(at: 0, length: k)!))), promise: nil)
                    left -= k
                }
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
                return
            }
            if path == "/hang" { return }  // never answers
            if path == "/die" {
                var hd = HTTPHeaders()
                hd.add(name: "content-length", value: "100000")
                context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: hd))), promise: nil)
                context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: "partial")))), promise: nil)
                let ctx = context
                context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(50)) { ctx.close(promise: nil) }
                return
            }
            let text = "server=\(name) method=\(h.method.rawValue) path=\(path) len=\(length) xff=\(h.headers.first(name: "x-forwarded-for") ?? "-") fwd=\(h.headers.first(name: "forwarded") ?? "-")\n"
            var hd = HTTPHeaders()
            hd.add(name: "content-length", value: "\(text.utf8.count)")
            hd.add(name: "x-server", value: name)
            if path == "/close" { hd.add(name: "connection", value: "close") }
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: hd))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: text)))), promise: nil)
            let f = context.writeAndFlush(wrapOutboundOut(.end(nil)))
            if path == "/close" {
                let ctx = context
                f.assumeIsolated().whenComplete { _ in ctx.close(promise: nil) }
            }
        }
    }
}

/// A tiny lock for test counters.
final class NIOLockBox: @unchecked Sendable {
    var m = pthread_mutex_t()
    init() { pthread_mutex_init(&m, nil) }
    func with<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(&m)
        defer { pthread_mutex_unlock(&m) }
        return body()
    }
}

/// A blocking HTTP client over a plain socket, so tests control every byte (pipelining,
/// malformed requests) and see exactly when the switch closes the connection.
final class RawClient {
    let fd: Int32
    var buffer: [UInt8] = []

    struct Response {
        var status: Int
        var headers: [(String, String)]
        var body: [UInt8]
        func header(_ n: String) -> String? { headers.first { $0.0.lowercased() == n }?.1 }
        var text: String { String(decoding: body, as: UTF8.self) }
    }

    init(port: Int) {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_port = UInt16(port).bigEndian
        a.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        var tv = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        let r = withUnsafePointer(to: &a) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        precondition(r == 0, "connect failed")
    }

    deinit { close(fd) }

    func send(_ s: String) { send(Array(s.utf8)) }

    func send(_ bytes: [UInt8]) {
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            off += n
        }
    }

    /// Reads more bytes; false at EOF or error.
    func fill() -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n <= 0 { return false }
        buffer += chunk[0..<n]
        return true
    }

    func line() -> String? {
        while true {
            if let i = buffer.firstIndex(of: 10) {
                var l = Array(buffer[..<i])
                buffer.removeFirst(i + 1)
                if l.last == 13 { l.removeLast() }
                return String(decoding: l, as: UTF8.self)
            }
            if !fill() { return nil }
        }
    }

    func take(_ n: Int) -> [UInt8]? {
        while buffer.count < n { if !fill() { return nil } }
        let out = Array(buffer[..<n])
        buffer.removeFirst(n)
        return out
    }

    /// The next response (nil at EOF before a complete one); `head` for responses to HEAD.
    func response(head: Bool = false) -> Response? {
        guard let status = line() else { return nil }
        let parts = status.split(separator: " ")
        guard parts.count >= 2, let code = Int(parts[1]) else { return nil }
        var headers: [(String, String)] = []
        while let l = line(), !l.isEmpty {
            if let c = l.firstIndex(of: ":") {
                headers.append((String(l[..<c]), String(l[l.index(after: c)...].drop { $0 == " " })))
            }
        }
        var r = Response(status: code, headers: headers, body: [])
        if head || code / 100 == 1 || code == 204 || code == 304 { return r }
        if let l = r.header("content-length"), let n = Int(l) {
            guard let b = take(n) else { return nil }
            r.body = b
        } else if r.header("transfer-encoding")?.lowercased() == "chunked" {
            while true {
                guard let sizeLine = line(), let n = Int(sizeLine, radix: 16) else { return nil }
                if n == 0 {
                    while let l = line(), !l.isEmpty {}
                    break
                }
                guard let b = take(n) else { return nil }
                r.body += b
                _ = line()
            }
        } else {
            while fill() {}
            r.body = buffer
            buffer = []
        }
        return r
    }

    /// True when the peer closed (EOF) with nothing more to read.
    func isClosed() -> Bool { buffer.isEmpty && !fill() }
}

/// A switch on 127.0.0.1 with an ephemeral port.
func startSwitch(_ c: L7Configuration) throws -> (L7Switch, Int) {
    var c = c
    c.listeners = [L7Listener(address: IPAddress(127, 0, 0, 1), port: 0)]
    let sw = L7Switch(c)
    let bound = try sw.start()
    return (sw, bound[0].port!)
}

func server(_ u: TestUpstream, weight: Int32 = 1) -> L7Server {
    L7Server(address: IPAddress(127, 0, 0, 1), port: UInt16(u.port), weight: weight, name: u.name)
}

/// A port nothing listens on (bound, then closed).
func closedPort() -> UInt16 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var a = sockaddr_in()
    a.sin_family = sa_family_t(AF_INET)
    a.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
    _ = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
    close(fd)
    return UInt16(bigEndian: a.sin_port)
}

/// Resident set size of this process, in bytes.
func residentBytes() -> Int {
    guard let f = fopen("/proc/self/statm", "r") else { return 0 }
    defer { fclose(f) }
    var size = 0
    var rss = 0
    _ = withUnsafeMutablePointer(to: &size) { s in withUnsafeMutablePointer(to: &rss) { r in withVaList([s, r]) { vfscanf(f, "%ld %ld", $0) } } }
    return rss * Int(sysconf(Int32(_SC_PAGESIZE)))
}
