#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import LVSControl
import LVSDataPlane
import LVSHealth
import LVSEngine
import LVSL7
import LVSPacket
import Logging

/// lvsd: loads the configuration, starts the data plane, serves the control socket and the
/// metrics endpoint, reloads on SIGHUP and stops cleanly on SIGTERM/SIGINT.
public final class Daemon: @unchecked Sendable {
    public static let defaultConfigPath = "/etc/lvsd/lvsd.yaml"

    let configPath: String
    var config: LVSDConfiguration
    let logger: Logger
    let director: Director
    var dataPlane: DataPlane!
    /// The layer-7 switch, when the file has an `l7` section (docs/L7.md).
    var l7Config: L7Configuration?
    var l7: L7Switch?
    /// Serializes director access when there is no data-plane thread (an l7-only lvsd).
    let directorLock = DispatchSemaphore(value: 1)
    var controlFD: Int32 = -1
    var metrics: MetricsHTTPServer?
    let admin = IPVSAdmin()
    /// Ticked by the main thread, read by admin commands (--rate): guarded by `ratesLock`.
    let ratesLock = DispatchSemaphore(value: 1)
    let rates = RateEstimator()
    var kernelFilter: KernelCopyFilter?
    var kernelFilterWarned = false
    /// Health checking (docs/HEALTH.md); the engine runs its effective configuration.
    var health: HealthMonitor!

    init(configPath: String, config: LVSDConfiguration, logger: Logger) {
        self.configPath = configPath
        self.config = config
        self.logger = logger
        var dc = config.directorConfiguration()
        dc.memoryAdvisor = { p, n in _ = madvise(p, n, MADV_HUGEPAGE) }
        director = Director(dc, now: Timestamp(milliseconds: monotonicMilliseconds()))
    }

    /// `lvsd [-f FILE] [--check] [--version]`; returns the process exit status.
    public static func main(_ arguments: [String]) -> Int32 {
        var path = defaultConfigPath
        var checkOnly = false
        var i = 0
        while i < arguments.count {
            switch arguments[i] {
            case "-f", "--config":
                guard i + 1 < arguments.count else {
                    printError("lvsd: \(arguments[i]) needs a file")
                    return 2
                }
                path = arguments[i + 1]
                i += 1
            case "--check": checkOnly = true
            case "--version":
                print("lvsd (SwiftLVS), ipvsadm-compatible control, IPVS \(IPVSListing.version)")
                return 0
            case "-h", "--help":
                print("usage: lvsd [-f CONFIG] [--check]\n  default CONFIG: \(defaultConfigPath); lvsd YAML (docs/CONFIGURATION.md) or keepalived.conf (docs/HEALTH.md)")
                return 0
            default:
                printError("lvsd: unknown argument \(arguments[i]) (try --help)")
                return 2
            }
            i += 1
        }
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        var logger = Logger(label: "lvsd")
        logger.logLevel = getenv("LVSD_DEBUG") != nil ? .debug : .info

        let config: LVSDConfiguration
        let l7Config: L7Configuration?
        do {
            let loaded = try LVSDConfiguration.loadAny(path: path)
            for w in loaded.warnings { printError("lvsd: \(w)") }
            config = loaded.configuration
            // The `l7` section lives in the YAML format only (keepalived.conf has no place for it).
            l7Config = LVSDConfiguration.isKeepalivedFormat(path: path, text: try LVSDConfiguration.readFile(path))
                ? nil : try L7ConfigParser.load(path: path)
        } catch {
            printError("lvsd: \(error)")
            return 1
        }
        if checkOnly {
            let checks = config.health.reduce(0) { $0 + $1.servers.reduce(0) { $0 + $1.checks.count } }
            let l7 = l7Config.map { c in
                let checked = c.pools.reduce(0) { $0 + ($1.healthCheck == nil ? 0 : $1.servers.count) }
                return ", l7: \(c.pools.count) pools, \(c.rules.count) rules, \(checked) health checkers"
            } ?? ""
            print("\(path): configuration OK (\(config.services.count) services, \(checks) health checkers\(l7))")
            if config.interfaces.isEmpty && l7Config == nil {
                printError("lvsd: note: no data-plane interfaces (lvsd_interfaces in global_defs): lvsd cannot start with this file")
            }
            return 0
        }
        let d = Daemon(configPath: path, config: config, logger: logger)
        d.l7Config = l7Config
        do {
            try d.start()
        } catch {
            logger.critical("cannot start: \(error)")
            d.shutdown()
            return 1
        }
        return d.waitForSignals()
    }

    struct StartError: Error, CustomStringConvertible {
        var description: String
    }

    func preflight() throws {
        if let forward = readFile("/proc/sys/net/ipv4/ip_forward"), forward.hasPrefix("1") {
            throw StartError(description:
                "net.ipv4.ip_forward=1 in this network namespace: the kernel would forward real servers' replies untranslated beside the data plane; set it to 0 (sysctl -w net.ipv4.ip_forward=0)")
        }
        if config.services.contains(where: { !$0.key.address.isIPv4 || $0.spec.virtualAddresses.contains { !$0.isIPv4 } }),
            let forward = readFile("/proc/sys/net/ipv6/conf/all/forwarding"), forward.hasPrefix("1")
        {
            throw StartError(description:
                "net.ipv6.conf.all.forwarding=1 in this network namespace: the kernel would forward real servers' replies untranslated beside the data plane; set it to 0")
        }
        let vips = Set(config.services.flatMap(\.spec.virtualAddresses))
        for ifc in config.interfaces {
            if let info = try? NetInterface.query(ifc) {
                for a in info.addresses where vips.contains(a.address) {
                    throw StartError(description:
                        "VIP \(a.address) is configured on kernel interface \(ifc); the data plane owns VIPs and answers ARP for them itself: remove it (ip addr del \(a.address)/\(a.prefixLength) dev \(ifc))")
                }
            }
        }
    }

    func start() throws {
        guard !config.interfaces.isEmpty || l7Config != nil else {
            throw StartError(description: "no data-plane interfaces configured (YAML 'interfaces', keepalived.conf global_defs 'lvsd_interfaces')")
        }
        // Without interfaces (an l7-only file) there is no data plane, so nothing needs root.
        if !config.interfaces.isEmpty { try preflight() }
        let log = logger
        health = HealthMonitor(config) { line, warning in
            if warning { log.warning("health: \(line)") } else { log.info("health: \(line)") }
        }
        let changes = try ConfigApplier.apply(health.effectiveConfiguration, to: director)
        for c in changes { logger.info("config: \(c)") }
        if !config.interfaces.isEmpty {
            dataPlane = try DataPlane(interfaces: config.interfaces, gateway: config.gateway, director: director)
            dataPlane.start()
            if config.realtimePriority > 0 {
                let e = dataPlane.setRealtimePriority(Int32(config.realtimePriority))
                if e != 0 {
                    dataPlane.stop()
                    throw StartError(description: "realtime_priority \(config.realtimePriority): setting SCHED_RR on the data-plane thread: "
                        + String(cString: strerror(e)) + (e == EPERM ? " (needs CAP_SYS_NICE)" : ""))
                }
                logger.info("data-plane thread at SCHED_RR priority \(config.realtimePriority)")
            }
            if getenv("LVSD_NO_KERNEL_FILTER") == nil { kernelFilter = KernelCopyFilter(interfaces: config.interfaces) }
            refreshAddresses()
            logger.info("data plane running on \(config.interfaces.joined(separator: ", ")); \(config.services.count) services")
        }
        if let c = l7Config {
            let sw = L7Switch(c) { [logger] line in logger.warning("\(line)") }
            do {
                try sw.start()
            } catch {
                sw.stop()
                throw StartError(description: "l7 listener: \(error)")
            }
            l7 = sw
            logger.info("l7 switch listening on \(c.listeners.map { L7Server(address: $0.address, port: $0.port).endpoint }.joined(separator: ", ")); \(c.pools.count) pools, \(c.rules.count) rules")
        }
        do {
            controlFD = try UnixSocket.listen(config.controlSocket)
        } catch {
            throw StartError(description: "control socket: \(error)")
        }
        let fd = controlFD
        Thread.detach { [self] in serveControl(fd) }
        logger.info("control socket \(config.controlSocket) (mode 0600)")
        health.start { [self] effective in
            let r: Result<[String], any Error> = perform { d in Result { try ConfigApplier.apply(effective, to: d) } }
            if case .success(let changes) = r {
                for c in changes { logger.info("health: \(c)") }
                refreshAddresses()
            }
            return r
        }
        if let m = config.metricsListen {
            let server = MetricsHTTPServer(listen: m) { [self] in renderMetrics() }
            try server.start()
            metrics = server
            logger.info("metrics on http://\(m)/metrics")
        }
    }

    /// Runs `body` on the director: on the data-plane thread, or under a lock without one.
    func perform<T>(_ body: @escaping (Director) -> T) -> T {
        if let dp = dataPlane { return dp.perform(body) }
        directorLock.wait()
        defer { directorLock.signal() }
        return body(director)
    }

    /// `lvsadm -L --l7` (also --list): the L7 switch's section, else nil (an ordinary command).
    func l7Listing(_ args: [String]) -> AdminResponse? {
        guard args.contains("--l7") else { return nil }
        guard args.allSatisfy({ ["--l7", "-L", "-l", "--list", "-n", "--numeric"].contains($0) }),
              args.contains(where: { ["-L", "-l", "--list"].contains($0) })
        else {
            return AdminResponse(status: 2, stdout: "", stderr: "lvsadm: --l7 goes with -L (lvsadm -L --l7)\n")
        }
        guard let sw = l7 else {
            return AdminResponse(status: 1, stdout: "", stderr: "lvsadm: lvsd runs no l7 switch (no 'l7' section in its configuration)\n")
        }
        return AdminResponse(status: 0, stdout: L7Listing.render(sw.configuration, stats: sw.stats()), stderr: "")
    }

    /// After any change of services or servers: the VIPs to answer ARP for, the neighbours to
    /// resolve ahead of the first packet, and the kernel-copy filter.
    func refreshAddresses() {
        guard dataPlane != nil else { return }
        let services = dataPlane.perform { $0.services() }
        // FULLNAT local addresses are the data plane's like VIPs: ARP/NDP answers, no kernel copy.
        let vips = Array(Set(services.flatMap(\.virtualAddresses) + services.flatMap(\.localAddresses)))
        let rips = services.flatMap { $0.destinations.map(\.address) }
        dataPlane.setVIPs(vips)
        var targets = rips
        if let g = config.gateway { targets.append(g) }
        dataPlane.resolve(targets)
        if let f = kernelFilter {
            let local = dataPlane.interfaces.flatMap { $0.addresses.map(\.address) }
            if let why = f.install(vips: vips, realServers: rips, local: local), !kernelFilterWarned {
                logger.warning("running without the kernel-copy filter (\(why)): correct, but the kernel spends time on frames it will drop")
                kernelFilterWarned = true
            }
        }
    }

    func renderMetrics() -> String {
        ratesLock.wait()
        defer { ratesLock.signal() }
        let r = rates
        let l4 = perform { d in
            Metrics.render(services: d.services(), counters: d.counters, connectionCount: d.connectionCount,
                           capacity: d.configuration.connectionCapacity, rates: r)
        }
        return l4 + (dataPlane.map { DataPlaneMetrics.render($0.counters()) } ?? "") + HealthReport.metrics(health.snapshot)
    }

    /// True for lvsadm commands that change services or servers (VIPs and neighbours to refresh).
    static func changesState(_ args: [String]) -> Bool {
        let changing: Set<String> = [
            "-A", "-E", "-D", "-C", "-a", "-e", "-d", "-R", "--add-service", "--edit-service", "--delete-service",
            "--clear", "--add-server", "--edit-server", "--delete-server", "--restore",
        ]
        return args.contains { changing.contains($0) }
    }

    func serveControl(_ listenFD: Int32) {
        while true {
            let fd = accept(listenFD, nil, nil)
            if fd < 0 {
                if errno == EINTR { continue }
                return  // closed at shutdown
            }
            UnixSocket.setTimeout(fd, seconds: 5)
            if let bytes = UnixSocket.readMessage(fd, limit: 16 << 20, frameLength: AdminRequest.frameLength) {
                var response: AdminResponse
                if var request = try? AdminRequest.decode(bytes) {
                    // `--health` (lvsd's extension): the listing plus a health column.
                    let withHealth = request.arguments.contains("--health")
                    request.arguments.removeAll { $0 == "--health" }
                    ratesLock.wait()
                    let r = rates
                    response = l7Listing(request.arguments) ?? perform { [admin] d in
                        admin.run(request, director: d, now: Timestamp(milliseconds: monotonicMilliseconds()), rates: r)
                    }
                    ratesLock.signal()
                    if withHealth && response.status == 0 {
                        response.stdout = HealthReport.annotate(response.stdout, health.snapshot)
                    }
                    if response.status == 0 && Daemon.changesState(request.arguments) {
                        logger.info("lvsadm \(request.arguments.joined(separator: " "))")
                        refreshAddresses()
                    }
                } else {
                    response = AdminResponse(status: 2, stdout: "", stderr: "lvsd: malformed request\n")
                }
                _ = UnixSocket.writeAll(fd, response.encode())
            }
            close(fd)
        }
    }

    /// SIGHUP: reload; a bad file leaves the running configuration untouched.
    func reload() {
        let fresh: LVSDConfiguration
        do {
            let loaded = try LVSDConfiguration.loadAny(path: configPath)
            for w in loaded.warnings { logger.warning("\(w)") }
            fresh = loaded.configuration
        } catch {
            logger.error("reload refused, keeping the running configuration: \(error)")
            return
        }
        if fresh.interfaces != config.interfaces || fresh.connectionCapacity != config.connectionCapacity
            || fresh.controlSocket != config.controlSocket || fresh.gateway != config.gateway
            || fresh.metricsListen != config.metricsListen || fresh.realtimePriority != config.realtimePriority
        {
            logger.warning("interfaces, gateway, capacity, realtime priority, control socket and metrics address apply at restart only")
        }
        if l7 != nil { logger.warning("the l7 section applies at restart only") }
        let result = health.reload(fresh) { effective in
            perform { d in Result { try ConfigApplier.apply(effective, to: d) } }
        }
        switch result {
        case .success(let changes):
            config.services = fresh.services
            config.health = fresh.health
            config.timeouts = fresh.timeouts
            refreshAddresses()
            logger.info("reloaded \(configPath): \(changes.isEmpty ? "no change" : changes.joined(separator: "; "))")
        case .failure(let error):
            logger.error("reload refused, keeping the running configuration: \(error)")
        }
    }

    func waitForSignals() -> Int32 {
        var set = sigset_t()
        sigemptyset(&set)
        for s in [SIGHUP, SIGTERM, SIGINT] { sigaddset(&set, s) }
        var ts = timespec(tv_sec: 2, tv_nsec: 0)
        while true {
            let sig = sigtimedwait(&set, nil, &ts)
            if sig == SIGHUP {
                logger.info("SIGHUP: reloading \(configPath)")
                reload()
            } else if sig == SIGTERM || sig == SIGINT {
                logger.info("signal \(sig): stopping")
                shutdown()
                return 0
            } else {
                // Every 2 s: the rate estimator's tick (IPVS's estimation period).
                let snapshot = perform { $0.services() }
                ratesLock.wait()
                rates.tick(services: snapshot, now: Timestamp(milliseconds: monotonicMilliseconds()))
                ratesLock.signal()
            }
        }
    }

    func shutdown() {
        health?.stop()
        metrics?.stop()
        l7?.stop()
        if controlFD >= 0 {
            Glibc.shutdown(controlFD, Int32(SHUT_RDWR))
            close(controlFD)
            unlink(config.controlSocket)
            controlFD = -1
        }
        dataPlane?.stop()
        kernelFilter?.remove()
    }

    /// Blocks the signals lvsd handles in every thread, before any thread starts.
    public static func blockSignals() {
        var set = sigset_t()
        sigemptyset(&set)
        for s in [SIGHUP, SIGTERM, SIGINT] { sigaddset(&set, s) }
        pthread_sigmask(SIG_BLOCK, &set, nil)
        signal(SIGPIPE, SIG_IGN)
    }
}

/// Writes a line to standard error (no shared FILE* state: Swift 6 checks concurrency).
func printError(_ line: String) {
    let s = line + "\n"
    _ = s.withCString { write(2, $0, strlen($0)) }
}

func writeOut(_ fd: Int32, _ text: String) {
    _ = text.withCString { write(fd, $0, strlen($0)) }
}

func readFile(_ path: String) -> String? {
    guard let f = fopen(path, "r") else { return nil }
    defer { fclose(f) }
    var buf = [CChar](repeating: 0, count: 4096)
    guard fgets(&buf, Int32(buf.count), f) != nil else { return nil }
    return String(cString: buf)
}

/// A detached pthread running a closure.
enum Thread {
    static func detach(_ body: @escaping @Sendable () -> Void) {
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

/// Data-plane counters in the same exposition format as `Metrics`.
enum DataPlaneMetrics {
    static func render(_ c: DataPlaneCounters) -> String {
        let rows: [(String, UInt64)] = [
            ("received", c.received), ("forwarded", c.forwarded), ("replies", c.replies), ("dropped", c.dropped),
            ("sent", c.sent), ("send_errors", c.sendErrors), ("truncated", c.truncated), ("no_route", c.noRoute),
            ("neighbor_misses", c.neighborMisses), ("neighbor_drops", c.neighborDrops),
            ("neighbor_timeouts", c.neighborTimeouts), ("arp_replies", c.arpReplies), ("arp_requests", c.arpRequests),
            ("tunnel_segmented", c.tunnelSegmented), ("tunnel_segment_drops", c.tunnelSegmentDrops),
        ]
        var out = "# HELP lvs_dataplane_frames_total Frames seen by the data plane, by what became of them.\n"
        out += "# TYPE lvs_dataplane_frames_total counter\n"
        for (k, v) in rows { out += "lvs_dataplane_frames_total{event=\"\(k)\"} \(v)\n" }
        return out
    }
}
