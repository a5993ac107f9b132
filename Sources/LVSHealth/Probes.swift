#if canImport(Glibc)
import Glibc
#endif
import CTLS
import LVSControl
import LVSEngine
import LVSPacket

/// Runs one check of a real server (blocking, bounded by the checker's connect_timeout).
public enum Probe {
    public static func run(_ spec: HealthCheckSpec, address: IPAddress, port: UInt16) -> ProbeOutcome {
        let target = spec.connectIP ?? address
        let targetPort = spec.connectPort ?? port
        let deadline = ProbeSocket.now() + spec.connectTimeout
        switch spec.kind {
        case .tcp:
            switch ProbeSocket.connect(Int32(SOCK_STREAM.rawValue), to: target, targetPort, from: spec.bindTo, deadline: deadline) {
            case .success(let fd):
                close(fd)
                return .up()
            case .failure(let e):
                return .down(reason: e.description)
            }
        case .http(let urls, let host), .ssl(let urls, let host):
            var tls: String?? = nil  // nil: plain HTTP; .some(sni): TLS
            if case .ssl = spec.kind { tls = .some(host) }
            for url in urls {
                if case .down(let why) = http(url, host: host ?? Endpoint(target, targetPort).description, target,
                                              targetPort, spec.bindTo, tls: tls, deadline: deadline) {
                    return .down(reason: why)
                }
            }
            return .up()
        case .udp(let payload):
            return datagram(payload.isEmpty ? [0] : payload, target, targetPort, spec.bindTo, deadline: deadline) { _ in nil }
        case .dns(let name, let type):
            let id = UInt16.random(in: 1...0xffff)
            return datagram(DNSQuery.build(id: id, name: name, type: type), target, targetPort, spec.bindTo,
                            deadline: deadline) { DNSQuery.check($0, id: id) }
        case .misc(let command, let timeout, let dynamic):
            return MiscCheck.run(command, timeout: timeout ?? spec.delayLoop, dynamic: dynamic)
        case .agent:
            return agent(target, targetPort, spec.bindTo, deadline: deadline)
        }
    }

    /// `GET path HTTP/1.0`: the status must be listed; with a digest, the body's MD5 must match.
    /// With `tls` (SSL_GET) the exchange runs over TLS, `tls!` being the SNI name if any.
    static func http(_ url: HTTPCheckURL, host: String, _ a: IPAddress, _ p: UInt16, _ bind: IPAddress?,
                     tls: String?? = nil, deadline: Double) -> ProbeOutcome {
        let fd: Int32
        switch ProbeSocket.connect(Int32(SOCK_STREAM.rawValue), to: a, p, from: bind, deadline: deadline) {
        case .success(let f): fd = f
        case .failure(let e): return .down(reason: "GET \(url.path): \(e)")
        }
        defer { close(fd) }
        let request = "GET \(url.path) HTTP/1.0\r\nHost: \(host)\r\nUser-Agent: lvsd-health\r\nConnection: close\r\n\r\n"
        let response: [UInt8]
        if let sni = tls {
            switch TLSExchange.run(fd, sni: sni, request: Array(request.utf8), deadline: deadline) {
            case .success(let r): response = r
            case .failure(let e): return .down(reason: "GET \(url.path): \(e)")
            }
        } else {
            if let e = ProbeSocket.sendAll(fd, Array(request.utf8), deadline: deadline) {
                return .down(reason: "GET \(url.path): \(e)")
            }
            switch ProbeSocket.readAll(fd, limit: 4 << 20, deadline: deadline, stop: { HTTPResponse.isComplete($0) }) {
            case .success(let r): response = r
            case .failure(let e): return .down(reason: "GET \(url.path): \(e)")
            }
        }
        guard let parsed = HTTPResponse(response) else {
            return .down(reason: "GET \(url.path): no valid HTTP response (\(response.count) bytes)")
        }
        guard url.statusCodes.contains(where: { $0.contains(parsed.status) }) else {
            return .down(reason: "GET \(url.path): status \(parsed.status) not in \(url.statusText)")
        }
        if let want = url.digest {
            let got = MD5.hex(parsed.body)
            guard got == want else { return .down(reason: "GET \(url.path): body digest \(got), expected \(want)") }
        }
        return .up()
    }

    /// Sends one datagram and waits for an answer that `verdict` accepts (nil = accepted).
    static func datagram(_ payload: [UInt8], _ a: IPAddress, _ p: UInt16, _ bind: IPAddress?, deadline: Double,
                         verdict: ([UInt8]) -> String?) -> ProbeOutcome {
        let fd: Int32
        switch ProbeSocket.connect(Int32(SOCK_DGRAM.rawValue), to: a, p, from: bind, deadline: deadline) {
        case .success(let f): fd = f
        case .failure(let e): return .down(reason: e.description)
        }
        defer { close(fd) }
        if let e = ProbeSocket.sendAll(fd, payload, deadline: deadline) { return .down(reason: e.description) }
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n >= 0 {
                if let why = verdict(Array(buf[0..<n])) { return .down(reason: why) }
                return .up()
            }
            if errno == EAGAIN || errno == EINTR {
                guard ProbeSocket.wait(fd, Int16(POLLIN), deadline: deadline) else { return .down(reason: "no reply: timed out") }
                continue
            }
            // ECONNREFUSED: an ICMP port unreachable came back.
            return .down(reason: "reply: \(ProbeSocket.errorText)")
        }
    }

    /// HAProxy's agent check: connect, read one line, parse it.
    static func agent(_ a: IPAddress, _ p: UInt16, _ bind: IPAddress?, deadline: Double) -> ProbeOutcome {
        let fd: Int32
        switch ProbeSocket.connect(Int32(SOCK_STREAM.rawValue), to: a, p, from: bind, deadline: deadline) {
        case .success(let f): fd = f
        case .failure(let e): return .inconclusive(reason: "agent unreachable: \(e)")
        }
        defer { close(fd) }
        let line: [UInt8]
        switch ProbeSocket.readAll(fd, limit: 1024, deadline: deadline, stop: { $0.contains(10) }) {
        case .success(let l): line = l
        case .failure(let e): return .inconclusive(reason: "agent: \(e)")
        }
        let text = String(decoding: line.prefix { $0 != 10 }, as: UTF8.self)
        guard let report = AgentReport.parse(text) else {
            return .inconclusive(reason: "agent answered '\(text.trimmingWhitespace)', which is not understood")
        }
        return .agent(report)
    }
}

/// The parts of an HTTP/1.x response a check needs.
struct HTTPResponse {
    var status: Int
    var body: [UInt8]

    static func headerEnd(_ b: [UInt8]) -> Int? {
        guard b.count >= 4 else { return nil }
        for i in 0...(b.count - 4) where b[i] == 13 && b[i + 1] == 10 && b[i + 2] == 13 && b[i + 3] == 10 { return i + 4 }
        return nil
    }

    static func contentLength(_ head: [UInt8]) -> Int? {
        let text = String(decoding: head, as: UTF8.self).lowercased()
        for line in text.split(separator: "\r\n") where line.hasPrefix("content-length:") {
            return Int(line.dropFirst("content-length:".count).trimmingCharacters)
        }
        return nil
    }

    /// True once headers and a Content-Length body have arrived (servers that keep the
    /// connection open despite `Connection: close`); otherwise the read runs to EOF.
    static func isComplete(_ b: [UInt8]) -> Bool {
        guard let end = headerEnd(b), let len = contentLength(Array(b[..<end])) else { return false }
        return b.count - end >= len
    }

    init?(_ b: [UInt8]) {
        guard let end = Self.headerEnd(b) else { return nil }
        let statusLine = String(decoding: b.prefix { $0 != 13 }, as: UTF8.self)
        let parts = statusLine.split(separator: " ")
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/"), let code = Int(parts[1]) else { return nil }
        status = code
        var body = Array(b[end...])
        if let len = Self.contentLength(Array(b[..<end])), body.count > len { body = Array(body.prefix(len)) }
        self.body = body
    }
}

extension Substring {
    var trimmingCharacters: String { String(self).trimmingWhitespace }
}

/// A minimal DNS query and answer check (DNS_CHECK).
enum DNSQuery {
    static func build(id: UInt16, name: String, type: UInt16) -> [UInt8] {
        var q: [UInt8] = [UInt8(id >> 8), UInt8(id & 0xff), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]
        for label in name.split(separator: ".") where !label.isEmpty {
            let bytes = Array(label.utf8.prefix(63))
            q.append(UInt8(bytes.count))
            q += bytes
        }
        q.append(0)
        q += [UInt8(type >> 8), UInt8(type & 0xff), 0, 1]
        return q
    }

    /// nil when `reply` answers query `id` with RCODE 0, else why not.
    static func check(_ reply: [UInt8], id: UInt16) -> String? {
        guard reply.count >= 12 else { return "DNS reply too short (\(reply.count) bytes)" }
        guard UInt16(reply[0]) << 8 | UInt16(reply[1]) == id else { return "DNS reply with another id" }
        guard reply[2] & 0x80 != 0 else { return "DNS packet is not a reply" }
        let rcode = reply[3] & 0x0f
        return rcode == 0 ? nil : "DNS RCODE \(rcode)"
    }
}
