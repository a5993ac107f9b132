import LVSPacket
import Testing

@Suite struct EthernetViewTests {
    @Test func untaggedFields() throws {
        let frame = PacketBuilder().ethernet(src: clientMAC, dst: directorMAC).ipv4(src: client4, dst: vip4).udp(
            src: 1, dst: 2
        ).bytes()
        try withFrame(frame) { p, n in
            let e = try #require(EthernetView(p, length: n))
            #expect(e.destination == directorMAC)
            #expect(e.source == clientMAC)
            #expect(!e.hasVLAN)
            #expect(e.vlanTCI == 0)
            #expect(e.headerLength == 14)
            #expect(e.etherType == EtherType.ipv4)
        }
    }

    @Test(arguments: [UInt16(0x0001), 0x0064, 0x2064, 0xefff, 0xffff])
    func taggedFields(tci: UInt16) throws {
        let frame = PacketBuilder().ethernet(vlan: tci).ipv6(src: client6, dst: vip6).udp(src: 1, dst: 2).bytes()
        #expect(Array(frame[12..<16]) == [0x81, 0x00, UInt8(tci >> 8), UInt8(tci & 0xff)])
        try withFrame(frame) { p, n in
            let e = try #require(EthernetView(p, length: n))
            #expect(e.hasVLAN)
            #expect(e.vlanTCI == tci)
            #expect(e.headerLength == 18)
            #expect(e.etherType == EtherType.ipv6)
        }
    }

    @Test func lengthChecks() {
        let tagged = PacketBuilder().ethernet(vlan: 5).payload([1]).bytes()
        for n in 1..<tagged.count {
            let view = withFrame(Array(tagged[..<n])) { p, len in EthernetView(p, length: len) }
            #expect((view != nil) == (n >= 18), "tagged, \(n) bytes")
        }
        let plain = PacketBuilder().ethernet().payload([1]).bytes()
        for n in 1..<plain.count {
            let view = withFrame(Array(plain[..<n])) { p, len in EthernetView(p, length: len) }
            #expect((view != nil) == (n >= 14), "untagged, \(n) bytes")
        }
    }

    @Test func swapAddresses() throws {
        let a = MACAddress(0x00, 0x11, 0x22, 0x33, 0x44, 0x55)
        let b = MACAddress(0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb)
        let frame = PacketBuilder().ethernet(src: a, dst: b, vlan: 42).ipv4(src: client4, dst: vip4).udp(src: 1, dst: 2)
            .bytes()
        let swapped = try mutated(frame) { p, n in
            let e = try #require(EthernetView(p, length: n))
            e.swapAddresses()
            #expect(e.source == b && e.destination == a)
            e.swapAddresses()
            #expect(e.source == a && e.destination == b)
            e.swapAddresses()
        }
        #expect(Array(swapped[0..<6]) == a.bytes)
        #expect(Array(swapped[6..<12]) == b.bytes)
        #expect(Array(swapped[12...]) == Array(frame[12...]))  // nothing else touched
    }

    @Test func settersWriteAddresses() throws {
        let frame = PacketBuilder().ethernet().payload([1, 2]).bytes()
        let out = try mutated(frame) { p, n in
            let e = try #require(EthernetView(p, length: n))
            e.destination = .broadcast
            e.source = MACAddress(1, 2, 3, 4, 5, 6)
        }
        #expect(Array(out[0..<12]) == [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4, 5, 6])
        #expect(Array(out[12...]) == Array(frame[12...]))
    }
}

@Suite struct ARPViewTests {
    @Test func requestFields() throws {
        let frame = PacketBuilder().ethernet(src: clientMAC, dst: .broadcast)
            .arp(op: ARPView.request, senderMAC: clientMAC, senderIP: client4, targetIP: vip4).bytes()
        #expect(frame.count == 42)
        // RFC 826 layout, byte by byte.
        #expect(
            Array(frame[14...]) == [0, 1, 0x08, 0x00, 6, 4, 0, 1] + clientMAC.bytes + [192, 0, 2, 10] + [
                0, 0, 0, 0, 0, 0,
            ] + [198, 51, 100, 1])
        try withFrame(frame) { p, n in
            let info = try #require(PacketParser.parse(p, length: n).info)
            let arp = try #require(ARPView(p + info.l3Offset, length: n - info.l3Offset))
            #expect(arp.hardwareType == 1)
            #expect(arp.protocolType == EtherType.ipv4)
            #expect(arp.hardwareLength == 6 && arp.protocolLength == 4)
            #expect(arp.isEthernetIPv4)
            #expect(arp.operation == ARPView.request)
            #expect(arp.senderMAC == clientMAC && arp.senderIP == client4)
            #expect(arp.targetMAC == .zero && arp.targetIP == vip4)
            #expect(arp.senderIP.isIPv4 && arp.targetIP.isIPv4)
        }
    }

    @Test func answerInPlace() throws {
        let frame = PacketBuilder().ethernet(src: clientMAC, dst: .broadcast)
            .arp(op: ARPView.request, senderMAC: clientMAC, senderIP: client4, targetIP: vip4).bytes()
        let reply = try mutated(frame) { p, n in
            let arp = try #require(ARPView(p + 14, length: n - 14))
            let (askerMAC, askerIP) = (arp.senderMAC, arp.senderIP)
            arp.operation = ARPView.reply
            arp.targetMAC = askerMAC
            arp.targetIP = askerIP
            arp.senderMAC = directorMAC
            arp.senderIP = vip4
        }
        let expected = PacketBuilder().ethernet(src: clientMAC, dst: .broadcast)
            .arp(op: ARPView.reply, senderMAC: directorMAC, senderIP: vip4, targetMAC: clientMAC, targetIP: client4)
            .bytes()
        #expect(reply == expected)
    }

    @Test func notEthernetIPv4() {
        let frame = PacketBuilder().arp(op: 1, senderMAC: clientMAC, senderIP: client4, targetIP: vip4).bytes()
        for (at, value) in [(1, UInt8(6)), (2, 0x86), (4, 8), (5, 16)] {
            let isEthIPv4 = withFrame(patched(frame, at: at, [value])) { p, n in ARPView(p, length: n)!.isEthernetIPv4 }
            #expect(!isEthIPv4, "byte \(at) = \(value)")
        }
    }

    @Test func lengthCheck() {
        let frame = PacketBuilder().arp(op: 1, senderMAC: clientMAC, senderIP: client4, targetIP: vip4).bytes()
        #expect(withFrame(Array(frame[..<27])) { p, n in ARPView(p, length: n) } == nil)
        #expect(withFrame(frame) { p, n in ARPView(p, length: n) } != nil)
    }
}
