#if canImport(Glibc)
import Glibc
#endif

/// MISC_CHECK and the notify/quorum commands: `/bin/sh -c COMMAND` via posix_spawn, in its own
/// process group so a timeout kills the whole pipeline.
public enum MiscCheck {
    /// Runs `command`; exit 0 → up, 1 → down; with `dynamic`, 2...255 → up with weight status - 2
    /// (keepalived's misc_dynamic); without it any non-zero status is down. Killed (SIGKILL to its
    /// process group) after `timeout` seconds, which is a failure.
    public static func run(_ command: String, timeout: Double, dynamic: Bool) -> ProbeOutcome {
        guard let pid = spawn(command) else { return .down(reason: "cannot start '\(command)': \(ProbeSocket.errorText)") }
        let deadline = ProbeSocket.now() + timeout
        var status: Int32 = 0
        while true {
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid { break }
            if r < 0 && errno != EINTR { return .down(reason: "waitpid: \(ProbeSocket.errorText)") }
            if ProbeSocket.now() >= deadline {
                kill(-pid, SIGKILL)
                kill(pid, SIGKILL)
                _ = waitpid(pid, &status, 0)
                return .down(reason: "'\(command)' timed out after \(timeout) s (killed)")
            }
            usleep(10_000)
        }
        // WIFEXITED / WEXITSTATUS (macros Swift does not import).
        guard status & 0x7f == 0 else { return .down(reason: "'\(command)' killed by signal \(status & 0x7f)") }
        let code = Int((status >> 8) & 0xff)
        switch code {
        case 0: return .up()
        case 2...255 where dynamic: return .up(weight: code - 2)
        default: return .down(reason: "'\(command)' exited with status \(code)")
        }
    }

    /// Runs a notify/quorum command without waiting for it (reaped by a detached thread).
    public static func fire(_ command: String) {
        guard let pid = spawn(command) else { return }
        HealthThread.detach {
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        }
    }

    static func spawn(_ command: String) -> pid_t? {
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        posix_spawnattr_setpgroup(&attr, 0)
        // lvsd blocks SIGHUP/SIGTERM/SIGINT in every thread; the child must not inherit that.
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attr, &none)
        var dflt = sigset_t()
        sigemptyset(&dflt)
        sigaddset(&dflt, SIGPIPE)
        posix_spawnattr_setsigdefault(&attr, &dflt)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var pid: pid_t = 0
        let argv: [String] = ["/bin/sh", "-c", command]
        var cargs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { for p in cargs { free(p) } }
        let rc = posix_spawn(&pid, "/bin/sh", nil, &attr, &cargs, environ)
        if rc != 0 {
            errno = rc
            return nil
        }
        return pid
    }
}

/// A detached pthread running a closure: a checker's thread (probes block, so they never run on an event loop).
public enum HealthThread {
    public static func detach(_ body: @escaping @Sendable () -> Void) {
        final class Box { let body: @Sendable () -> Void; init(_ b: @escaping @Sendable () -> Void) { body = b } }
        var t = pthread_t()
        let box = Unmanaged.passRetained(Box(body)).toOpaque()
        pthread_create(&t, nil, { arg in
            Unmanaged<Box>.fromOpaque(arg!).takeRetainedValue().body()
            return nil
        }, box)
        pthread_detach(t)
    }
}
