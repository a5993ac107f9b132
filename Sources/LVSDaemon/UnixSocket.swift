#if canImport(Glibc)
import Glibc
#endif

/// Minimal blocking unix-socket helpers for the control channel (lvsadm <-> lvsd).
enum UnixSocket {
    struct Failure: Error, CustomStringConvertible {
        var what: String
        var errno: Int32
        var description: String { "\(what): \(String(cString: strerror(errno)))" }
    }

    static func address(_ path: String) throws(Failure) -> sockaddr_un {
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else {
            throw Failure(what: "socket path too long: \(path)", errno: ENAMETOOLONG)
        }
        withUnsafeMutableBytes(of: &addr.sun_path) { buf in
            for (i, b) in bytes.enumerated() { buf[i] = b }
            buf[bytes.count] = 0
        }
        return addr
    }

    static func connect(_ path: String) throws(Failure) -> Int32 {
        var addr = try address(path)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        if fd < 0 { throw Failure(what: "socket", errno: errno) }
        let r = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        if r < 0 {
            let e = errno
            close(fd)
            throw Failure(what: "connect to \(path)", errno: e)
        }
        return fd
    }

    /// Binds and listens on `path` with mode 0600. Refuses when another process already answers
    /// on it; removes a stale socket file left by a process that is gone.
    static func listen(_ path: String) throws(Failure) -> Int32 {
        if let probe = try? connect(path) {
            close(probe)
            throw Failure(what: "another process is already listening on \(path)", errno: EADDRINUSE)
        }
        var st = stat()
        if lstat(path, &st) == 0 {
            guard (st.st_mode & S_IFMT) == S_IFSOCK else {
                throw Failure(what: "\(path) exists and is not a socket", errno: EEXIST)
            }
            unlink(path)
        }
        var addr = try address(path)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        if fd < 0 { throw Failure(what: "socket", errno: errno) }
        let old = umask(0o177)
        let r = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        umask(old)
        if r < 0 {
            let e = errno
            close(fd)
            throw Failure(what: "bind \(path)", errno: e)
        }
        chmod(path, 0o600)
        if Glibc.listen(fd, 16) < 0 {
            let e = errno
            close(fd)
            throw Failure(what: "listen \(path)", errno: e)
        }
        return fd
    }

    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + off, bytes.count - off) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return false }
            off += n
        }
        return true
    }

    /// Reads one framed message: `frameLength` says the total once enough of it is in.
    static func readMessage(_ fd: Int32, limit: Int, frameLength: ([UInt8]) -> Int?) -> [UInt8]? {
        var buf: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            if let total = frameLength(buf) {
                if total > limit { return nil }
                if buf.count >= total { return Array(buf.prefix(total)) }
            }
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return nil }
            buf += chunk[0..<n]
            if buf.count > limit { return nil }
        }
    }

    static func setTimeout(_ fd: Int32, seconds: Int) {
        var tv = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }
}
