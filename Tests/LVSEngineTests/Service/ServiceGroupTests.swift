// Service groups (the role of IPVS fwmark services), port-0 services, one-packet scheduling and
// per-service UDP timeouts, driven through the packet entry point with a fake clock.
import LVSPacket
import Testing

@testable import LVSEngine

@Suite("service groups, port-0 services, one-packet scheduling")
struct ServiceGroupTests {
    static let vip = IPAddress("10.0.0.100")!
    static let vip2 = IPAddress("10.0.0.101")!
    static let rsA = IPAddress("192.168.1.10")!
    static let rsB = IPAddress("192.168.1.11")!
    static let rsC = IPAddress("192.168.1.12")!
    static let group = ServiceKey(fwmark: 7)
    static let t0: UInt64 = 1_000_000
    static func at(_ ms: UInt64) -> Timestamp { Timestamp(milliseconds: t0 + ms) }
    static func client(_ n: UInt8) -> IPAddress { IPAddress(192, 0, 2, n) }

    /// Where a forwarded frame now goes: (next hop, destination port after the rewrite).
    func sent(_ p: PacketPump, _ v: Verdict) -> (IPAddress, UInt16)? {
        guard case .forward(.realServer, let hop) = v else { return nil }
        guard case .ok(let info) = PacketParser.parse(p.buffer.baseAddress!, length: p.buffer.count) else {
            return nil
        }
        return (hop, info.dstPort)
    }

    func groupLab(persistent: Bool, matches: [ServiceMatch], scheduler: String = "rr", method: ForwardingMethod = .masquerade,
                  onePacket: Bool = false) throws -> (Director, PacketPump) {
        let d = Director(DirectorConfiguration(connectionCapacity: 1024), now: Self.at(0))
        try d.addService(ServiceSpec(
            Self.group, scheduler: scheduler, persistence: persistent ? Persistence(timeout: 60_000) : nil,
            matches: matches, onePacket: onePacket))
        for rs in [Self.rsA, Self.rsB, Self.rsC] {
            try d.addDestination(DestinationSpec(address: rs, port: 0, method: method), to: Self.group)
        }
        return (d, PacketPump(d))
    }

    @Test func groupTakesEveryEntryAndKeepsThePacketsPort() throws {
        let (d, p) = try groupLab(persistent: false, matches: [
            ServiceMatch(.tcp, Self.vip, ports: 80...80), ServiceMatch(.tcp, Self.vip, ports: 8000...8010),
            ServiceMatch(.udp, Self.vip2, ports: 0...65535),
        ])
        let a = sent(p, p.tcp(Self.client(1), 1000, Self.vip, 80, TCPFlag.syn, now: Self.at(0)))
        let b = sent(p, p.tcp(Self.client(1), 1001, Self.vip, 8005, TCPFlag.syn, now: Self.at(1)))
        let c = sent(p, p.udp(Self.client(1), 1002, Self.vip2, 53, now: Self.at(2)))
        // rr over one scheduler shared by every entry; servers listed with port 0 get the packet's port.
        #expect(a?.0 == Self.rsA && a?.1 == 80)
        #expect(b?.0 == Self.rsB && b?.1 == 8005)
        #expect(c?.0 == Self.rsC && c?.1 == 53)
        // Outside the ranges: the VIP has no service there.
        #expect(p.tcp(Self.client(1), 1003, Self.vip, 8011, TCPFlag.syn, now: Self.at(3)) == .drop(.noService))
        #expect(p.udp(Self.client(1), 1004, Self.vip, 80, now: Self.at(3)) == .drop(.noService))
        // The established flow keeps its server; the connection counts in the group.
        let again = sent(p, p.tcp(Self.client(1), 1001, Self.vip, 8005, TCPFlag.ack, now: Self.at(4)))
        #expect(again?.0 == Self.rsB && again?.1 == 8005)
        #expect(d.service(Self.group)!.stats.connections == 3)
    }

    @Test func persistentGroupSticksAcrossPortsAndAddresses() throws {
        let (d, p) = try groupLab(persistent: true, matches: [
            ServiceMatch(.tcp, Self.vip, ports: 80...80), ServiceMatch(.tcp, Self.vip, ports: 443...443),
            ServiceMatch(.tcp, Self.vip2, ports: 80...80),
        ])
        let first = sent(p, p.tcp(Self.client(9), 1000, Self.vip, 80, TCPFlag.syn, now: Self.at(0)))?.0
        #expect(sent(p, p.tcp(Self.client(9), 1001, Self.vip, 443, TCPFlag.syn, now: Self.at(10)))?.0 == first)
        #expect(sent(p, p.tcp(Self.client(9), 1002, Self.vip2, 80, TCPFlag.syn, now: Self.at(20)))?.0 == first)
        // Another client is scheduled on its own (rr moves on).
        #expect(sent(p, p.tcp(Self.client(10), 1000, Self.vip, 443, TCPFlag.syn, now: Self.at(30)))?.0 == Self.rsB)
        // One template per client network, keyed (IPPROTO_IP, mark as an address, port 0).
        let tpl = d.connections(now: Self.at(40)).filter(\.isTemplate)
        #expect(tpl.count == 2)
        #expect(tpl.allSatisfy { $0.virtual == Endpoint(IPAddress(0, 0, 0, 7), 0) && $0.isGroupTemplate })
    }

    @Test func portZeroServiceCatchesOtherPortsButNotExactOnes() throws {
        let d = Director(DirectorConfiguration(connectionCapacity: 1024), now: Self.at(0))
        let all = ServiceKey(.tcp, Self.vip, 0)
        let web = ServiceKey(.tcp, Self.vip, 80)
        // ipvsadm's rule: a port-0 service must be persistent.
        #expect(throws: DirectorError.self) { try d.addService(ServiceSpec(all, scheduler: "rr")) }
        try d.addService(ServiceSpec(all, scheduler: "rr", persistence: Persistence(timeout: 60_000)))
        try d.addService(ServiceSpec(web, scheduler: "rr"))
        for rs in [Self.rsA, Self.rsB] { try d.addDestination(DestinationSpec(address: rs, port: 0), to: all) }
        try d.addDestination(DestinationSpec(address: Self.rsC, port: 80), to: web)
        let p = PacketPump(d)
        let x = sent(p, p.tcp(Self.client(1), 1000, Self.vip, 22, TCPFlag.syn, now: Self.at(0)))
        let y = sent(p, p.tcp(Self.client(1), 1001, Self.vip, 3306, TCPFlag.syn, now: Self.at(1)))
        let z = sent(p, p.tcp(Self.client(1), 1002, Self.vip, 80, TCPFlag.syn, now: Self.at(2)))
        #expect(x?.0 == Self.rsA && x?.1 == 22)
        #expect(y?.0 == Self.rsA && y?.1 == 3306)  // the VIP:0 template covers every port
        #expect(z?.0 == Self.rsC && z?.1 == 80)  // the exact service wins
        #expect(d.service(all)!.stats.connections == 2)
        #expect(d.connections(now: Self.at(3)).filter(\.isTemplate).map(\.virtual) == [Endpoint(Self.vip, 0)])
    }

    @Test func overlapsAreRefused() throws {
        let d = Director(DirectorConfiguration(connectionCapacity: 64), now: Self.at(0))
        try d.addService(ServiceSpec(ServiceKey(.tcp, Self.vip, 80), scheduler: "rr"))
        #expect(throws: DirectorError.invalid("group entry tcp:10.0.0.100:79-81 overlaps the service TCP 10.0.0.100:80")) {
            try d.addService(ServiceSpec(Self.group, matches: [ServiceMatch(.tcp, Self.vip, ports: 79...81)]))
        }
        try d.addService(ServiceSpec(Self.group, matches: [ServiceMatch(.tcp, Self.vip, ports: 81...90)]))
        #expect(throws: DirectorError.invalid("group entry tcp:10.0.0.100:90-95 overlaps tcp:10.0.0.100:81-90 of FWM  7")) {
            try d.addService(ServiceSpec(ServiceKey(fwmark: 8), matches: [ServiceMatch(.tcp, Self.vip, ports: 90...95)]))
        }
        #expect(throws: DirectorError.invalid("the service TCP 10.0.0.100:85 overlaps group entry tcp:10.0.0.100:81-90 of FWM  7")) {
            try d.addService(ServiceSpec(ServiceKey(.tcp, Self.vip, 85)))
        }
        #expect(throws: DirectorError.self) {
            try d.addService(ServiceSpec(ServiceKey(fwmark: 9), matches: [ServiceMatch(.tcp, IPAddress("fd00::1")!, ports: 1...2)]))
        }
        // -E replaces the entries: the old ranges are gone, the new ones take packets.
        try d.editService(ServiceSpec(Self.group, scheduler: "rr", matches: [ServiceMatch(.udp, Self.vip, ports: 5000...5001)]))
        #expect(d.service(Self.group)!.matches == [ServiceMatch(.udp, Self.vip, ports: 5000...5001)])
        try d.addService(ServiceSpec(ServiceKey(.tcp, Self.vip, 85)))
        try d.removeService(Self.group)
        let p = PacketPump(d)
        #expect(p.udp(Self.client(1), 1, Self.vip, 5000, now: Self.at(1)) == .drop(.noService))
    }

    @Test func onePacketSchedulesEveryDatagram() throws {
        let d = Director(DirectorConfiguration(connectionCapacity: 64), now: Self.at(0))
        let dns = ServiceKey(.udp, Self.vip, 53)
        #expect(throws: DirectorError.self) { try d.addService(ServiceSpec(ServiceKey(.tcp, Self.vip, 53), onePacket: true)) }
        try d.addService(ServiceSpec(dns, scheduler: "rr", onePacket: true))
        for rs in [Self.rsA, Self.rsB, Self.rsC] { try d.addDestination(DestinationSpec(address: rs, port: 53), to: dns) }
        let p = PacketPump(d)
        var hops: [IPAddress] = []
        for i in 0..<6 { hops.append(sent(p, p.udp(Self.client(1), 4000, Self.vip, 53, now: Self.at(UInt64(i))))!.0) }
        // Same client port every time, yet each datagram is scheduled on its own.
        #expect(hops == [Self.rsA, Self.rsB, Self.rsC, Self.rsA, Self.rsB, Self.rsC])
        // NAT keeps one entry per flow, pointing at the latest choice, so its reply is translated.
        #expect(d.connectionCount == 1)
        let reply = PacketBuilder().ethernet().ipv4(src: Self.rsC, dst: Self.client(1)).udp(src: 53, dst: 4000)
            .payload("a").bytes()
        #expect(p.send(reply, now: Self.at(7)) == .forward(side: .client, nextHop: Self.client(1)))
        #expect(d.service(dns)!.stats.connections == 6)
    }

    @Test func onePacketWithoutReplyPathKeepsNoEntry() throws {
        let (d, p) = try groupLab(persistent: false, matches: [ServiceMatch(.udp, Self.vip, ports: 53...53)],
                                  method: .directRoute, onePacket: true)
        for i in 0..<4 { _ = p.udp(Self.client(1), 4000, Self.vip, 53, now: Self.at(UInt64(i))) }
        #expect(d.connectionCount == 0)
        #expect(d.service(Self.group)!.destinations.map(\.inactiveConns) == [0, 0, 0])
        #expect(d.service(Self.group)!.stats.connections == 4)
    }

    @Test func perServiceUDPTimeout() throws {
        let d = Director(DirectorConfiguration(connectionCapacity: 64), now: Self.at(0))
        let dns = ServiceKey(.udp, Self.vip, 53)
        let media = ServiceKey(.udp, Self.vip, 5004)
        try d.addService(ServiceSpec(dns, scheduler: "rr", udpTimeout: 2_000))
        try d.addService(ServiceSpec(media, scheduler: "rr"))
        try d.addDestination(DestinationSpec(address: Self.rsA, port: 53), to: dns)
        try d.addDestination(DestinationSpec(address: Self.rsA, port: 5004), to: media)
        let p = PacketPump(d)
        _ = p.udp(Self.client(1), 1, Self.vip, 53, now: Self.at(0))
        _ = p.udp(Self.client(1), 2, Self.vip, 5004, now: Self.at(0))
        d.advance(to: Self.at(2_100))
        #expect(d.connectionCount == 1)  // the DNS flow went after its own 2 s
        d.advance(to: Self.at(300_100))  // the global UDP timeout is 300 s
        #expect(d.connectionCount == 0)
        #expect(d.service(dns)!.udpTimeout == 2_000)
    }
}
