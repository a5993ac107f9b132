#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import LVSControl
import LVSDataPlane
import LVSEngine
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
    var controlFD: Int32 = -1
    var metrics: MetricsHTTPServer?
    let admin = IPVSAdmin()
    /// Ticked by the main thread, read by admin commands (--rate): guarded by `ratesLock`.
    let ratesLock = DispatchSemaphore(value: 1)
    let rates = RateEstimator()
    var kernelFilter: KernelCopyFilter?
    var kernelFilterWarned = false

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
                print("usage: lvsd [-f CONFIG] [--check]\n  default CONFIG: \(defaultConfigPath); see docs/CONFIGURATION.md")
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
        do {
            config = try LVSDConfiguration.load(path: path)
        } catch {
            printError("lvsd: \(error)")
            return 1
        }
        if checkOnly {
            print("\(path): configuration OK (\(config.services.count) services)")
            return 0
        }
        let d = Daemon(configPath: path, config: config, logger: logger)
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
        if config.services.contains(where: { !$0.key.address.isIPv4 }),
            let forward = readFile("/proc/sys/net/ipv6/conf/all/forwarding"), forward.hasPrefix("1")
        {
            throw StartError(description:
                "net.ipv6.conf.all.forwarding=1 in this network namespace: the kernel would forward real servers' replies untranslated beside the data plane; set it to 0")
        }
        let vips = Set(config.services.map(\.key.address))
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
        try preflight()
        let changes = try ConfigApplier.apply(config, to: director)
        for c in changes { logger.info("config: \(c)") }
        dataPlane = try DataPlane(interfaces: config.interfaces, gateway: config.gateway, director: director)
        dataPlane.start()
        if getenv("LVSD_NO_KERNEL_FILTER") == nil { kernelFilter = KernelCopyFilter(interfaces: config.interfaces) }
        refreshAddresses()
        logger.info("data plane running on \(config.interfaces.joined(separator: ", ")); \(config.services.count) services")
        do {
            controlFD = try UnixSocket.listen(config.controlSocket)
        } catch {
            throw StartError(description: "control socket: \(error)")
        }
        let fd = controlFD
        Thread.detach { [self] in serveControl(fd) }
        logger.info("control socket \(config.controlSocket) (mode 0600)")
        if let m = config.metricsListen {
            let server = MetricsHTTPServer(listen: m) { [self] in renderMetrics() }
            try server.start()
            metrics = server
            logger.info("metrics on http://\(m)/metrics")
        }
    }

    /// After any change of services or servers: the VIPs to answer ARP for, the neighbours to
    /// resolve ahead of the first packet, and the kernel-copy filter.
    func refreshAddresses() {
        let services = dataPlane.perform { $0.services() }
        // FULLNAT local addresses are the data plane's like VIPs: ARP/NDP answers, no kernel copy.
        let vips = services.map(\.key.address) + services.flatMap(\.localAddresses)
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
        let dpStats = dataPlane.counters()
        return dataPlane.perform { d in
            Metrics.render(services: d.services(), counters: d.counters, connectionCount: d.connectionCount,
                           capacity: d.configuration.connectionCapacity)
        } + DataPlaneMetrics.render(dpStats)
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
                let response: AdminResponse
                if let request = try? AdminRequest.decode(bytes) {
                    ratesLock.wait()
                    let r = rates
                    response = dataPlane.perform { [admin] d in
                        admin.run(request, director: d, now: Timestamp(milliseconds: monotonicMilliseconds()), rates: r)
                    }
                    ratesLock.signal()
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
            fresh = try LVSDConfiguration.load(path: configPath)
        } catch {
            logger.error("reload refused, keeping the running configuration: \(error)")
            return
        }
        if fresh.interfaces != config.interfaces || fresh.connectionCapacity != config.connectionCapacity
            || fresh.controlSocket != config.controlSocket || fresh.gateway != config.gateway
            || fresh.metricsListen != config.metricsListen
        {
            logger.warning("interfaces, gateway, capacity, control socket and metrics address apply at restart only")
        }
        let result: Result<[String], Error> = dataPlane.perform { d in Result { try ConfigApplier.apply(fresh, to: d) } }
        switch result {
        case .success(let changes):
            config.services = fresh.services
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
                let snapshot = dataPlane.perform { $0.services() }
                ratesLock.wait()
                rates.tick(services: snapshot, now: Timestamp(milliseconds: monotonicMilliseconds()))
                ratesLock.signal()
            }
        }
    }

    func shutdown() {
        metrics?.stop()
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
        ]
        var out = "# HELP lvs_dataplane_frames_total Frames seen by the data plane, by what became of them.\n"
        out += "# TYPE lvs_dataplane_frames_total counter\n"
        for (k, v) in rows { out += "lvs_dataplane_frames_total{event=\"\(k)\"} \(v)\n" }
        return out
    }
}
