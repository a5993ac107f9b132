#if canImport(Glibc)
import Glibc
#endif
import LVSControl
import LVSEngine
import LVSPacket
import Testing

@testable import LVSHealth

/// The monitor's threads and apply path, with MISC_CHECK commands as probes (no network).
@Suite(.serialized) struct HealthMonitorTests {
    final class Recorder: @unchecked Sendable {
        let lock = Mutex()
        var applied: [LVSDConfiguration] = []
        var lines: [String] = []
        func weights() -> [Int32]? {
            lock.locked { applied.last?.services[0].destinations.map(\.weight) }
        }
    }

    static func config(_ commands: [String], inhibit: Bool = false) -> LVSDConfiguration {
        var c = HealthBookTests.config(weights: Array(repeating: 4, count: commands.count), inhibit: inhibit)
        for (i, cmd) in commands.enumerated() {
            c.health[0].servers[i].checks = [HealthCheckSpec(kind: .misc(command: cmd, timeout: 2, dynamic: true),
                                                             delayLoop: 0.1, retry: 0)]
        }
        return c
    }

    static func waitUntil(_ seconds: Double, _ condition: () -> Bool) -> Bool {
        let end = HealthMonitor.monotonicSeconds() + seconds
        while HealthMonitor.monotonicSeconds() < end {
            if condition() { return true }
            usleep(20_000)
        }
        return condition()
    }

    @Test func resultsReachTheApplyClosureAndAreLogged() {
        let r = Recorder()
        let m = HealthMonitor(Self.config(["exit 0", "exit 1", "exit 5"], inhibit: true)) { line, _ in
            r.lock.locked { r.lines.append(line) }
        }
        defer { m.stop() }
        m.start { c in
            r.lock.locked { r.applied.append(c) }
            return .success([])
        }
        #expect(Self.waitUntil(5) { r.weights() == [4, 0, 3] }, "\(String(describing: r.weights()))")
        let lines = r.lock.locked { r.lines }
        #expect(lines.contains("real server 192.168.10.3:8080 of TCP 10.0.1.100:80 DOWN (weight 0, inhibit_on_failure): MISC_CHECK: 'exit 1' exited with status 1"))
        #expect(lines.contains("real server 192.168.10.4:8080 of TCP 10.0.1.100:80 weight 4 -> 3: MISC_CHECK succeeded (dynamic weight 3)"))
    }

    @Test func reloadKeepsStateAndStopsTheOldThreads() {
        let r = Recorder()
        let m = HealthMonitor(Self.config(["exit 1"])) { _, _ in }
        defer { m.stop() }
        m.start { c in
            r.lock.locked { r.applied.append(c) }
            return .success([])
        }
        #expect(Self.waitUntil(5) { r.weights() == [] })
        // Same checker: still down right after the reload (no bounce through "up").
        var installed: LVSDConfiguration?
        _ = m.reload(Self.config(["exit 1"])) { c in
            installed = c
            return .success([])
        }
        #expect(installed?.services[0].destinations.isEmpty == true)
        // A changed checker starts afresh and its result is applied.
        _ = m.reload(Self.config(["exit 0"])) { _ in .success([]) }
        #expect(Self.waitUntil(5) { m.snapshot.isAlive(ServerID(HealthBookTests.key, HealthBookTests.rs(1), 8080)) })
        // A refused install keeps the old book.
        struct Refused: Error {}
        _ = m.reload(Self.config(["exit 7"])) { _ in .failure(Refused()) }
        #expect(m.snapshot.config.health[0].servers[0].checks[0].kind == .misc(command: "exit 0", timeout: 2, dynamic: true))
    }
}
