#if canImport(Glibc)
import Glibc
#endif

/// `lvs-demo serve NAME PORT`: an HTTP/1.1 server that answers every request with its own name
/// (keep-alive honoured, `Connection: close` and HTTP/1.0 close). One thread per connection.
func serveHTTP(name: String, port: UInt16) -> Int32 {
    // Dual-stack: one IPv6 socket with V6ONLY off takes IPv4 clients too (as ::ffff:a.b.c.d).
    var fd = socket(AF_INET6, Int32(SOCK_STREAM.rawValue), 0)
    var one: Int32 = 1
    var zero: Int32 = 0
    if fd >= 0 {
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &zero, socklen_t(MemoryLayout<Int32>.size))
        var a6 = sockaddr_in6()
        a6.sin6_family = sa_family_t(AF_INET6)
        a6.sin6_port = port.bigEndian
        let r = withUnsafePointer(to: &a6) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
        }
        if r != 0 {
            close(fd)
            fd = -1
        }
    }
    if fd < 0 {  // no IPv6 in this namespace: IPv4 only
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = Net.ipv4("0.0.0.0", port)
        guard Net.withSockaddr(&addr, { bind(fd, $0, $1) }) == 0 else { Net.fail("bind port \(port)") }
    }
    guard listen(fd, 1024) == 0 else { Net.fail("listen") }
    let body = Array("\(name)\n".utf8)
    while true {
        let c = accept(fd, nil, nil)
        if c < 0 { continue }
        setsockopt(c, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        spawn { handleConnection(c, body: body) }
    }
}

/// Requests: `GET /` → the server's name; `GET /bytes/N` → N bytes of `pattern` (a bulk
/// download); a request with a `Content-Length` body → `NAME len=N sum=S` after reading it all
/// (a bulk upload). Together they push GSO/GRO super-frames through the director both ways.
func handleConnection(_ c: Int32, body: [UInt8]) {
    defer { close(c) }
    Net.setTimeout(c, seconds: 30)
    var buf: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        var end: Int? = nil
        while end == nil {
            if let e = headEnd(buf) { end = e; break }
            guard buf.count < 65536 else { return }
            let n = chunk.withUnsafeMutableBytes { recv(c, $0.baseAddress!, $0.count, 0) }
            if n <= 0 { return }
            buf += chunk[0..<n]
        }
        let head = String(decoding: buf[0..<end!], as: UTF8.self).lowercased()
        buf.removeFirst(end!)
        let http10 = head.contains(" http/1.0\r\n")
        let close = head.contains("connection: close") || (http10 && !head.contains("connection: keep-alive"))
        var payload = body
        if let cl = header(head, "content-length"), let length = Int(cl), length > 0 {
            // Read the request body, keeping only its length and checksum.
            var got = 0
            var sum = Checksum32()
            let take = min(buf.count, length)
            sum.add(buf[0..<take])
            got = take
            buf.removeFirst(take)
            while got < length {
                let n = chunk.withUnsafeMutableBytes { recv(c, $0.baseAddress!, min($0.count, length - got), 0) }
                if n <= 0 { return }
                sum.add(chunk[0..<n])
                got += n
            }
            payload = Array("\(String(decoding: body, as: UTF8.self).trimmingSuffix()) len=\(got) sum=\(sum.value)\n".utf8)
        } else if let r = head.range(of: "get /bytes/"), let n = Int(head[r.upperBound...].prefix { $0.isNumber }) {
            payload = pattern(count: min(n, 1 << 30))
        }
        var response = Array("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: \(payload.count)\r\n".utf8)
        response += Array((close ? "Connection: close\r\n\r\n" : "Connection: keep-alive\r\n\r\n").utf8)
        guard Net.sendAll(c, response), Net.sendAll(c, payload), !close else { return }
    }
}

func header(_ head: String, _ name: String) -> String? {
    for line in head.split(separator: "\r\n") where line.hasPrefix(name + ":") {
        return line.dropFirst(name.count + 1).trimmingCharacters(in: " ")
    }
    return nil
}

/// The bulk-transfer payload: byte i is (i * 7 + i / 251) & 0xff, so truncation, reordering or
/// corruption changes the checksum.
func pattern(count: Int) -> [UInt8] {
    (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 / 251) }
}

/// A position-dependent checksum (Fletcher-style) printed by the server and by `lvs-demo pattern`.
struct Checksum32 {
    var a: UInt32 = 1
    var b: UInt32 = 0
    mutating func add(_ bytes: ArraySlice<UInt8>) {
        for x in bytes {
            a = (a &+ UInt32(x)) % 65521
            b = (b &+ a) % 65521
        }
    }
    var value: UInt32 { b << 16 | a }
}

func headEnd(_ b: [UInt8]) -> Int? {
    guard b.count >= 4 else { return nil }
    for i in 0...(b.count - 4) where b[i] == 13 && b[i + 1] == 10 && b[i + 2] == 13 && b[i + 3] == 10 { return i + 4 }
    return nil
}

/// `lvs-demo udp-echo NAME PORT`: answers every datagram with "NAME: <datagram>".
func serveUDP(name: String, port: UInt16) -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
    var addr = Net.ipv4("0.0.0.0", port)
    guard Net.withSockaddr(&addr, { bind(fd, $0, $1) }) == 0 else { Net.fail("bind udp port \(port)") }
    var buf = [UInt8](repeating: 0, count: 2048)
    while true {
        var peer = sockaddr_in()
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let n = buf.withUnsafeMutableBytes { b in
            withUnsafeMutablePointer(to: &peer) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(fd, b.baseAddress!, b.count, 0, $0, &len) } }
        }
        if n <= 0 { continue }
        let reply = Array("\(name): ".utf8) + buf[0..<n]
        _ = reply.withUnsafeBytes { r in
            withUnsafePointer(to: &peer) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, r.baseAddress!, r.count, 0, $0, len) } }
        }
    }
}

/// `lvs-demo client ADDRESS PORT N`: N sequential HTTP/1.0 requests, each on a new connection
/// (so each is scheduled on its own), 5 s timeout each. Prints `answers NAME COUNT` lines and
/// `failures N`; exits 1 when any request failed.
func runClient(address: String, port: UInt16, count: Int) -> Int32 {
    var counts: [String: Int] = [:]
    var failures = 0
    var firstError = ""
    let request = Array("GET / HTTP/1.0\r\nHost: \(address)\r\n\r\n".utf8)
    var chunk = [UInt8](repeating: 0, count: 4096)
    for _ in 0..<count {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        Net.setTimeout(fd, seconds: 5)
        var addr = Net.ipv4(address, port)
        var ok = false
        if Net.withSockaddr(&addr, { connect(fd, $0, $1) }) == 0, Net.sendAll(fd, request) {
            var response: [UInt8] = []
            while true {
                let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
                if n <= 0 { break }
                response += chunk[0..<n]
            }
            if let e = headEnd(response), String(decoding: response[0..<e], as: UTF8.self).hasPrefix("HTTP/1.1 200") {
                let name = String(decoding: response[e...], as: UTF8.self).trimmingSuffix()
                counts[name, default: 0] += 1
                ok = true
            }
        }
        if !ok {
            failures += 1
            if firstError.isEmpty { firstError = String(cString: strerror(errno)) }
        }
        close(fd)
    }
    for (name, n) in counts.sorted(by: { $0.key < $1.key }) { print("answers \(name) \(n)") }
    print("failures \(failures)\(failures > 0 ? " (first: \(firstError))" : "")")
    return failures == 0 ? 0 : 1
}

extension String {
    func trimmingSuffix() -> String {
        var s = Substring(self)
        while let l = s.last, l == "\n" || l == "\r" || l == " " { s = s.dropLast() }
        return String(s)
    }
}

/// `lvs-demo udp-client ADDRESS PORT N`: N datagrams, each from a new socket (a new flow), 2 s
/// timeout each. Prints `answers NAME COUNT` and `failures N` like `client`.
func runUDPClient(address: String, port: UInt16, count: Int) -> Int32 {
    var counts: [String: Int] = [:]
    var failures = 0
    var buf = [UInt8](repeating: 0, count: 2048)
    for i in 0..<count {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        Net.setTimeout(fd, seconds: 2)
        var addr = Net.ipv4(address, port)
        let msg = Array("ping \(i)".utf8)
        var ok = false
        if Net.withSockaddr(&addr, { connect(fd, $0, $1) }) == 0, send(fd, msg, msg.count, 0) == msg.count {
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
            if n > 0, let colon = buf[0..<n].firstIndex(of: UInt8(ascii: ":")),
                Array(buf[(colon + 2)..<n]) == msg
            {
                counts[String(decoding: buf[0..<colon], as: UTF8.self), default: 0] += 1
                ok = true
            }
        }
        if !ok { failures += 1 }
        close(fd)
    }
    for (name, n) in counts.sorted(by: { $0.key < $1.key }) { print("answers \(name) \(n)") }
    print("failures \(failures)")
    return failures == 0 ? 0 : 1
}

/// `lvs-demo udp-probe ADDRESS PORT`: sends one datagram on a connected UDP socket and reports
/// what came back: `answer`, `refused` (an ICMP port-unreachable reached us) or `timeout`.
func udpProbe(address: String, port: UInt16) -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
    Net.setTimeout(fd, seconds: 2)
    var addr = Net.ipv4(address, port)
    guard Net.withSockaddr(&addr, { connect(fd, $0, $1) }) == 0 else { Net.fail("connect") }
    let msg = Array("probe".utf8)
    _ = send(fd, msg, msg.count, 0)
    var buf = [UInt8](repeating: 0, count: 512)
    let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
    if n > 0 {
        print("answer")
    } else if errno == ECONNREFUSED {
        print("refused")
    } else {
        print("timeout")
    }
    return 0
}

extension Substring {
    func trimmingCharacters(in set: String) -> String {
        var s = self
        while let f = s.first, set.contains(f) { s = s.dropFirst() }
        while let l = s.last, set.contains(l) { s = s.dropLast() }
        return String(s)
    }
}

/// `lvs-demo pattern N [sum]`: writes the bulk payload to stdout, or prints its checksum.
func writePattern(count: Int, sumOnly: Bool) -> Int32 {
    let p = pattern(count: count)
    if sumOnly {
        var s = Checksum32()
        s.add(p[...])
        print(s.value)
    } else {
        var off = 0
        while off < p.count {
            let n = p.withUnsafeBytes { write(1, $0.baseAddress! + off, p.count - off) }
            if n <= 0 { return 1 }
            off += n
        }
    }
    return 0
}
