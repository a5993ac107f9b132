#if canImport(Glibc)
import Glibc
#endif
import LVSEngine
import LVSPacket
import Synchronization

/// Why the metrics endpoint could not start.
public struct MetricsServerError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// A tiny blocking HTTP/1.0 server for Prometheus on a loopback TCP socket.
///
/// One background thread accepts and answers one connection at a time: `GET /metrics` (or
/// `HEAD`) gets 200 and the text of `body`, any other request 404; a malformed request 400, one
/// whose head exceeds `maxRequestBytes` 431, one not complete within `readTimeout` 408. Every
/// connection is closed after one answer. Reading and writing are bounded in time (SO_RCVTIMEO,
/// SO_SNDTIMEO, and an overall deadline for the request head), so a slow or stuck client holds the
/// server for at most a few seconds.
///
/// `body` runs on the server's thread: it must not touch a `Director` directly (directors are
/// single-threaded); have it render from snapshots the workers publish.
public final class MetricsHTTPServer: @unchecked Sendable {
    public let address: IPAddress
    public let requestedPort: UInt16
    public let maxRequestBytes: Int
    /// Milliseconds a client has to send its request head (and each write may block).
    public let readTimeoutMilliseconds: Int
    let body: @Sendable () -> String

    struct State {
        var listenFD: Int32 = -1
        var clientFD: Int32 = -1
        var stopping = false
        var thread: pthread_t? = nil
        var port: UInt16 = 0
    }
    let state = Mutex(State())

    /// - Parameters:
    ///   - address: a loopback address (127.0.0.0/8 or ::1); anything else is refused by `start()`.
    ///   - port: the TCP port; 0 picks a free one (see `port` after `start()`).
    public init(address: IPAddress, port: UInt16, maxRequestBytes: Int = 8192, readTimeoutMilliseconds: Int = 2000,
                body: @escaping @Sendable () -> String) {
        self.address = address
        self.requestedPort = port
        self.maxRequestBytes = maxRequestBytes
        self.readTimeoutMilliseconds = readTimeoutMilliseconds
        self.body = body
    }

    public convenience init(listen: ListenAddress, body: @escaping @Sendable () -> String) {
        self.init(address: listen.address, port: listen.port, body: body)
    }

    /// The port bound (useful with port 0); 0 before `start()`.
    public var port: UInt16 { state.withLock { $0.port } }

    public var isRunning: Bool { state.withLock { $0.thread != nil } }

    /// Binds, listens and starts the thread. Throws if the address is not loopback, the port is
    /// taken, or the server already runs.
    public func start() throws(MetricsServerError) {
        let where_ = Endpoint(address, requestedPort)
        guard ListenAddress.isLoopback(address) else {
            throw MetricsServerError("refusing to serve metrics on \(where_): not a loopback address (127.0.0.0/8 or ::1)")
        }
        guard !isRunning else { throw MetricsServerError("the metrics server on \(where_) is already running") }
        func failure(_ what: String) -> MetricsServerError {
            MetricsServerError("cannot serve metrics on \(where_): \(what): \(String(cString: strerror(errno)))")
        }
        let family = address.isIPv4 ? AF_INET : AF_INET6
        let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw failure("socket") }
        var one: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        let bound = withSockaddr(address, requestedPort) { bind(fd, $0, $1) }
        guard bound == 0 else {
            let e = failure("bind")
            close(fd)
            throw e
        }
        guard listen(fd, 16) == 0 else {
            let e = failure("listen")
            close(fd)
            throw e
        }
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let named = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        var actual = requestedPort
        if named == 0 {
            // sin_port and sin6_port sit at the same offset, in network order.
            actual = withUnsafeBytes(of: &storage) { UInt16(bigEndian: $0.load(fromByteOffset: 2, as: UInt16.self)) }
        }
        state.withLock {
            $0.listenFD = fd
            $0.port = actual
            $0.stopping = false
        }
        var tid = pthread_t()
        let context = Unmanaged.passRetained(self).toOpaque()
        let rc = pthread_create(&tid, nil, { arg in
            let server = Unmanaged<MetricsHTTPServer>.fromOpaque(arg!).takeRetainedValue()
            server.serve()
            return nil
        }, context)
        guard rc == 0 else {
            Unmanaged<MetricsHTTPServer>.fromOpaque(context).release()
            state.withLock {
                $0.listenFD = -1
                $0.port = 0
            }
            close(fd)
            throw MetricsServerError("cannot serve metrics on \(where_): cannot start a thread (error \(rc))")
        }
        state.withLock { $0.thread = tid }
    }

    /// Stops accepting, ends a connection in progress, waits for the thread and closes the socket.
    public func stop() {
        let (thread, fd): (pthread_t?, Int32) = state.withLock {
            $0.stopping = true
            if $0.listenFD >= 0 { shutdown($0.listenFD, Int32(SHUT_RDWR)) }
            if $0.clientFD >= 0 { shutdown($0.clientFD, Int32(SHUT_RDWR)) }
            let t = $0.thread
            $0.thread = nil
            return (t, $0.listenFD)
        }
        guard let thread else { return }
        pthread_join(thread, nil)
        close(fd)
        state.withLock {
            $0.listenFD = -1
            $0.port = 0
        }
    }

    // MARK: The thread

    func serve() {
        let fd = state.withLock { $0.listenFD }
        while true {
            let c = accept(fd, nil, nil)
            if state.withLock({ $0.stopping }) {
                if c >= 0 { close(c) }
                return
            }
            if c < 0 {
                // EINTR, ECONNABORTED, or out of descriptors: wait a little rather than spin.
                if errno != EINTR && errno != ECONNABORTED { usleep(10_000) }
                continue
            }
            _ = fcntl(c, F_SETFD, FD_CLOEXEC)
            state.withLock { $0.clientFD = c }
            answer(c)
            state.withLock { $0.clientFD = -1 }
            close(c)
        }
    }

    /// Reads one request head and writes one response.
    func answer(_ c: Int32) {
        setTimeout(c, SO_SNDTIMEO, milliseconds: readTimeoutMilliseconds)
        let deadline = Self.nowMilliseconds() + readTimeoutMilliseconds
        var head: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 2048)
        var complete = false
        while !complete {
            let left = deadline - Self.nowMilliseconds()
            guard left > 0 else { return respond(c, 408, "Request Timeout", "request timeout\n") }
            setTimeout(c, SO_RCVTIMEO, milliseconds: left)
            let n = chunk.withUnsafeMutableBytes { recv(c, $0.baseAddress, $0.count, 0) }
            if n < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK { return respond(c, 408, "Request Timeout", "request timeout\n") }
                return
            }
            if n == 0 { break }
            head += chunk[0..<n]
            complete = Self.headEnd(head) != nil
            if !complete && head.count >= maxRequestBytes {
                return respond(c, 431, "Request Header Fields Too Large", "request too large\n")
            }
        }
        guard let end = Self.headEnd(head), end <= maxRequestBytes else {
            if head.count > maxRequestBytes { return respond(c, 431, "Request Header Fields Too Large", "request too large\n") }
            if head.isEmpty { return }
            return respond(c, 400, "Bad Request", "bad request\n")
        }
        let lineEnd = head.firstIndex(of: UInt8(ascii: "\n")) ?? end
        let requestLine = String(decoding: head[0..<lineEnd], as: UTF8.self)
        let parts = requestLine.split(separator: " ", omittingEmptySubsequences: true)
            .map { $0.trimmingSuffix("\r") }
        guard parts.count == 3, parts[2].hasPrefix("HTTP/") else { return respond(c, 400, "Bad Request", "bad request\n") }
        let method = parts[0]
        let path = parts[1].split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        guard (method == "GET" || method == "HEAD") && path == "/metrics" else {
            return respond(c, 404, "Not Found", "not found\n")
        }
        respond(c, 200, "OK", body(), contentType: Metrics.contentType, headOnly: method == "HEAD")
    }

    func respond(_ c: Int32, _ status: Int, _ reason: String, _ text: String,
                 contentType: String = "text/plain; charset=utf-8", headOnly: Bool = false) {
        let payload = Array(text.utf8)
        var out = Array(("HTTP/1.0 \(status) \(reason)\r\nContent-Type: \(contentType)\r\n"
                         + "Content-Length: \(payload.count)\r\nConnection: close\r\n\r\n").utf8)
        if !headOnly { out += payload }
        var sent = 0
        while sent < out.count {
            let n = out.withUnsafeBytes { send(c, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return }
            sent += n
        }
    }

    // MARK: Helpers

    /// Index just past the blank line ending the head ("\r\n\r\n" or "\n\n"), if present.
    static func headEnd(_ b: [UInt8]) -> Int? {
        let lf = UInt8(ascii: "\n")
        let cr = UInt8(ascii: "\r")
        var i = 0
        while i < b.count {
            if b[i] == lf {
                if i + 1 < b.count && b[i + 1] == lf { return i + 2 }
                if i + 2 < b.count && b[i + 1] == cr && b[i + 2] == lf { return i + 3 }
            }
            i += 1
        }
        return nil
    }

    static func nowMilliseconds() -> Int {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return ts.tv_sec * 1000 + ts.tv_nsec / 1_000_000
    }

    func setTimeout(_ fd: Int32, _ option: Int32, milliseconds: Int) {
        var tv = timeval(tv_sec: milliseconds / 1000, tv_usec: (milliseconds % 1000) * 1000)
        _ = setsockopt(fd, SOL_SOCKET, option, &tv, socklen_t(MemoryLayout<timeval>.size))
    }
}

/// Calls `body` with a sockaddr for (address, port) of the address's family.
fileprivate func withSockaddr<R>(_ address: IPAddress, _ port: UInt16, _ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
    if address.isIPv4 {
        var sa = sockaddr_in()
        sa.sin_family = sa_family_t(AF_INET)
        sa.sin_port = port.bigEndian
        sa.sin_addr = in_addr(s_addr: address.v4Raw)
        return withUnsafePointer(to: &sa) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
    }
    var sa = sockaddr_in6()
    sa.sin6_family = sa_family_t(AF_INET6)
    sa.sin6_port = port.bigEndian
    let bytes = address.bytes
    withUnsafeMutableBytes(of: &sa.sin6_addr) { for i in 0..<16 { $0[i] = bytes[i] } }
    return withUnsafePointer(to: &sa) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
    }
}

extension Substring {
    fileprivate func trimmingSuffix(_ ch: Character) -> Substring {
        last == ch ? dropLast() : self
    }
}
