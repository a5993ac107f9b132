import LVSEngine
import LVSPacket
import Testing

@testable import LVSDataPlane

/// What the data plane tells the engine about VS/TUN, and how it reads GSO metadata.
@Suite struct TunnelPathTests {
    @Test func sourcesAreTheFirstUsableAddressesAndTheMTUTheSmallest() {
        let ifs = [
            NetInterface(name: "d0", index: 2, mac: MACAddress(2, 0, 0, 0, 0, 1), mtu: 9000,
                         ipv4: [(IPAddress("10.0.1.1")!, 24)],
                         ipv6: [(IPAddress("fe80::1")!, 64), (IPAddress("fd00:1::1")!, 64)]),
            NetInterface(name: "d1", index: 3, mac: MACAddress(2, 0, 0, 0, 0, 2), mtu: 1450,
                         ipv4: [(IPAddress("192.168.10.1")!, 24)]),
        ]
        #expect(DataPlane.tunnelPath(ifs) == TunnelPath(
            source4: IPAddress("10.0.1.1")!, source6: IPAddress("fd00:1::1")!, mtu: 1450))
    }

    @Test func aFamilyWithoutAddressHasNoSource() {
        let ifs = [NetInterface(name: "d0", index: 2, mac: MACAddress(2, 0, 0, 0, 0, 1), mtu: 1500,
                                ipv4: [(IPAddress("10.0.1.1")!, 24)], ipv6: [(IPAddress("fe80::1")!, 64)])]
        #expect(DataPlane.tunnelPath(ifs).source6 == .zero)
    }

    @Test func gsoSizeIsReadOnlyFromSuperFrames() {
        let vnet = UnsafeMutableRawPointer.allocate(byteCount: 10, alignment: 8)
        defer { vnet.deallocate() }
        // flags NEEDS_CSUM, gso_type TCPV4, hdr_len 66, gso_size 1448 (little-endian fields).
        let bytes: [UInt8] = [1, 1, 66, 0, 0xa8, 0x05, 34, 0, 16, 0]
        bytes.withUnsafeBytes { vnet.copyMemory(from: $0.baseAddress!, byteCount: 10) }
        #expect(DataPlane.gsoSize(vnet) == 1448)
        vnet.storeBytes(of: 0, toByteOffset: 1, as: UInt8.self)  // GSO_NONE
        #expect(DataPlane.gsoSize(vnet) == 0)
    }
}
