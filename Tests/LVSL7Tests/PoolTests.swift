import LVSEngine
import LVSPacket
import Testing

@testable import LVSL7

/// Pools run the engine's schedulers over their servers.
@Suite struct PoolTests {
    func servers(_ n: Int) -> [L7Server] {
        (0..<n).map { L7Server(address: IPAddress(10, 0, 0, UInt8($0 + 1)), port: 80) }
    }

    func key(_ path: String) -> UInt64 { L7HashKey.hash(nil, Req(target: path), client: .zero) }

    @Test func urlLocalityKeepsAPathOnOneServer() {
        for name in ["lblc", "lblcr", "dh", "mh"] {
            let pool = L7Pool(L7PoolConfiguration(name: "c", scheduler: name, hashKey: name == "mh" ? .path : nil,
                                                  servers: servers(4)))
            var seen: [String: Int] = [:]
            var used = Set<Int>()
            for round in 0..<3 {
                for i in 0..<40 {
                    let path = "/obj/\(i)"
                    let s = pool.pick(key: key(path), client: IPAddress(192, 168, 0, UInt8(round + 1)), cookieServer: nil, now: 1)!
                    pool.finished(s, failed: false, bytesIn: 0, bytesOut: 0, now: 1)
                    if let prev = seen[path] { #expect(prev == s, "\(name) \(path)") }
                    seen[path] = s
                    used.insert(s)
                }
            }
            if name == "dh" || name == "mh" { #expect(used.count > 1, "\(name) spreads paths over servers") }
        }
        // lblc: a new path goes to the least-loaded server, then stays there.
        let lblc = L7Pool(L7PoolConfiguration(name: "c", scheduler: "lblc", servers: servers(2)))
        let a = lblc.pick(key: key("/a"), client: .zero, cookieServer: nil, now: 1)!
        let b = lblc.pick(key: key("/b"), client: .zero, cookieServer: nil, now: 1)!
        #expect(a != b)
        lblc.finished(a, failed: false, bytesIn: 0, bytesOut: 0, now: 1)
        lblc.finished(b, failed: false, bytesIn: 0, bytesOut: 0, now: 1)
        #expect(lblc.pick(key: key("/b"), client: .zero, cookieServer: nil, now: 2) == b)
    }

    @Test func roundRobinAndLeastConnectionCountInFlight() {
        let rr = L7Pool(L7PoolConfiguration(name: "r", scheduler: "rr", servers: servers(3)))
        let picks = (0..<6).map { _ in rr.pick(key: 0, client: .zero, cookieServer: nil, now: 0)! }
        #expect(picks == [0, 1, 2, 0, 1, 2])
        // lc: two requests in flight on server 0 and 1; the next goes to 2, then 0 after 0 finishes twice.
        let lc = L7Pool(L7PoolConfiguration(name: "l", scheduler: "lc", servers: servers(3)))
        let s0 = lc.pick(key: 0, client: .zero, cookieServer: nil, now: 0)!
        let s1 = lc.pick(key: 0, client: .zero, cookieServer: nil, now: 0)!
        let s2 = lc.pick(key: 0, client: .zero, cookieServer: nil, now: 0)!
        #expect(Set([s0, s1, s2]) == [0, 1, 2])
        lc.finished(1, failed: false, bytesIn: 0, bytesOut: 0, now: 0)
        #expect(lc.pick(key: 0, client: .zero, cookieServer: nil, now: 0) == 1)
    }

    @Test func passiveHealthTakesOutAndRevives() {
        var c = L7PoolConfiguration(name: "h", scheduler: "rr", servers: servers(2))
        c.failThreshold = 2
        c.failTimeoutMilliseconds = 1000
        let pool = L7Pool(c)
        pool.finished(0, failed: true, bytesIn: 0, bytesOut: 0, now: 10)
        #expect(pool.snapshot(now: 10)[0].up)
        pool.finished(0, failed: true, bytesIn: 0, bytesOut: 0, now: 20)
        #expect(!pool.snapshot(now: 20)[0].up)
        for _ in 0..<4 { #expect(pool.pick(key: 0, client: .zero, cookieServer: nil, now: 500) == 1) }
        // A cookie naming the down server is not honoured either.
        #expect(pool.pick(key: 0, client: .zero, cookieServer: 0, now: 500) == 1)
        #expect(pool.snapshot(now: 1020)[0].up)
        let after = Set((0..<4).map { _ in pool.pick(key: 0, client: .zero, cookieServer: nil, now: 1100)! })
        #expect(after == [0, 1])
    }

    @Test func avoidSkipsTheFailedServerEvenForHashing() {
        let pool = L7Pool(L7PoolConfiguration(name: "d", scheduler: "dh", servers: servers(3)))
        let k = key("/x")
        let first = pool.pick(key: k, client: .zero, cookieServer: nil, now: 0)!
        let retry = pool.pick(key: k, client: .zero, cookieServer: nil, avoid: first, now: 0)!
        #expect(retry != first)
    }
}
