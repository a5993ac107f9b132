#if canImport(Glibc)
import Glibc
#endif
import LVSEngine
import LVSPacket

/// Plain POSIX sockets with deadlines, for the probes (no event loop: each checker has its own
/// thread, see `HealthMonitor`).
enum ProbeSocket {
    /// CLOCK_MONOTONIC in seconds.
    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    static func withSockaddr<R>(_ a: IPAddress, _ port: UInt16, _ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        if a.isIPv4 {
            var sin = sockaddr_in()
            sin.sin_family = sa_family_t(AF_INET)
            sin.sin_port = port.bigEndian
            sin.sin_addr.s_addr = a.v4Raw
            return withUnsafePointer(to: &sin) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        }
        var sin6 = sockaddr_in6()
        sin6.sin6_family = sa_family_t(AF_INET6)
        sin6.sin6_port = port.bigEndian
        let b = a.bytes
        withUnsafeMutableBytes(of: &sin6.sin6_addr) { for i in 0..<16 { $0[i] = b[i] } }
        return withUnsafePointer(to: &sin6) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
        }
    }

    static var errorText: String { String(cString: strerror(errno)) }

    /// A non-blocking socket of `type` bound to `source` (if any) and connected to `address:port`
    /// within `deadline`; the fd or why not.
    static func connect(_ type: Int32, to address: IPAddress, _ port: UInt16, from source: IPAddress?,
                        deadline: Double) -> Result<Int32, ProbeError> {
        let fd = socket(address.isIPv4 ? AF_INET : AF_INET6, type | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return .failure(ProbeError("socket: \(errorText)")) }
        if let source {
            let rc = withSockaddr(source, 0) { bind(fd, $0, $1) }
            if rc != 0 {
                let e = ProbeError("bind to \(source): \(errorText)")
                close(fd)
                return .failure(e)
            }
        }
        let rc = withSockaddr(address, port) { Glibc.connect(fd, $0, $1) }
        if rc != 0 && errno != EINPROGRESS {
            let e = ProbeError("connect to \(Endpoint(address, port)): \(errorText)")
            close(fd)
            return .failure(e)
        }
        if rc != 0 {
            guard wait(fd, Int16(POLLOUT), deadline: deadline) else {
                close(fd)
                return .failure(ProbeError("connect to \(Endpoint(address, port)): timed out"))
            }
            var err: Int32 = 0
            var len = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len)
            if err != 0 {
                close(fd)
                return .failure(ProbeError("connect to \(Endpoint(address, port)): \(String(cString: strerror(err)))"))
            }
        }
        return .success(fd)
    }

    /// Waits until `fd` is ready for `events` or the deadline passes.
    static func wait(_ fd: Int32, _ events: Int16, deadline: Double) -> Bool {
        while true {
            let left = deadline - now()
            if left <= 0 { return false }
            var p = pollfd(fd: fd, events: events, revents: 0)
            let rc = poll(&p, 1, Int32(min(left * 1000, 1_000_000).rounded(.up)))
            if rc > 0 { return true }
            if rc < 0 && errno != EINTR { return true }  // let the caller's I/O report it
        }
    }

    static func sendAll(_ fd: Int32, _ bytes: [UInt8], deadline: Double) -> ProbeError? {
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n > 0 { off += n; continue }
            if n < 0 && (errno == EAGAIN || errno == EINTR) {
                guard wait(fd, Int16(POLLOUT), deadline: deadline) else { return ProbeError("send: timed out") }
                continue
            }
            return ProbeError("send: \(errorText)")
        }
        return nil
    }

    /// Reads until the peer closes, `limit` bytes, `stop` says enough, or the deadline.
    static func readAll(_ fd: Int32, limit: Int, deadline: Double, stop: ([UInt8]) -> Bool = { _ in false })
        -> Result<[UInt8], ProbeError>
    {
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 16384)
        while out.count < limit && !stop(out) {
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 { out += buf[0..<n]; continue }
            if n == 0 { break }
            if errno == EAGAIN || errno == EINTR {
                guard wait(fd, Int16(POLLIN), deadline: deadline) else { return .failure(ProbeError("read: timed out")) }
                continue
            }
            return .failure(ProbeError("read: \(errorText)"))
        }
        return .success(out)
    }
}

/// Why a probe failed, in words for the log.
struct ProbeError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}
