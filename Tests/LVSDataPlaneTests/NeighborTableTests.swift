import LVSPacket
import Testing

@testable import LVSDataPlane

@Suite struct NeighborTableTests {
    let a = IPAddress("192.168.10.2")!
    let mac = MACAddress(2, 0, 0xc0, 0xa8, 0x0a, 0x02)

    @Test func learnedAddressesResolveUntilTheyExpire() {
        var t = NeighborTable(capacity: 16)
        #expect(t.lookup(a, now: 0) == nil)
        t.learn(a, mac: mac, interface: 1, now: 1000)
        #expect(t.lookup(a, now: 1000) == mac)
        #expect(t.lookup(a, now: 1000 + NeighborTable.lifetime - 1) == mac)
        #expect(t.lookup(a, now: 1000 + NeighborTable.lifetime) == nil)
    }

    @Test func requestsArePaced() {
        var t = NeighborTable(capacity: 16)
        let first = t.shouldRequest(a, now: 0)
        let tooSoon = t.shouldRequest(a, now: NeighborTable.requestInterval - 1)
        let later = t.shouldRequest(a, now: NeighborTable.requestInterval)
        #expect(first && !tooSoon && later)
    }

    @Test func manyAddressesCoexist() {
        var t = NeighborTable(capacity: 512)
        for i in 0..<500 { t.learn(IPAddress(v4: 0x0a00_0000 + UInt32(i)), mac: MACAddress(2, 0, 0, 0, UInt8(i >> 8), UInt8(i & 0xff)), interface: 0, now: 0) }
        for i in 0..<500 {
            #expect(t.lookup(IPAddress(v4: 0x0a00_0000 + UInt32(i)), now: 1) == MACAddress(2, 0, 0, 0, UInt8(i >> 8), UInt8(i & 0xff)))
        }
    }
}
