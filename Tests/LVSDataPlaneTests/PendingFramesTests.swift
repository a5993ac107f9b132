import LVSPacket
import Testing

@testable import LVSDataPlane

@Suite struct PendingFramesTests {
    let a = IPAddress("192.168.10.2")!
    let b = IPAddress("192.168.10.3")!

    @Test func framesWaitForTheirNeighbourAndLeaveInOrder() {
        var p = PendingFrames(slots: 4, slotSize: 64)
        var frames: [[UInt8]] = [[1, 1, 1], [2, 2], [3]]
        for (i, f) in frames.indices.enumerated() {
            _ = frames[f].withUnsafeMutableBytes { p.add($0.baseAddress!, length: $0.count, waitingFor: i == 1 ? b : a, interface: i, now: 0) }
        }
        #expect(p.waiting == 3)
        var sent: [([UInt8], Int)] = []
        p.take(waitingFor: a) { ptr, len, ifc in sent.append((Array(UnsafeRawBufferPointer(start: ptr, count: len)), ifc)) }
        #expect(sent.map(\.0) == [[1, 1, 1], [3]])
        #expect(sent.map(\.1) == [0, 2])
        #expect(p.waiting == 1 && p.queued == 2)
        p.recycleSent()
        #expect(p.queued == 0)
    }

    @Test func thePoolIsBoundedAndFramesExpire() {
        var p = PendingFrames(slots: 2, slotSize: 8)
        var big = [UInt8](repeating: 0, count: 9)
        var small: [UInt8] = [1]
        let tooBig = big.withUnsafeMutableBytes { p.add($0.baseAddress!, length: 9, waitingFor: a, interface: 0, now: 0) }
        let first = small.withUnsafeMutableBytes { p.add($0.baseAddress!, length: 1, waitingFor: a, interface: 0, now: 0) }
        let second = small.withUnsafeMutableBytes { p.add($0.baseAddress!, length: 1, waitingFor: a, interface: 0, now: 0) }
        let third = small.withUnsafeMutableBytes { p.add($0.baseAddress!, length: 1, waitingFor: a, interface: 0, now: 0) }
        #expect(!tooBig && first && second && !third)
        var dropped = 0
        p.expire(now: PendingFrames.timeout) { dropped += 1 }
        #expect(dropped == 0)
        p.expire(now: PendingFrames.timeout + 1) { dropped += 1 }
        #expect(dropped == 2 && p.waiting == 0)
    }
}
