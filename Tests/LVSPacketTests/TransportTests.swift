import LVSPacket
import Testing

@Suite struct TransportViewTests {
    @Test func tcpFieldsAndSetters() {
        let segment = PacketBuilder().ipv4(src: client4, dst: vip4)
            .tcp(
                src: 40000, dst: 443, flags: 0x12, seq: 0xdead_beef, ack: 0x0102_0304, window: 29200,
                options: [2, 4, 5, 180]
            )
            .bytes()
        let out = mutated(segment) { p, _ in
            let t = TCPView(unchecked: p + 20)
            #expect(t.sourcePort == 40000)
            #expect(t.destinationPort == 443)
            #expect(t.sequence == 0xdead_beef)
            #expect(t.acknowledgment == 0x0102_0304)
            #expect(t.headerLength == 24)
            #expect(t.flags == 0x12)
            #expect(t.window == 29200)
            #expect(t.checksum == rawWord(segment, 36))
            t.sourcePort = 0x0102
            t.destinationPort = 0x0304
            t.sequence = 0x0506_0708
            t.acknowledgment = 0x090a_0b0c
            t.checksum = 0xaabb
        }
        #expect(Array(out[20..<32]) == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12])
        #expect(Array(out[36..<38]) == [0xbb, 0xaa])
        #expect(TCPView.checksumOffset == 16)
    }

    @Test func portRewriteDeltaKeepsTCPChecksumValid() {
        var g = SplitMix64(seed: 80)
        for _ in 0..<300 {
            let newPort = UInt16.random(in: 0...UInt16.max, using: &g)
            let packet = PacketBuilder().ipv4(src: client4, dst: vip4).tcp(src: 40000, dst: 80, flags: 0x10)
                .payload(g.bytes(Int.random(in: 0...30, using: &g))).bytes()
            let out = mutated(packet) { p, _ in
                let t = TCPView(unchecked: p + 20)
                let old = p.raw16(22)
                t.destinationPort = newPort
                t.checksum = Checksum.update(t.checksum, delta: Checksum.delta16(old: old, new: p.raw16(22)))
            }
            #expect(l4ChecksumVerifies(Array(out[20...]), src: client4, dst: vip4, proto: IPProto.tcp))
        }
    }

    @Test func udpFieldsAndSetters() {
        let packet = PacketBuilder().ipv6(src: client6, dst: vip6).udp(src: 5353, dst: 53).payload([1, 2, 3]).bytes()
        let out = mutated(packet) { p, _ in
            let u = UDPView(unchecked: p + 40)
            #expect(u.sourcePort == 5353 && u.destinationPort == 53)
            #expect(u.length == 11)
            #expect(u.checksum == rawWord(packet, 46))
            u.sourcePort = 1
            u.destinationPort = 2
            u.length = 3
            u.checksum = 0
        }
        #expect(Array(out[40..<48]) == [0, 1, 0, 2, 0, 3, 0, 0])
        #expect(UDPView.checksumOffset == 6)
    }

    @Test func icmpFieldsAndSetters() {
        let packet = PacketBuilder().ipv4(src: client4, dst: vip4).icmp(type: 3, code: 4, rest: 1500).bytes()
        let out = mutated(packet) { p, _ in
            let c = ICMPView(unchecked: p + 20)
            #expect(c.type == 3 && c.code == 4)
            #expect(c.rest == 1500)
            #expect(c.checksum == rawWord(packet, 22))
            c.type = 0
            c.code = 1
            c.rest = 0x0102_0304
            c.checksum = 0x1122
        }
        #expect(Array(out[20..<28]) == [0, 1, 0x22, 0x11, 1, 2, 3, 4])
        #expect(ICMPView.checksumOffset == 2)
    }
}
