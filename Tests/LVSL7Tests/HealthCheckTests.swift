#if canImport(Glibc)
import Glibc
#endif
import LVSControl
import LVSHealth
import LVSPacket
import NIOPosix
import Testing

@testable import LVSL7

/// Active health: LVSHealth's probes on checker threads take servers out of a pool and back.
@Suite(.serialized) struct HealthCheckTests {
    final class Lines: @unchecked Sendable {
        let lock = NIOLockBox()
        var lines: [String] = []
        func add(_ l: String) { lock.with { lines.append(l) } }
        var all: [String] { lock.with { lines } }
    }

    static func now() -> Double { HealthMonitor.monotonicSeconds() }

    /// Polls `condition` every 10 ms until it holds or `limit` seconds pass; returns the time taken.
    static func waitFor(_ limit: Double, _ condition: () -> Bool) -> Double? {
        let start = now()
        while now() - start < limit {
            if condition() { return now() - start }
            usleep(10_000)
        }
        return condition() ? now() - start : nil
    }

    /// The servers `n` picks choose (each request finished at once).
    static func picks(_ pool: L7Pool, _ n: Int) -> Set<Int> {
        var seen = Set<Int>()
        for _ in 0..<n {
            guard let s = pool.pick(key: 0, client: .zero, cookieServer: nil, now: 1) else { continue }
            pool.finished(s, failed: false, bytesIn: 0, bytesOut: 0, now: 1)
            seen.insert(s)
        }
        return seen
    }

    @Test func aStoppedServerIsNotPickedUntilItComesBack() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let a = try TestUpstream("a", group: group)
        defer { a.stop() }
        var b = try TestUpstream("b", group: group)
        let bPort = b.port
        let interval = 0.5, timeout = 0.5
        let spec = HealthCheckSpec(kind: .http([HTTPCheckURL(path: "/healthz", statusCodes: [200...200])], virtualhost: nil),
                                   delayLoop: interval, connectTimeout: timeout, retry: 0, delayBeforeRetry: 0.1)
        let pool = L7Pool(L7PoolConfiguration(name: "web", scheduler: "rr", servers: [
            L7Server(address: IPAddress(127, 0, 0, 1), port: UInt16(a.port)),
            L7Server(address: IPAddress(127, 0, 0, 1), port: UInt16(bPort)),
        ], healthCheck: spec))
        let log = Lines()
        let checks = L7HealthChecks(pools: [pool], log: log.add)
        checks.start()
        defer { checks.stop() }
        // Both pass their first check (the probe really reached them).
        #expect(Self.waitFor(5) { pool.snapshot(now: 1).allSatisfy { $0.checkReason == "HTTP_GET succeeded" } } != nil)
        #expect(Self.picks(pool, 4) == [0, 1])
        #expect(b.requests >= 1, "the check's GET reached the server")

        b.stop()
        // The next round (at most `interval` away) is refused: out within interval + timeout.
        // Detection time is printed, not asserted (a loaded CI machine stretches it): the check is
        // that the stopped server is taken out at all, well within a generous bound.
        let down = Self.waitFor(5) { pool.snapshot(now: 1)[1].checkUp == false }
        #expect(down != nil, "never detected")
        print("active health: stopped server out after \(down ?? -1) s (interval \(interval), timeout \(timeout))")
        #expect(Self.picks(pool, 6) == [0])
        let stats = pool.snapshot(now: 1)[1]
        #expect(!stats.up && stats.checkReason?.contains("GET /healthz") == true, "\(stats)")
        #expect(log.all.contains { $0.contains("server 127.0.0.1:\(bPort) is down: HTTP_GET: GET /healthz") }, "\(log.all)")

        b = try TestUpstream("b", port: bPort, group: group)
        defer { b.stop() }
        let up = Self.waitFor(5) { pool.snapshot(now: 1)[1].checkUp == true }
        #expect(up != nil, "the server came back")
        print("active health: restarted server back after \(up ?? -1) s")
        #expect(Self.picks(pool, 4) == [0, 1])
        #expect(log.all.contains { $0.contains("server 127.0.0.1:\(bPort) is up: HTTP_GET succeeded") }, "\(log.all)")
    }

    @Test func aServerThatStopsAnsweringTimesOut() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let a = try TestUpstream("a", group: group)
        defer { a.stop() }
        // `/hang` is accepted and never answered: the probe's timeout decides.
        let spec = HealthCheckSpec(kind: .http([HTTPCheckURL(path: "/hang")], virtualhost: nil),
                                   delayLoop: 0.3, connectTimeout: 0.3, retry: 1, delayBeforeRetry: 0.2)
        let pool = L7Pool(L7PoolConfiguration(name: "p", scheduler: "rr", servers: [
            L7Server(address: IPAddress(127, 0, 0, 1), port: UInt16(a.port)),
        ], healthCheck: spec))
        let checks = L7HealthChecks(pools: [pool], log: { _ in })
        checks.start()
        defer { checks.stop() }
        // First probe at once (0.3 s timeout), one retry 0.2 s later (0.3 s): down after about 0.8 s.
        let down = Self.waitFor(5) { pool.snapshot(now: 1)[0].checkUp == false }
        #expect(down != nil && down! >= 0.7, "down after \(down ?? -1) s: a retry comes first")
        #expect(pool.snapshot(now: 1)[0].checkReason?.contains("timed out") == true, "\(pool.snapshot(now: 1)[0])")
        #expect(pool.pick(key: 0, client: .zero, cookieServer: nil, now: 1) == nil)
    }

    @Test func aStatusOutsideTheListFails() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let a = try TestUpstream("a", group: group)
        defer { a.stop() }
        let spec = HealthCheckSpec(kind: .http([HTTPCheckURL(path: "/", statusCodes: [204...204])], virtualhost: nil),
                                   delayLoop: 0.2, connectTimeout: 0.5, retry: 0, delayBeforeRetry: 0.1)
        let pool = L7Pool(L7PoolConfiguration(name: "p", servers: [
            L7Server(address: IPAddress(127, 0, 0, 1), port: UInt16(a.port)),
        ], healthCheck: spec))
        let checks = L7HealthChecks(pools: [pool], log: { _ in })
        checks.start()
        defer { checks.stop() }
        #expect(Self.waitFor(5) { pool.snapshot(now: 1)[0].checkUp == false } != nil)
        #expect(pool.snapshot(now: 1)[0].checkReason?.contains("status 200 not in [204]") == true)
    }

    /// Passive health's time-out ending must not bring back a server its checker holds down.
    @Test func passiveReviveKeepsACheckedDownServerOut() {
        var c = L7PoolConfiguration(name: "h", scheduler: "rr", servers: [
            L7Server(address: IPAddress(10, 0, 0, 1), port: 80), L7Server(address: IPAddress(10, 0, 0, 2), port: 80),
        ], failThreshold: 1, failTimeoutMilliseconds: 100)
        c.healthCheck = HealthCheckSpec(kind: .tcp)
        let pool = L7Pool(c)
        pool.finished(pool.pick(key: 0, client: .zero, cookieServer: nil, now: 0)!, failed: true, bytesIn: 0, bytesOut: 0, now: 0)
        pool.checked(0, up: false, reason: "TCP_CHECK: refused")
        // The passive time-out is over at 200; the checker still says down.
        for _ in 0..<4 {
            let s = pool.pick(key: 0, client: .zero, cookieServer: nil, now: 200)
            #expect(s == 1)
            if let s { pool.finished(s, failed: false, bytesIn: 0, bytesOut: 0, now: 200) }
        }
        pool.checked(0, up: true, reason: "TCP_CHECK succeeded")
        #expect(Self.picks(pool, 4) == [0, 1])
        // A check coming back up also ends a passive time-out still running (the outage is over).
        for _ in 0..<2 {
            let s = pool.pick(key: 0, client: .zero, cookieServer: nil, now: 300)!
            pool.finished(s, failed: s == 0, bytesIn: 0, bytesOut: 0, now: 300)
        }
        pool.checked(0, up: false, reason: "TCP_CHECK: refused")
        #expect(pool.snapshot(now: 310)[0].up == false)
        pool.checked(0, up: true, reason: "TCP_CHECK succeeded")
        #expect(pool.snapshot(now: 310)[0].up == true)
        #expect(Self.picks(pool, 4) == [0, 1])
        // Without a health_check the listing says so; with one it shows the checker's state.
        #expect(L7Pool(L7PoolConfiguration(name: "n", servers: c.servers)).snapshot(now: 0)[0].checkUp == nil)
        pool.checked(1, up: false, reason: "TCP_CHECK: refused")
        let listing = L7Listing.render(L7Configuration(listeners: [], pools: [c]), stats: [("h", pool.snapshot(now: 300))])
        #expect(listing.contains("Failures Check"))
        #expect(listing.contains(" up\n") && listing.contains(" down (TCP_CHECK: refused)\n"), "\(listing)")
    }
}
