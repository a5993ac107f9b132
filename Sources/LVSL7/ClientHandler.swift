import LVSPacket
import NIOCore
import NIOHTTP1

/// One client connection: routes each request to a pool and a server, relays it over a
/// keep-alive upstream connection and the response back, streaming bodies both ways with
/// back-pressure. Pipelined requests queue here until the exchange before them is over (reads
/// pause only then, so plain keep-alive never re-arms epoll per request), so consecutive
/// requests may each go to a different server while responses leave in request order (the
/// thesis's multi-handoff, per request).
final class ClientHandler: ChannelDuplexHandler {
    /// Requests are bytes, parsed here by `RequestParser` (no NIO decoder): the head is forwarded
    /// as received with only the proxy's edits, bodies as slices of what was read.
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    /// Responses are bytes: relayed heads and bodies as the server sent them (hop-by-hop lines
    /// dropped), the switch's own answers written out here; there is no HTTP encoder.
    typealias OutboundOut = ByteBuffer

    let sw: L7Switch
    let cache: UpstreamCache
    var context: ChannelHandlerContext!
    var clientAddress = IPAddress.zero
    var parser: RequestParser
    /// Bytes read and not parsed yet: an unfinished head, or pipelined requests waiting for the
    /// exchange before them to end (responses leave in request order).
    var inbound = ByteBuffer()

    // Reads from the client are held while no upstream can take the request's bytes.
    var readsHeld = false
    var readPending = false
    var closing = false

    // The exchange in progress.
    var active = false
    /// Answered by the switch itself: the rest of the request is discarded.
    var answered = false
    var head = RequestHead.none
    var poolIndex = 0
    var server = -1
    var key: UInt64 = 0
    var cookieServer: Int?
    var upstream: UpstreamHandler?
    var connecting = false
    var buffered: [ByteBuffer] = []
    var requestEnded = false
    var hasBody = false
    var bodyBytes: Int64 = 0
    var sentToUpstream = false
    var responseStarted = false
    var clientKeepAlive = true
    var upstreamKeepAlive = true
    var expectContinue = false
    var attempts = 0
    /// When the response head is due (uptime ns), 0 when not waiting for one.
    var responseDeadline: UInt64 = 0
    /// The last read from the client (uptime ns), for the idle timeout.
    var lastRead: UInt64 = 0
    /// One timer per connection checks both deadlines (cheaper than a timer per request and an
    /// idle handler on every read and write).
    var ticker: Scheduled<Void>?
    var bytesIn = 0
    var bytesOut = 0
    /// The last response write, so a close waits for it.
    var lastWrite: EventLoopFuture<Void>?

    init(sw: L7Switch, cache: UpstreamCache) {
        self.sw = sw
        self.cache = cache
        parser = RequestParser(maxHeadBytes: sw.configuration.limits.maxHeaderBytes)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if let a = context.channel.remoteAddress, let ip = a.ipAddress, let parsed = IPAddress(ip) {
            clientAddress = parsed
            parser.clientText = Array(ip.utf8)
            parser.forwardedFor = Array(("for=" + (parsed.isIPv4 ? ip : "\"[" + ip + "]\"") + ";proto=http").utf8)
        }
    }

    // MARK: Requests

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        lastRead = NIODeadline.now().uptimeNanoseconds
        if inbound.readableBytes == 0 {
            inbound = bytes
        } else {
            inbound.writeImmutableBuffer(bytes)
        }
        drainQueue()
    }

    /// A pipelined request waits (unparsed, in `inbound`) until the exchange before it is over.
    var waiting: Bool { active && requestEnded && inbound.readableBytes > 0 }

    /// Parses and handles what was read, as far as the current exchange allows: a pipelined
    /// request (or a malformed one) is taken up only once the exchange before it is over.
    func drainQueue() {
        while !closing && !(active && requestEnded) {
            let event: RequestEvent?
            do {
                event = try parser.next(&inbound)
            } catch let e as HTTPParseError {
                parseError(e)
                return
            } catch {
                closeClient()
                return
            }
            guard let event else { break }
            handle(event)
        }
        if inbound.readableBytes == 0 { inbound = ByteBuffer() }  // let the read's storage go
        if !readsHeld, readPending, !waiting {
            readPending = false
            context.read()
        }
    }

    func handle(_ part: RequestEvent) {
        switch part {
        case .head(let h):
            guard !closing else { return }
            begin(h)
        case .body(let buf):
            guard active, !answered else { return }
            bodyBytes = parser.body.dataBytes
            bytesOut += buf.readableBytes
            if sw.configuration.limits.maxBodyBytes > 0 && bodyBytes > sw.configuration.limits.maxBodyBytes {
                if responseStarted { closeClient() } else { abortUpstream(failed: false); answer(.payloadTooLarge, close: true) }
                return
            }
            sendUpstream(buf)
        case .end:
            guard active else { return }
            requestEnded = true
            if answered {
                finishAnswered()
                return
            }
            if upstream != nil { upstream!.flush(); startResponseTimer() }
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        upstream?.flush()
        context.fireChannelReadComplete()
    }

    func begin(_ h: RequestHead) {
        active = true
        answered = false
        head = h
        requestEnded = false
        bodyBytes = 0
        sentToUpstream = false
        responseStarted = false
        attempts = 0
        bytesIn = 0
        bytesOut = 0
        buffered.removeAll(keepingCapacity: true)
        clientKeepAlive = h.keepAlive
        expectContinue = h.expectContinue
        hasBody = h.hasBody
        let limits = sw.configuration.limits

        if h.version.major != 1 { return answer(.httpVersionNotSupported, close: true) }
        if h.hosts > 1 || (h.version.minor >= 1 && h.hosts == 0) { return answer(.badRequest, close: true) }
        if limits.maxBodyBytes > 0 && h.contentLength > limits.maxBodyBytes { return answer(.payloadTooLarge, close: true) }

        let view = HeadFields(head: h)
        poolIndex = sw.router.route(view)
        let pool = sw.pools[poolIndex]
        key = pool.usesKey ? L7HashKey.hash(pool.configuration.hashKey, view, client: clientAddress) : 0
        cookieServer = nil
        if let name = pool.configuration.cookie, let v = L7Cookies.value(of: name, in: view.header("cookie")) {
            cookieServer = pool.server(cookieValue: v)
        }
        head.raw = ByteBuffer()  // routed: let the read buffer go (NIO reuses it when unshared)
        guard let s = pool.pick(key: key, client: clientAddress, cookieServer: cookieServer, now: L7Switch.now()) else {
            return answer(.serviceUnavailable, close: hasBody)
        }
        server = s
        connect()
    }

    func connect() {
        attempts += 1
        connecting = true
        holdReads()
        let pool = sw.pools[poolIndex]
        let s = pool.servers[server]
        if let h = cache.takeIdle(pool: poolIndex, server: server) {
            attach(h, reused: true)
            return
        }
        let target = server
        cache.connect(pool: poolIndex, server: server, address: s.address, port: s.port)
            .assumeIsolated().whenComplete { [self] result in
                guard connecting, target == server else {
                    if case .success(let ch) = result { ch.close(promise: nil) }
                    return
                }
                switch result {
                case .success(let ch):
                    guard let h = try? ch.pipeline.syncOperations.handler(type: UpstreamHandler.self) else {
                        ch.close(promise: nil)
                        return upstreamFailed(nil)
                    }
                    attach(h, reused: false)
                case .failure(let e):
                    connecting = false
                    failedAttempt(e, timedOut: (e as? ChannelError) == .connectTimeout(sw.connectTimeout))
                }
            }
    }

    func attach(_ h: UpstreamHandler, reused: Bool) {
        connecting = false
        guard active, !closing else {
            cache.release(h, maxIdle: sw.pools[poolIndex].configuration.maxIdlePerServer)
            return
        }
        upstream = h
        h.client = self
        let pool = sw.pools[poolIndex].configuration
        var cookie: [UInt8] = []
        if let name = pool.cookie, cookieServer != server {
            cookie = Array("Set-Cookie: \(name)=\(pool.servers[server].cookieValue); Path=/; HttpOnly\r\n".utf8)
        }
        h.prepare(isHead: head.method == .HEAD, clientMinor: Int(head.version.minor), clientKeepAlive: clientKeepAlive,
                  setCookie: cookie)
        h.write(head.upstream)
        sentToUpstream = true
        for p in buffered { h.write(p) }
        buffered.removeAll(keepingCapacity: true)
        h.flush()
        if requestEnded { startResponseTimer() }
        if expectContinue && !requestEnded && !responseStarted {
            expectContinue = false
            context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(
                staticString: head.version.minor == 0 ? "HTTP/1.0 100 Continue\r\n\r\n" : "HTTP/1.1 100 Continue\r\n\r\n")),
                promise: nil)
        }
        if h.channel.isWritable { resumeReads() }
    }

    func sendUpstream(_ part: ByteBuffer) {
        if let u = upstream {
            u.write(part)
            if !u.channel.isWritable { holdReads() }
        } else {
            buffered.append(part)
        }
    }

    func startResponseTimer() {
        guard responseDeadline == 0, !responseStarted else { return }
        responseDeadline = NIODeadline.now().uptimeNanoseconds
            + UInt64(sw.configuration.limits.responseTimeoutMilliseconds) * 1_000_000
    }

    func channelActive(context: ChannelHandlerContext) {
        lastRead = NIODeadline.now().uptimeNanoseconds
        armTicker()
        context.fireChannelActive()
    }

    func armTicker() {
        let limits = sw.configuration.limits
        let ms = min(max(min(limits.clientIdleTimeoutMilliseconds, limits.responseTimeoutMilliseconds) / 4, 10), 1000)
        ticker = context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(ms)) { [self] in
            ticker = nil
            guard !closing else { return }
            let now = NIODeadline.now().uptimeNanoseconds
            if responseDeadline != 0 && now >= responseDeadline {
                responseDeadline = 0
                if active && !responseStarted && upstream != nil {
                    // No response head in time.
                    abortUpstream(failed: true)
                    answer(.gatewayTimeout, close: true)
                    return
                }
            }
            if !active && now &- lastRead >= UInt64(limits.clientIdleTimeoutMilliseconds) * 1_000_000 {
                idleTimeout()
                return
            }
            armTicker()
        }
    }

    // MARK: Responses (from the upstream connection)

    func upstreamResponse(_ part: ResponseEvent) {
        switch part {
        case .head(let r):
            // The head is complete as the parser wrote it (Connection, Set-Cookie, maybe the
            // body too): one write.
            responseDeadline = 0
            responseStarted = true
            upstreamKeepAlive = r.keepAlive
            // A body that ends with the server's close (or loses its chunking for an HTTP/1.0
            // client) ends with the client's close too.
            if r.closesClient { clientKeepAlive = false }
            bytesIn += r.bodyInHead
            clientUnflushed = true
            context.write(wrapOutboundOut(r.bytes), promise: nil)
        case .body(let buf):
            bytesIn += buf.readableBytes
            clientUnflushed = true
            context.write(wrapOutboundOut(buf), promise: nil)
            if !context.channel.isWritable { upstream?.holdReads() }
        case .end:
            // Bookkeeping first, then the flush, then any queued pipelined request (`drainQueue`).
            let keep = clientKeepAlive
            complete()
            if keep {
                clientUnflushed = false
                context.flush()
                resumeReads()
                drainQueue()
            } else {
                closing = true
                // Writes complete in order: the empty one completes after the response.
                context.writeAndFlush(wrapOutboundOut(ByteBuffer())).assumeIsolated().whenComplete { [context] _ in
                    context!.close(promise: nil)
                }
            }
        }
    }

    /// The response ended: the upstream connection goes back to its cache if both sides allow.
    func complete() {
        responseDeadline = 0
        let pool = sw.pools[poolIndex]
        pool.finished(server, failed: false, bytesIn: bytesIn, bytesOut: bytesOut, now: L7Switch.now())
        if let u = upstream {
            upstream = nil
            u.client = nil
            u.resumeReads()
            if upstreamKeepAlive && requestEnded {
                cache.release(u, maxIdle: pool.configuration.maxIdlePerServer)
            } else {
                u.channel.close(promise: nil)
            }
        }
        server = -1
        lastRead = NIODeadline.now().uptimeNanoseconds  // the idle time starts after the response
        if requestEnded {
            active = false
        } else {
            answered = true  // the server answered early: the rest of the request is dropped
        }
    }

    /// Response bytes written since the last flush.
    var clientUnflushed = false

    func upstreamReadComplete() {
        guard clientUnflushed else { return }
        clientUnflushed = false
        context.flush()
    }

    func upstreamWritable() { resumeReads() }

    func upstreamFailed(_ error: Error?) { failedAttempt(error, timedOut: false) }

    /// The attempt on `server` failed. Another server is tried when that is safe: nothing was
    /// sent, or the request is idempotent, bodiless and complete (a reused keep-alive connection
    /// its server had closed is the common case); else 502 (504 after a timeout), or the client
    /// connection closes when the response had begun.
    func failedAttempt(_ error: Error?, timedOut: Bool) {
        responseDeadline = 0
        let pool = sw.pools[poolIndex]
        let now = L7Switch.now()
        if let u = upstream {
            upstream = nil
            u.client = nil
            u.channel.close(promise: nil)
        }
        guard server >= 0 else { return }
        pool.finished(server, failed: true, bytesIn: bytesIn, bytesOut: bytesOut, now: now)
        let failedServer = server
        server = -1
        guard active, !closing else { return }
        if responseStarted {
            closeClient()
            return
        }
        let safe = !sentToUpstream || (head.method.isIdempotent && !hasBody && requestEnded)
        if safe && attempts <= sw.configuration.limits.retries,
           let s = pool.pick(key: key, client: clientAddress, cookieServer: nil, avoid: failedServer, now: now),
           s != failedServer || pool.servers.count == 1
        {
            server = s
            sentToUpstream = false
            connect()
            return
        }
        answer(timedOut ? .gatewayTimeout : .badGateway, close: !requestEnded || !clientKeepAlive)
    }

    func abortUpstream(failed: Bool) {
        responseDeadline = 0
        connecting = false
        if let u = upstream {
            upstream = nil
            u.client = nil
            u.channel.close(promise: nil)
        }
        if server >= 0 {
            sw.pools[poolIndex].finished(server, failed: failed, bytesIn: bytesIn, bytesOut: bytesOut, now: L7Switch.now())
            server = -1
        }
    }

    // MARK: Answers of the switch itself

    /// A complete response from the switch (errors); `close` ends the connection after it.
    func answer(_ status: HTTPResponseStatus, close: Bool) {
        answered = true
        connecting = false
        let keep = !close && clientKeepAlive
        if !keep { clientKeepAlive = false }
        let body = "\(status.code) \(status.reasonPhrase)\n"
        let version = head.version.major == 1 && head.version.minor == 0 ? "HTTP/1.0" : "HTTP/1.1"
        var text = "\(version) \(status.code) \(status.reasonPhrase)\r\nContent-Type: text/plain\r\nContent-Length: \(body.utf8.count)\r\n"
        if !keep { text += "Connection: close\r\n" }
        text += "\r\n"
        if head.method != .HEAD { text += body }
        let bytes = context.channel.allocator.buffer(string: text)
        if !keep {
            lastWrite = context.writeAndFlush(wrapOutboundOut(bytes))
            closeClient()
            return
        }
        if requestEnded {
            active = false
            answered = false
        }
        // (Set before the end is written: writing it may deliver the next pipelined request.)
        context.writeAndFlush(wrapOutboundOut(bytes), promise: nil)
        resumeReads()  // the next request, or the rest of this one, which is dropped
        drainQueue()
    }

    func finishAnswered() {
        active = false
        answered = false
        resumeReads()
        drainQueue()
    }

    func closeClient() {
        guard !closing else { return }
        closing = true
        abortUpstream(failed: false)
        // Let what was written go out, then close.
        let ctx = context!
        ctx.flush()
        if let last = lastWrite {
            lastWrite = nil
            last.assumeIsolated().whenComplete { _ in ctx.close(promise: nil) }
        } else {
            ctx.close(promise: nil)
        }
    }

    // MARK: Connection events

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        guard !closing else { return }
        closeClient()
    }

    /// A request the parser rejected: 400 (431 for an oversized head) and close, or just close
    /// when a response is already under way.
    func parseError(_ e: HTTPParseError) {
        if active && (responseStarted || answered) {
            closeClient()
            return
        }
        abortUpstream(failed: false)
        if !active { head = .none }
        active = true
        answer(e.headTooLarge ? .requestHeaderFieldsTooLarge : .badRequest, close: true)
    }

    func channelInactive(context: ChannelHandlerContext) {
        closing = true
        ticker?.cancel()
        ticker = nil
        abortUpstream(failed: false)
        context.fireChannelInactive()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { upstream?.resumeReads() }
        context.fireChannelWritabilityChanged()
    }

    /// Nothing read for the idle timeout while no request is in progress.
    func idleTimeout() {
        if inbound.readableBytes > 0 {
            // A request begun and not finished: 408.
            let body = "408 Request Timeout\n"
            let text = "HTTP/1.1 408 Request Timeout\r\nContent-Type: text/plain\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n" + body
            lastWrite = context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(string: text)))
        }
        closeClient()
    }

    // MARK: Back-pressure

    func read(context: ChannelHandlerContext) {
        if readsHeld || waiting { readPending = true } else { context.read() }
    }

    func holdReads() { readsHeld = true }

    func resumeReads() {
        guard readsHeld else { return }
        readsHeld = false
        if readPending && !waiting {
            readPending = false
            context.read()
        }
    }
}

extension ClientHandler: UpstreamDelegate {}

/// The parsed request head as routing fields.
struct HeadFields: L7RequestFields {
    let head: RequestHead
    var method: String { head.method.rawValue }
    var target: String { head.target }
    func header(_ name: String) -> String? { head.header(name) }
}

extension Substring {
    var trimmingSpaces: Substring {
        var s = self
        while s.first == " " || s.first == "\t" { s.removeFirst() }
        while s.last == " " || s.last == "\t" { s.removeLast() }
        return s
    }
}

extension HTTPMethod {
    /// RFC 9110 9.2.2.
    var isIdempotent: Bool {
        switch self {
        case .GET, .HEAD, .PUT, .DELETE, .OPTIONS, .TRACE: return true
        default: return false
        }
    }
}
