import LVSPacket
import NIOCore
import NIOHTTP1
import NIOPosix

/// Keep-alive connections to real servers, owned by one event loop (no locking: every client
/// connection on that loop uses this cache, and nothing else touches it). Per (pool, server):
/// a stack of idle connections, most recently used first.
final class UpstreamCache {
    let eventLoop: EventLoop
    let connectTimeout: TimeAmount
    var idle: [Int: [UpstreamHandler]] = [:]

    init(eventLoop: EventLoop, connectTimeout: TimeAmount) {
        self.eventLoop = eventLoop
        self.connectTimeout = connectTimeout
    }

    static func key(pool: Int, server: Int) -> Int { pool << 20 | server }

    /// An idle connection to the server, if one is open.
    func takeIdle(pool: Int, server: Int) -> UpstreamHandler? {
        let k = Self.key(pool: pool, server: server)
        while let h = idle[k]?.popLast() {  // in place: no copy of the stack
            h.cache = nil
            if h.channel.isActive { return h }
        }
        return nil
    }

    /// A new connection to the server (its `UpstreamHandler` is in its pipeline).
    func connect(pool: Int, server: Int, address: IPAddress, port: UInt16) -> EventLoopFuture<Channel> {
        let k = Self.key(pool: pool, server: server)
        let socket: SocketAddress
        do {
            socket = try SocketAddress(ipAddress: "\(address)", port: Int(port))
        } catch {
            return eventLoop.makeFailedFuture(error)
        }
        return ClientBootstrap(group: eventLoop)
            .connectTimeout(connectTimeout)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    // Requests go out as the bytes the client connection prepared; responses come
                    // in as bytes, parsed by the handler's own `ResponseParser`.
                    try channel.pipeline.syncOperations.addHandler(UpstreamHandler(cacheKey: k))
                }
            }
            .connect(to: socket)
    }

    /// Back to the idle stack after a complete exchange; closed when the stack is full.
    func release(_ h: UpstreamHandler, maxIdle: Int) {
        h.client = nil
        guard h.channel.isActive else { return }
        if idle[h.cacheKey]?.count ?? 0 >= maxIdle {
            h.channel.close(promise: nil)
            return
        }
        h.cache = self
        idle[h.cacheKey, default: []].append(h)
    }

    /// An idle connection closed by its server.
    func remove(_ h: UpstreamHandler) {
        guard var stack = idle[h.cacheKey], let i = stack.firstIndex(where: { $0 === h }) else { return }
        stack.remove(at: i)
        idle[h.cacheKey] = stack
    }

    func closeAll() {
        for (_, stack) in idle { for h in stack { h.channel.close(promise: nil) } }
        idle = [:]
    }
}

/// What an upstream connection reports to the client connection it currently serves.
protocol UpstreamDelegate: AnyObject {
    func upstreamResponse(_ part: ResponseEvent)
    func upstreamReadComplete()
    func upstreamWritable()
    /// The connection failed or closed before the exchange completed.
    func upstreamFailed(_ error: Error?)
}

/// The last handler of an upstream connection: parses responses from the bytes read (no NIO
/// decoder, no String headers) and hands them to its client, lets the client pause reading
/// (back-pressure), and leaves the idle cache when its server closes it.
final class UpstreamHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let cacheKey: Int
    var client: UpstreamDelegate?
    weak var cache: UpstreamCache?
    var context: ChannelHandlerContext!
    var channel: Channel { context.channel }
    var readsHeld = false
    var readPending = false
    var parser = ResponseParser()
    /// Bytes of an unfinished response head (or chunk line) kept for the next read.
    var pending: ByteBuffer?

    init(cacheKey: Int) { self.cacheKey = cacheKey }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    /// Before each request: what the parser must know about it and the client.
    func prepare(isHead: Bool, clientMinor: Int, clientKeepAlive: Bool, setCookie: [UInt8]) {
        parser.noBody = isHead
        parser.clientMinor = clientMinor
        parser.clientKeepAlive = clientKeepAlive
        parser.setCookie = setCookie
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        if var p = pending {
            pending = nil
            p.writeImmutableBuffer(buffer)
            buffer = p
        }
        guard client != nil else {
            // Bytes from a server while idle: the connection is out of step; drop it.
            context.close(promise: nil)
            return
        }
        var ended = false
        do {
            while let event = try parser.next(&buffer) {
                client?.upstreamResponse(event)
                if case .end = event {
                    ended = true
                    break
                }
            }
        } catch {
            if let c = client {
                client = nil
                c.upstreamFailed(error)
            }
            context.close(promise: nil)
            return
        }
        if buffer.readableBytes > 0 {
            if ended || client == nil {
                // More than the response (nothing was asked for yet): out of step. The close
                // fails a request already sent on it, which is then retried when that is safe.
                context.close(promise: nil)
                return
            }
            pending = buffer
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) { client?.upstreamReadComplete() }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { client?.upstreamWritable() }
    }

    func channelInactive(context: ChannelHandlerContext) {
        cache?.remove(self)
        cache = nil
        if let c = client, let end = parser.closed() {
            c.upstreamResponse(end)  // a body delimited by the close
        }
        if let c = client {
            client = nil
            c.upstreamFailed(nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if let c = client {
            client = nil
            c.upstreamFailed(error)
        }
        context.close(promise: nil)
    }

    func read(context: ChannelHandlerContext) {
        if readsHeld { readPending = true } else { context.read() }
    }

    func holdReads() { readsHeld = true }

    func resumeReads() {
        guard readsHeld else { return }
        readsHeld = false
        if readPending {
            readPending = false
            context.read()
        }
    }

    /// Written since the last flush (a flush with nothing to send still costs a pass through
    /// NIO's channel).
    var unflushed = false

    func write(_ bytes: ByteBuffer) {
        unflushed = true
        context.write(wrapOutboundOut(bytes), promise: nil)
    }

    func flush() {
        guard unflushed else { return }
        unflushed = false
        context.flush()
    }
}
