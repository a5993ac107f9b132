import LVSPacket

// Batched processing: the same decisions as `process(_:now:)` frame by frame, but the hash-bucket
// and connection-entry loads of a whole batch are issued before any frame is handled. With
// millions of connections each of those loads is a cache (and TLB) miss; issued back to back,
// the misses of a batch overlap instead of queuing behind one another.
extension Director {
    /// Frames warmed together; larger batches are handled in chunks of this size.
    public static let warmBatch = 32

    /// Processes `frames` in order, writing `verdicts[i]` for `frames[i]`.
    public func process(_ frames: UnsafeMutableBufferPointer<Frame>, verdicts: UnsafeMutablePointer<Verdict>, now: Timestamp) {
        guard let base = frames.baseAddress else { return }
        var start = 0
        while start < frames.count {
            let n = min(Director.warmBatch, frames.count - start)
            warm(base + start, n)
            for i in start..<(start + n) { verdicts[i] = process(&base[i], now: now) }
            start += n
        }
    }

    /// Loads, without deciding anything, the bucket head and then the entry each frame's lookup
    /// will read. Only untagged IPv4 TCP/UDP is peeked at; other frames are left to `process`.
    @inlinable
    func warm(_ frames: UnsafeMutablePointer<Frame>, _ n: Int) {
        var heads = (UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0),
                     UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0),
                     UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0),
                     UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        withUnsafeMutableBytes(of: &heads) { raw in
            let refs = raw.baseAddress!.assumingMemoryBound(to: UInt32.self)
            // Wave 0: the frames' address words (fresh from the NIC or ring, often not cached).
            var touch: UInt32 = 0
            for i in 0..<n where frames[i].length >= 54 { touch &+= frames[i].base.raw32(26) }
            warmSink &+= touch
            for i in 0..<n {
                refs[i] = nilIndex
                let f = frames[i]
                let p = f.base
                guard f.length >= 54, p.be16(12) == EtherType.ipv4, p.u8(14) == 0x45 else { continue }
                let proto = p.u8(23)
                guard proto == IPProto.tcp || proto == IPProto.udp else { continue }
                let src = p.address4(26), dst = p.address4(30)
                let sport = p.be16(34), dport = p.be16(36)
                // The IN key of a request and the OUT key of a reply both hash the packet's
                // (src, sport, dst, dport), so one bucket covers either direction.
                refs[i] = table.buckets[table.bucket(src, sport, dst, dport, proto)]
            }
            // Second wave: the entries those heads point at.
            var sink: UInt32 = 0
            for i in 0..<n where refs[i] != nilIndex {
                sink &+= table.entries[Int(refs[i] >> 1)].destSlot
            }
            warmSink &+= sink
        }
    }
}
