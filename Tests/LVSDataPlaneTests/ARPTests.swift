import LVSPacket
import Testing

@testable import LVSDataPlane

@Suite struct ARPTests {
    let vip = IPAddress("10.0.1.100")!
    let client = IPAddress("10.0.1.2")!
    let clientMAC = MACAddress(2, 0, 0, 0, 0, 0x10)
    let ourMAC = MACAddress(2, 0, 0, 0, 0, 0x20)

    @Test func aRequestForTheVIPBecomesTheReply() {
        var frame = PacketBuilder().ethernet(src: clientMAC, dst: .broadcast)
            .arp(op: ARPView.request, senderMAC: clientMAC, senderIP: client, targetIP: vip).bytes()
        let expected = PacketBuilder().ethernet(src: ourMAC, dst: clientMAC)
            .arp(op: ARPView.reply, senderMAC: ourMAC, senderIP: vip, targetMAC: clientMAC, targetIP: client).bytes()
        frame.withUnsafeMutableBytes { ARP.answer($0.baseAddress!, arpOffset: 14, mac: ourMAC) }
        #expect(frame == expected)
    }

    @Test func requestsAreBroadcastWhoHas() {
        var buf = [UInt8](repeating: 0xee, count: 64)
        let n = buf.withUnsafeMutableBytes {
            ARP.request($0.baseAddress!, senderMAC: ourMAC, senderIP: IPAddress("192.168.10.1")!, target: IPAddress("192.168.10.3")!)
        }
        let expected = PacketBuilder().ethernet(src: ourMAC, dst: .broadcast)
            .arp(op: ARPView.request, senderMAC: ourMAC, senderIP: IPAddress("192.168.10.1")!, targetIP: IPAddress("192.168.10.3")!).bytes()
        #expect(n == 42)
        #expect(Array(buf[0..<n]) == expected)
    }
}
