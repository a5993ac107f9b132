import LVSPacket
import Testing

@Suite struct RawBytesTests {
    @Test(arguments: 0..<4)
    func unalignedLoadsReadNetworkOrder(shift: Int) {
        let bytes = [UInt8](repeating: 0xaa, count: shift) + [0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0]
        withFrame(bytes) { p, _ in
            #expect(p.u8(shift) == 0x12)
            #expect(p.be16(shift) == 0x1234)
            #expect(p.be32(shift) == 0x1234_5678)
            #expect(p.be16(shift + 1) == 0x3456)
            // raw accessors keep memory order: the first byte is the low byte on little-endian.
            #expect(p.raw16(shift) == 0x3412)
            #expect(p.raw32(shift) == 0x7856_3412)
            #expect(p.raw64(shift) == 0xf0de_bc9a_7856_3412)
        }
    }

    @Test func storesWriteExpectedBytes() {
        let out = mutated([UInt8](repeating: 0, count: 21)) { p, _ in
            p.setU8(0xfe, 0)
            p.setBE16(0x0800, 1)
            p.setBE32(0xc000_0201, 3)
            p.setRaw16(0x3412, 7)
            p.setRaw32(0x7856_3412, 9)
            p.setRaw64(0x0807_0605_0403_0201, 13)
        }
        #expect(out[0] == 0xfe)
        #expect(Array(out[1..<3]) == [0x08, 0x00])
        #expect(Array(out[3..<7]) == [0xc0, 0x00, 0x02, 0x01])
        #expect(Array(out[7..<9]) == [0x12, 0x34])
        #expect(Array(out[9..<13]) == [0x12, 0x34, 0x56, 0x78])
        #expect(Array(out[13..<21]) == [1, 2, 3, 4, 5, 6, 7, 8])
    }

    @Test func addressesRoundTripThroughMemory() {
        let v6 = IPAddress("2001:db8::1:2")!
        let out = mutated([UInt8](repeating: 0, count: 25)) { p, _ in
            p.setAddress16(v6, 3)
            #expect(p.address16(3) == v6)
            #expect(p.address4(15) == IPAddress(0, 1, 0, 2))  // the last 4 bytes of v6
            p.setRaw32(IPAddress(192, 0, 2, 1).v4Raw, 21)
            #expect(p.address4(21) == IPAddress(192, 0, 2, 1))
        }
        #expect(Array(out[3..<19]) == v6.bytes)
        #expect(Array(out[21..<25]) == [192, 0, 2, 1])
    }
}
