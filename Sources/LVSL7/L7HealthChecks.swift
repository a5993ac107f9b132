#if canImport(Glibc)
import Glibc
#endif
import LVSControl
import LVSHealth
import NIOConcurrencyHelpers

/// Active health of the pools: one checker per server of every pool with a `health_check`.
///
/// Each checker runs on a thread of its own (a probe blocks for up to its timeout, so probes
/// never run on an event loop, and one slow server never delays another's detection). The probe
/// is LVSHealth's `Probe.run` and the timing LVSHealth's `CheckerMachine` (keepalived's
/// delay_loop, retry, delay_before_retry), so a check behaves exactly like the director's. Every
/// result goes to the pool (`L7Pool.checked`): a server whose checker is down is not picked until
/// a check passes again. Transitions are logged with the checker's reason.
final class L7HealthChecks: @unchecked Sendable {
    let pools: [L7Pool]
    let log: @Sendable (String) -> Void
    let lock = NIOLock()
    var running = false

    init(pools: [L7Pool], log: @escaping @Sendable (String) -> Void) {
        self.pools = pools
        self.log = log
    }

    /// Starts one thread per checked server.
    func start() {
        lock.withLock { running = true }
        for pool in pools {
            guard let spec = pool.configuration.healthCheck else { continue }
            for i in pool.servers.indices {
                HealthThread.detach { [self] in loop(pool, i, spec) }
            }
        }
    }

    /// Ends the threads (each after its current probe, which is bounded by the timeout).
    func stop() { lock.withLock { running = false } }

    var isRunning: Bool { lock.withLock { running } }

    func loop(_ pool: L7Pool, _ server: Int, _ spec: HealthCheckSpec) {
        let s = pool.servers[server]
        var machine = CheckerMachine(spec: spec, alpha: false, now: HealthMonitor.monotonicSeconds())
        while isRunning {
            let wait = machine.nextDue - HealthMonitor.monotonicSeconds()
            if wait > 0 {
                // Sleep in slices so `stop` ends the thread promptly.
                usleep(useconds_t(min(wait, 0.1) * 1_000_000))
                continue
            }
            let outcome = Probe.run(spec, address: s.address, port: s.port)
            guard isRunning else { return }
            let changed = machine.record(outcome, now: HealthMonitor.monotonicSeconds())
            pool.checked(server, up: machine.isUp, reason: machine.reason)
            if changed {
                log("l7: pool \(pool.configuration.name) server \(s.endpoint) is \(machine.isUp ? "up" : "down"): \(machine.reason)")
            }
        }
    }
}
