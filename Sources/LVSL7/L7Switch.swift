#if canImport(Glibc)
import Glibc
#endif
import LVSPacket
import NIOCore
import NIOHTTP1
import NIOPosix

/// The layer-7 switch: listeners on one event loop per core (each loop a dispatcher for its
/// client connections and their upstream connections, the thesis's one-dispatcher-per-thread
/// front-end), the pools, and the router. Start with `start()`, stop with `stop()`.
public final class L7Switch: @unchecked Sendable {
    public let configuration: L7Configuration
    public let pools: [L7Pool]
    let router: L7Router
    let group: MultiThreadedEventLoopGroup
    let caches: [ObjectIdentifier: UpstreamCache]
    var channels: [Channel] = []
    let connectTimeout: TimeAmount
    /// The active checkers of pools with a `health_check` (threads of their own).
    let checks: L7HealthChecks

    /// `log` receives health transitions (lvsd: its logger); the default writes them to stderr.
    public init(_ configuration: L7Configuration, log: @escaping @Sendable (String) -> Void = L7Switch.logToStandardError) {
        self.configuration = configuration
        pools = configuration.pools.map(L7Pool.init)
        checks = L7HealthChecks(pools: pools, log: log)
        router = L7Router(rules: configuration.rules, defaultPool: configuration.defaultPool)
        let threads = configuration.threads > 0 ? configuration.threads : System.coreCount
        group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        connectTimeout = .milliseconds(configuration.limits.connectTimeoutMilliseconds)
        var caches: [ObjectIdentifier: UpstreamCache] = [:]
        for loop in group.makeIterator() {
            caches[ObjectIdentifier(loop)] = UpstreamCache(eventLoop: loop, connectTimeout: connectTimeout)
        }
        self.caches = caches
    }

    /// Monotonic milliseconds (health time-outs, lblc entry ages).
    static func now() -> UInt64 { NIODeadline.now().uptimeNanoseconds / 1_000_000 }

    /// One line on stderr with write(2) (no global FILE access under strict concurrency).
    public static func logToStandardError(_ line: String) {
        var text = line + "\n"
        text.withUTF8 { b in _ = write(2, b.baseAddress, b.count) }
    }

    /// Binds every listener and starts the health checkers; returns the bound addresses (port 0 binds an ephemeral port).
    @discardableResult
    public func start() throws -> [SocketAddress] {
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    let cache = caches[ObjectIdentifier(channel.eventLoop)]!
                    let handler = ClientHandler(sw: self, cache: cache)
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(handler)
                }
            }
        var bound: [SocketAddress] = []
        for l in configuration.listeners {
            let ch = try bootstrap.bind(host: "\(l.address)", port: Int(l.port)).wait()
            channels.append(ch)
            if let a = ch.localAddress { bound.append(a) }
        }
        checks.start()
        return bound
    }

    /// Closes the listeners and the event loops (client connections end with them).
    public func stop() {
        checks.stop()
        for ch in channels { try? ch.close().wait() }
        channels = []
        try? group.syncShutdownGracefully()
    }

    /// Counters of every pool's servers.
    public func stats() -> [(pool: String, servers: [L7ServerStats])] {
        let now = Self.now()
        return pools.map { ($0.configuration.name, $0.snapshot(now: now)) }
    }
}
