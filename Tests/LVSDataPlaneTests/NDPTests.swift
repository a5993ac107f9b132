import LVSPacket
import Testing

@testable import LVSDataPlane

@Suite struct NDPTests {
    let vip = IPAddress("fd00:1::100")!
    let client = IPAddress("fd00:1::2")!
    let clientMAC = MACAddress(2, 0, 0, 0, 0, 0x10)
    let ourMAC = MACAddress(2, 0, 0, 0, 0, 0x20)

    func parse(_ bytes: inout [UInt8]) -> PacketInfo {
        var p = PacketInfo()
        _ = bytes.withUnsafeMutableBytes { PacketParser.parse($0.baseAddress!, length: $0.count, into: &p) }
        return p
    }

    @Test func aSolicitationForTheVIPBecomesTheSolicitedAdvertisement() {
        var ns = PacketBuilder().ethernet(src: clientMAC, dst: MACAddress(0x33, 0x33, 0xff, 0, 1, 0))
            .ipv6(src: client, dst: IPAddress("ff02::1:ff00:100")!, hopLimit: 255)
            .icmp(type: ICMPv6Type.neighborSolicitation).payload(vip.bytes + [1, 1] + clientMAC.bytes).bytes()
        let expected = PacketBuilder().ethernet(src: ourMAC, dst: clientMAC).ipv6(src: vip, dst: client, hopLimit: 255)
            .icmp(type: ICMPv6Type.neighborAdvertisement, rest: 0x6000_0000).payload(vip.bytes + [2, 1] + ourMAC.bytes).bytes()
        let p = parse(&ns)
        let count = ns.count
        ns += [UInt8](repeating: 0, count: 64)
        var length = 0
        let done = ns.withUnsafeMutableBytes { buf -> Bool in
            #expect(NDP.solicitationTarget(buf.baseAddress!, p) == vip)
            #expect(NDP.linkLayerOption(buf.baseAddress!, p, type: 1) == clientMAC)
            var frame = Frame(base: buf.baseAddress!, length: count, capacity: buf.count)
            let ok = NDP.advertise(&frame, p, mac: ourMAC)
            length = frame.length
            return ok
        }
        #expect(done)
        #expect(Array(ns[0..<length]) == expected)
    }

    @Test func solicitationsHaveAValidChecksumAndTheSolicitedNodeGroup() {
        var buf = [UInt8](repeating: 0, count: 128)
        let target = IPAddress("fd00:10::3")!
        let n = buf.withUnsafeMutableBytes {
            NDP.solicit($0.baseAddress!, senderMAC: ourMAC, senderIP: IPAddress("fd00:10::1")!, target: target)
        }
        var frame = Array(buf[0..<n])
        let expected = PacketBuilder().ethernet(src: ourMAC, dst: MACAddress(0x33, 0x33, 0xff, 0, 0, 3))
            .ipv6(src: IPAddress("fd00:10::1")!, dst: IPAddress("ff02::1:ff00:3")!, hopLimit: 255)
            .icmp(type: ICMPv6Type.neighborSolicitation).payload(target.bytes + [1, 1] + ourMAC.bytes).bytes()
        #expect(frame == expected)
        let p = parse(&frame)
        #expect(p.icmpType == ICMPv6Type.neighborSolicitation)
    }

    @Test func malformedOptionsAreNotTrusted() {
        var ns = PacketBuilder().ethernet().ipv6(src: client, dst: vip, hopLimit: 255)
            .icmp(type: ICMPv6Type.neighborSolicitation).payload(vip.bytes + [1, 0, 1, 2, 3, 4, 5, 6]).bytes()
        let p = parse(&ns)
        ns.withUnsafeMutableBytes { #expect(NDP.linkLayerOption($0.baseAddress!, p, type: 1) == nil) }
    }

    @Test func hopLimitBelow255IsNotNeighbourDiscovery() {
        var ns = PacketBuilder().ethernet().ipv6(src: client, dst: vip, hopLimit: 64)
            .icmp(type: ICMPv6Type.neighborSolicitation).payload(vip.bytes).bytes()
        let p = parse(&ns)
        ns.withUnsafeMutableBytes { #expect(NDP.solicitationTarget($0.baseAddress!, p) == nil) }
    }
}
