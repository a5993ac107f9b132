#if canImport(Glibc)
import Glibc
#endif
import LVSControl
import LVSEngine

/// Runs the checkers of a configuration and keeps the engine in line with their results.
///
/// Threads: one per checker (a probe blocks for at most its connect_timeout or misc_timeout, so
/// one slow server never delays another's detection); all state lives in one `HealthBook` under
/// one lock. A result that changes anything calls `apply` with the book's effective
/// configuration while still holding the lock, so engine updates happen in result order. A
/// reload bumps the generation: the old threads finish their current probe, see it and exit.
public final class HealthMonitor: @unchecked Sendable {
    /// Brings the engine to a configuration (lvsd: `ConfigApplier.apply` through the data plane).
    public typealias Apply = @Sendable (LVSDConfiguration) -> Result<[String], any Error>

    let lock = Mutex()
    var book: HealthBook
    var generation = 0
    var apply: Apply?
    let log: @Sendable (String, _ warning: Bool) -> Void
    let clock: @Sendable () -> Double

    public init(_ config: LVSDConfiguration, log: @escaping @Sendable (String, Bool) -> Void,
                clock: @escaping @Sendable () -> Double = HealthMonitor.monotonicSeconds) {
        self.log = log
        self.clock = clock
        book = HealthBook(config, now: clock())
    }

    /// What the engine should run now (before `start`: alpha servers already down).
    public var effectiveConfiguration: LVSDConfiguration { lock.locked { book.effectiveConfiguration } }

    /// Starts the checker threads; `apply` receives every later effective configuration.
    public func start(apply: @escaping Apply) {
        lock.locked {
            self.apply = apply
            startThreads()
        }
    }

    /// SIGHUP: a new configuration, keeping the state of unchanged checkers. `install` applies
    /// the effective configuration; only when it succeeds does the monitor switch over.
    public func reload(_ fresh: LVSDConfiguration, install: (LVSDConfiguration) -> Result<[String], any Error>)
        -> Result<[String], any Error>
    {
        lock.locked {
            let next = book.reconfigured(fresh, now: clock())
            let result = install(next.effectiveConfiguration)
            if case .success = result {
                book = next
                if apply != nil { startThreads() }
            }
            return result
        }
    }

    /// CLOCK_MONOTONIC in seconds (the default clock).
    public static func monotonicSeconds() -> Double { ProbeSocket.now() }

    public func stop() { lock.locked { generation += 1 } }

    /// Called with the lock held.
    func startThreads() {
        generation += 1
        let gen = generation
        for id in book.checkers.keys { HealthThread.detach { [self] in loop(id, gen) } }
    }

    func loop(_ id: CheckerID, _ gen: Int) {
        while true {
            guard let (spec, due) = lock.locked({ () -> (HealthCheckSpec, Double)? in
                guard generation == gen, let m = book.checkers[id] else { return nil }
                return (m.spec, m.nextDue)
            }) else { return }
            let wait = due - clock()
            if wait > 0 {
                // Sleep in slices so a reload or stop ends the thread promptly.
                usleep(useconds_t(min(wait, 0.2) * 1_000_000))
                continue
            }
            let outcome = Probe.run(spec, address: id.server.address, port: id.server.port)
            let stillCurrent = lock.locked { () -> Bool in
                guard generation == gen else { return false }
                let events = book.record(id, outcome, now: clock())
                if events.isEmpty { return true }
                for e in events { report(e) }
                if let apply {
                    if case .failure(let error) = apply(book.effectiveConfiguration) {
                        log("health: cannot apply the change to the engine: \(error)", true)
                    }
                }
                return true
            }
            if !stillCurrent { return }
        }
    }

    /// Logs an event and runs its command (notify_up/down, quorum_up/down). Lock held.
    func report(_ e: HealthEvent) {
        log(e.description, { if case .serverDown = e { return true }; if case .quorumLost = e { return true }; return false }())
        var command: String?
        switch e {
        case .serverUp(let id, _):
            command = book.config.health.first { $0.key == id.service }?.server(id.address, id.port)?.notifyUp
        case .serverDown(let id, _, _):
            command = book.config.health.first { $0.key == id.service }?.server(id.address, id.port)?.notifyDown
        case .quorumLost(let key, _, _, _):
            command = book.config.health.first { $0.key == key }?.quorumDown
        case .quorumGained(let key, _, _):
            command = book.config.health.first { $0.key == key }?.quorumUp
        case .weightChanged:
            break
        }
        if let command { MiscCheck.fire(command) }
    }

    /// A snapshot of the book (listings, metrics, tests).
    public var snapshot: HealthBook { lock.locked { book } }
}

/// A pthread mutex (no Foundation).
final class Mutex: @unchecked Sendable {
    private var m = pthread_mutex_t()
    init() { pthread_mutex_init(&m, nil) }
    deinit { pthread_mutex_destroy(&m) }
    func locked<R>(_ body: () throws -> R) rethrows -> R {
        pthread_mutex_lock(&m)
        defer { pthread_mutex_unlock(&m) }
        return try body()
    }
}
