import LVSPacket
import Testing

@testable import LVSEngine

/// The batched entry point must decide exactly as `process(_:now:)` does frame by frame.
@Suite struct BatchProcessingTests {
    @Test func batchedAndSequentialProcessingAgree() throws {
        var rng = SplitMix64(seed: 99)
        var inputs: [[UInt8]] = []
        for i in 0..<300 {
            let client = IPAddress(198, 51, 100, UInt8(1 + rng.next() % 20))
            let port = UInt16(1024 + rng.next() % 50)
            switch rng.next() % 6 {
            case 0: inputs.append(Lab.eth().ipv4(src: client, dst: Lab.vip).tcp(src: port, dst: 80, flags: TCPFlag.syn).bytes())
            case 1: inputs.append(Lab.eth().ipv4(src: client, dst: Lab.vip).tcp(src: port, dst: 80, flags: TCPFlag.ack).payload("x").bytes())
            case 2: inputs.append(Lab.eth().ipv4(src: Lab.rs1, dst: client).tcp(src: 8080, dst: port, flags: TCPFlag.ack | TCPFlag.syn).bytes())
            case 3: inputs.append(Lab.eth().ipv4(src: client, dst: Lab.vip).udp(src: port, dst: 53).payload("q").bytes())
            case 4: inputs.append(Lab.eth().ipv6(src: Lab.client6, dst: Lab.vip6).tcp(src: port, dst: 80, flags: TCPFlag.syn).bytes())
            default: inputs.append(Array(Lab.eth().ipv4(src: client, dst: Lab.vip).tcp(src: port, dst: 80, flags: TCPFlag.syn).bytes().prefix(Int(rng.next() % 60))))
            }
            _ = i
        }
        let sequential = Lab.director(capacity: 64)
        let batched = Lab.director(capacity: 64)
        let n = inputs.count
        let bufs = inputs.map { bytes -> UnsafeMutableRawBufferPointer in
            let b = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes.count, 1) + 256, alignment: 16)
            b.copyBytes(from: bytes)
            return b
        }
        defer { bufs.forEach { $0.deallocate() } }
        let frames = UnsafeMutableBufferPointer<Frame>.allocate(capacity: n)
        let verdicts = UnsafeMutablePointer<Verdict>.allocate(capacity: n)
        defer {
            frames.deallocate()
            verdicts.deallocate()
        }
        for i in 0..<n { frames[i] = Frame(base: bufs[i].baseAddress!, length: inputs[i].count, capacity: bufs[i].count) }
        batched.process(frames, verdicts: verdicts, now: Timestamp(milliseconds: 5000))
        let h = FrameHarness(sequential)
        for i in 0..<n {
            let (v, out) = h.run(inputs[i], now: Timestamp(milliseconds: 5000))
            #expect(v == verdicts[i], "frame \(i)")
            #expect(out == Array(UnsafeRawBufferPointer(start: frames[i].base, count: frames[i].length)), "frame \(i) bytes")
        }
        #expect(sequential.counters == batched.counters)
        #expect(sequential.connectionCount == batched.connectionCount)
        #expect(batched.counters[.tableFull] > 0, "the walk reached a full table")
    }
}
