import LVSPacket
import Testing

@testable import LVSDataPlane

@Suite struct RouteTableTests {
    let ifs = [
        NetInterface(name: "d0", index: 2, mac: MACAddress(2, 0, 0, 0, 0, 1), mtu: 1500,
                     ipv4: [(IPAddress("10.0.1.1")!, 24)]),
        NetInterface(name: "d1", index: 3, mac: MACAddress(2, 0, 0, 0, 0, 2), mtu: 1500,
                     ipv4: [(IPAddress("192.168.10.1")!, 24), (IPAddress("192.168.0.1")!, 16)]),
    ]

    @Test func connectedDestinationsGoOutTheirInterfaceDirectly() throws {
        let r = try RouteTable(interfaces: ifs, gateway: nil)
        #expect(r.route(IPAddress("10.0.1.77")!) == .init(interface: 0, nextHop: IPAddress("10.0.1.77")!))
        #expect(r.route(IPAddress("192.168.10.3")!) == .init(interface: 1, nextHop: IPAddress("192.168.10.3")!))
        #expect(r.route(IPAddress("203.0.113.9")!) == nil)
    }

    @Test func longestPrefixWins() throws {
        let r = try RouteTable(interfaces: ifs, gateway: nil)
        #expect(r.connectedRoute(IPAddress("192.168.10.9")!)?.prefixLength == 24)
        #expect(r.connectedRoute(IPAddress("192.168.20.9")!)?.prefixLength == 16)
        #expect(r.connectedRoute(IPAddress("192.168.20.9")!)?.localAddress == IPAddress("192.168.0.1")!)
    }

    @Test func otherDestinationsGoThroughTheGateway() throws {
        let r = try RouteTable(interfaces: ifs, gateway: IPAddress("10.0.1.254")!)
        #expect(r.route(IPAddress("198.51.100.7")!) == .init(interface: 0, nextHop: IPAddress("10.0.1.254")!))
    }

    @Test func aGatewayOffEveryConnectedSubnetIsRefused() {
        #expect(throws: DataPlaneError.self) { try RouteTable(interfaces: ifs, gateway: IPAddress("172.16.0.1")!) }
    }
}
