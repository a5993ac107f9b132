#if canImport(Glibc)
import Glibc
#endif

/// `lvs-demo serve NAME PORT`: an HTTP/1.1 server that answers every request with its own name
/// (keep-alive honoured, `Connection: close` and HTTP/1.0 close). One thread per connection.
func serveHTTP(name: String, port: UInt16) -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var one: Int32 = 1
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
    var addr = Net.ipv4("0.0.0.0", port)
    guard Net.withSockaddr(&addr, { bind(fd, $0, $1) }) == 0 else { Net.fail("bind port \(port)") }
    guard listen(fd, 1024) == 0 else { Net.fail("listen") }
    let body = Array("\(name)\n".utf8)
    while true {
        let c = accept(fd, nil, nil)
        if c < 0 { continue }
        setsockopt(c, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        spawn { handleConnection(c, body: body) }
    }
}

func handleConnection(_ c: Int32, body: [UInt8]) {
    defer { close(c) }
    Net.setTimeout(c, seconds: 30)
    var buf: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 16384)
    while true {
        // One request head at a time (the demo's clients send no bodies).
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
        let http10 = head.hasPrefix("get / http/1.0") || head.contains(" http/1.0\r\n")
        let close = head.contains("connection: close") || (http10 && !head.contains("connection: keep-alive"))
        var response = Array("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: \(body.count)\r\n".utf8)
        response += Array((close ? "Connection: close\r\n\r\n" : "Connection: keep-alive\r\n\r\n").utf8)
        response += body
        guard Net.sendAll(c, response), !close else { return }
    }
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
