import NIOCore

/// Body framing of one HTTP/1.1 message, shared by requests and responses: where its body ends
/// (RFC 9112 6.3) and what to forward. Bodies pass through as slices of what was read, chunk
/// sizes, extensions and trailers included; `dechunk` forwards the data only (for an HTTP/1.0
/// client, whose response then ends with the connection).
struct BodyFraming {
    enum State: Equatable {
        /// No message under way: a head is next.
        case idle
        case length(Int64)
        case chunkSize
        case chunkData(Int64)
        case chunkDataEnd
        case trailer
        case untilClose
        /// The body is complete: `.end` is next.
        case finished
    }
    enum Event {
        case body(ByteBuffer)
        case end
    }
    var state = State.idle
    var dechunk = false
    /// Body data bytes of the message so far (chunk data only, not framing), for size limits.
    var dataBytes: Int64 = 0
    /// The longest trailer line.
    var maxLine = 65536

    /// A head announced this framing; `.none` ends the message at once.
    mutating func start(_ framing: ResponseFraming, dechunk: Bool) {
        dataBytes = 0
        self.dechunk = false
        switch framing {
        case .none: state = .finished
        case .length(let n): state = .length(n)
        case .chunked:
            state = .chunkSize
            self.dechunk = dechunk
        case .untilClose: state = .untilClose
        }
    }

    /// The next body slice or the end, or nil when more bytes are needed (or no message is
    /// under way).
    mutating func next(_ buffer: inout ByteBuffer) throws -> Event? {
        while true {
            switch state {
            case .idle:
                return nil
            case .finished:
                state = .idle
                dechunk = false
                return .end
            case .length(let left):
                let k = Int(min(left, Int64(buffer.readableBytes)))
                guard k > 0 else { return nil }
                state = left == Int64(k) ? .finished : .length(left - Int64(k))
                dataBytes += Int64(k)
                return .body(buffer.readSlice(length: k)!)
            case .untilClose:
                guard buffer.readableBytes > 0 else { return nil }
                dataBytes += Int64(buffer.readableBytes)
                return .body(buffer.readSlice(length: buffer.readableBytes)!)
            case .chunkSize, .chunkData, .chunkDataEnd, .trailer:
                if let part = try chunked(&buffer) { return part }
                if state != .finished { return nil }
            }
        }
    }


    /// Walks chunk sizes, data, CRLFs and trailers. Passing through, everything walked is one
    /// slice; dechunking, each data run is its own slice and the framing is skipped.
    mutating func chunked(_ buffer: inout ByteBuffer) throws -> Event? {
        let v = buffer.readableBytesView
        let n = v.count
        let base = v.startIndex
        var i = 0
        walk: while i < n {
            switch state {
            case .chunkSize:
                guard let lf = v[(base + i)...].firstIndex(of: 10) else {
                    if n - i > 4096 { throw HTTPParseError(reason: "chunk size line too long") }
                    break walk
                }
                let end = lf - base
                guard end > i, v[base + end - 1] == 13 else { throw HTTPParseError(reason: "chunk size line without CRLF") }
                var size: Int64 = 0
                var digits = 0
                var j = i
                while j < end - 1, let d = hexValue(v[base + j]) {
                    guard digits < 15 else { throw HTTPParseError(reason: "chunk size too large") }
                    size = size << 4 | Int64(d)
                    digits += 1
                    j += 1
                }
                guard digits > 0 else { throw HTTPParseError(reason: "bad chunk size") }
                while j < end - 1, v[base + j] == 32 || v[base + j] == 9 { j += 1 }
                guard j == end - 1 || v[base + j] == 59 else { throw HTTPParseError(reason: "bad chunk size") }  // ';' ext
                i = end + 1
                state = size == 0 ? .trailer : .chunkData(size)
            case .chunkData(let left):
                let k = Int(min(left, Int64(n - i)))
                dataBytes += Int64(k)
                if dechunk {
                    let slice = buffer.getSlice(at: buffer.readerIndex + i, length: k)!
                    buffer.moveReaderIndex(forwardBy: i + k)
                    state = left == Int64(k) ? .chunkDataEnd : .chunkData(left - Int64(k))
                    return .body(slice)
                }
                i += k
                state = left == Int64(k) ? .chunkDataEnd : .chunkData(left - Int64(k))
            case .chunkDataEnd:
                guard n - i >= 2 else { break walk }
                guard v[base + i] == 13, v[base + i + 1] == 10 else { throw HTTPParseError(reason: "chunk data without CRLF") }
                i += 2
                state = .chunkSize
            case .trailer:
                guard let lf = v[(base + i)...].firstIndex(of: 10) else {
                    if n - i > maxLine { throw HTTPParseError(reason: "trailer too long") }
                    break walk
                }
                let end = lf - base
                guard end > i, v[base + end - 1] == 13 else { throw HTTPParseError(reason: "trailer line without CRLF") }
                let empty = end == i + 1
                i = end + 1
                if empty {
                    state = .finished
                    break walk
                }
            default:
                break walk
            }
        }
        guard i > 0 else { return nil }
        if dechunk {
            buffer.moveReaderIndex(forwardBy: i)
            return nil
        }
        return .body(buffer.readSlice(length: i)!)
    }

    func hexValue(_ c: UInt8) -> Int64? {
        switch c {
        case 48...57: return Int64(c - 48)
        case 97...102: return Int64(c - 87)
        case 65...70: return Int64(c - 55)
        default: return nil
        }
    }

}
