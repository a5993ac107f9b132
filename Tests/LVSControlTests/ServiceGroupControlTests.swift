import LVSEngine
import LVSPacket
import Testing

@testable import LVSControl

/// Service groups (-f MARK with --match), port-0 services, --ops and --udp-timeout through lvsadm,
/// the listings, -S/-R and the configuration file.
@Suite struct ServiceGroupControlTests {
    func syn(_ client: String, _ port: UInt16, to vip: String, _ dport: UInt16) -> [UInt8] {
        PacketBuilder().ethernet().ipv4(src: IPAddress(client)!, dst: IPAddress(vip)!)
            .tcp(src: port, dst: dport, flags: TCPFlag.syn).bytes()
    }

    /// The listing of persistent, group, port-0 and one-packet services, character for character
    /// (ipvsadm's format: groups after address services, "FWM  N", " ops").
    @Test func goldenListingAndSaveRestore() {
        var bench = AdminBench()
        bench.ok("-A -f 7 -s wrr -p 600 --match tcp:10.0.0.100:443,tcp:10.0.0.100:8000-8010")
        bench.ok("-a -f 7 -r 192.168.100.4 -m -w 3")
        bench.ok("-A -u 10.0.0.53:53 -s rr -o --udp-timeout 5")
        bench.ok("-a -u 10.0.0.53:53 -r 192.168.100.10 -m")
        bench.ok("-A -t 10.0.0.100:0 -s sh -b sh-port -p 300 -M 255.255.255.0")
        bench.ok("-a -t 10.0.0.100:0 -r 192.168.100.2:0 -m")
        bench.ok("-A -f 3 -6 -s rr --match udp:[fd00::100]:0")
        bench.now = Timestamp(milliseconds: 5000)
        bench.send(syn("192.0.2.7", 40000, to: "10.0.0.100", 8001))
        bench.send(syn("192.0.2.7", 40001, to: "10.0.0.100", 22))
        let listing = bench.ok("-L -n")
        #expect(listing == """
            IP Virtual Server version 1.2.1 (size=4096)
            Prot LocalAddress:Port Scheduler Flags
              -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
            TCP  10.0.0.100:0 sh (sh-port) persistent 300 mask 255.255.255.0
              -> 192.168.100.2:0              Masq    1      0          1         
            UDP  10.0.0.53:53 rr ops
              -> 192.168.100.10:53            Masq    1      0          0         
            FWM  3 IPv6 rr
            FWM  7 wrr persistent 600
              -> 192.168.100.4:0              Masq    3      0          1         

            """)
        let conns = bench.ok("-L -n -c")
        #expect(conns.contains("IP  10:00  NONE        192.0.2.7:0        0.0.0.7:0          192.168.100.4:0"), "\(conns)")
        #expect(conns.contains("TCP 01:00  SYN_RECV    192.0.2.7:40000    10.0.0.100:8001    192.168.100.4:8001"), "\(conns)")
        #expect(conns.contains("TCP 05:00  NONE        192.0.2.0:0        10.0.0.100:0       192.168.100.2:0"), "\(conns)")
        let saved = bench.ok("-S -n")
        #expect(saved == """
            -A -t 10.0.0.100:0 -s sh -p 300 -M 255.255.255.0 -b sh-port
            -a -t 10.0.0.100:0 -r 192.168.100.2:0 -m -w 1
            -A -u 10.0.0.53:53 -s rr -o --udp-timeout 5
            -a -u 10.0.0.53:53 -r 192.168.100.10:53 -m -w 1
            -A -f 3 -6 -s rr --match udp:[fd00::100]:0
            -A -f 7 -s wrr -p 600 --match tcp:10.0.0.100:443,tcp:10.0.0.100:8000-8010
            -a -f 7 -r 192.168.100.4:0 -m -w 3

            """)
        // -S | -R onto an empty director gives the same rules back.
        let other = AdminBench()
        other.ok("-R", stdin: saved)
        #expect(other.ok("-S -n") == saved)
    }

    @Test func editKeepsExtensionsUnlessGiven() {
        let bench = AdminBench()
        bench.ok("-A -f 7 -s rr --match tcp:10.0.0.100:80")
        bench.ok("-E -f 7 -s wlc")
        #expect(bench.ok("-S -n") == "-A -f 7 -s wlc --match tcp:10.0.0.100:80\n")
        bench.ok("-E -f 7 -s wlc --match tcp:10.0.0.100:81,udp:10.0.0.100:81")
        #expect(bench.ok("-S -n") == "-A -f 7 -s wlc --match tcp:10.0.0.100:81,udp:10.0.0.100:81\n")
        bench.ok("-E -f 7 -s wlc --match none")
        #expect(bench.ok("-S -n") == "-A -f 7 -s wlc\n")
    }

    @Test(arguments: [
        ("-A -t 10.0.0.1:80 --match tcp:10.0.0.1:81", "--match gives the entries of a service group: use it with -f MARK"),
        ("-A -f 1 --match tcp:10.0.0.1", "illegal --match entry `tcp:10.0.0.1' (expected tcp|udp:ADDRESS:PORT[-PORT], port 0 = all ports)"),
        ("-A -f 1 --match sctp:10.0.0.1:5", "illegal --match entry `sctp:10.0.0.1:5' (expected tcp|udp:ADDRESS:PORT[-PORT], port 0 = all ports)"),
        ("-A -f 1 --match tcp:10.0.0.1:9-8", "illegal --match entry `tcp:10.0.0.1:9-8' (expected tcp|udp:ADDRESS:PORT[-PORT], port 0 = all ports)"),
        ("-A -t 10.0.0.1:80 --udp-timeout 5", "--udp-timeout is only for UDP virtual services"),
        ("-A -u 10.0.0.1:53 --udp-timeout 0", "illegal --udp-timeout value `0' (1 to 2678400 seconds)"),
        ("-A -t 10.0.0.1:0", "Zero port specified for non-persistent service"),
        ("-A -t 10.0.0.1:80 -o", "One-Packet Scheduling is only for UDP virtual services"),
        ("-a -t 10.0.0.1:80 -r 10.0.0.2 --match tcp:10.0.0.1:80", "Illegal 'match' option with the 'add-server' command"),
    ])
    func errors(_ line: String, _ message: String) {
        let r = AdminBench().run(line)
        #expect(r.status != 0)
        #expect(r.stderr.hasPrefix(message), "\(r.stderr)")
    }

    @Test func configurationFile() throws {
        let text = """
            interfaces: [d0]
            expire_quiescent_template: true
            services:
              - fwmark: 7
                match: [tcp:10.0.1.100:80, tcp:10.0.1.100:8000-8010]
                scheduler: rr
                persistence: {timeout: 120}
                real_servers:
                  - {address: 192.168.10.2}
                  - {address: 192.168.10.3, port: 0, weight: 2}
              - protocol: udp
                address: 10.0.1.100
                port: 53
                one_packet: true
                udp_timeout: 5
              - address: 10.0.1.100
                port: 0
                persistence: {}
            """
        let c = try LVSDConfiguration.parse(text: text, file: "lvsd.yaml")
        #expect(c.expireQuiescentTemplate)
        #expect(c.directorConfiguration().expireQuiescentTemplate)
        let group = c.services[0]
        #expect(group.key == ServiceKey(fwmark: 7))
        #expect(group.spec.matches == [ServiceMatch(.tcp, IPAddress("10.0.1.100")!, ports: 80...80),
                                       ServiceMatch(.tcp, IPAddress("10.0.1.100")!, ports: 8000...8010)])
        #expect(group.destinations.map(\.port) == [0, 0])
        #expect(c.services[1].spec.onePacket && c.services[1].spec.udpTimeout == 5000)
        #expect(c.services[2].key.port == 0)
        // Applied to a director and listed back.
        let d = Director(DirectorConfiguration(connectionCapacity: 1024))
        try ConfigApplier.apply(c, to: d)
        #expect(d.expireQuiescentTemplate)
        #expect(d.service(ServiceKey(fwmark: 7))?.destinations.count == 2)
    }

    @Test(arguments: [
        ("  - fwmark: 7\n    address: 10.0.1.100\n    match: [tcp:10.0.1.100:80]",
         "lvsd.yaml:4:5: a group ('fwmark') takes its addresses from 'match', not 'address'"),
        ("  - fwmark: 7\n    match: [tcp:10.0.1.100:80, tcp:10.0.1.100:70-80]",
         "lvsd.yaml:4:32: 'match' entry tcp:10.0.1.100:70-80 overlaps tcp:10.0.1.100:80"),
        ("  - fwmark: 7\n    match: [tcp:10.0.1.100:80, 'udp:[fd00::1]:53']",
         "lvsd.yaml:4:32: 'match' entries of one group must be of one address family: tcp:10.0.1.100:80 and udp:[fd00::1]:53"),
        ("  - fwmark: 7\n    match: [tcp:10.0.1.100]",
         "lvsd.yaml:4:13: 'match' entry 'tcp:10.0.1.100' is not tcp|udp:ADDRESS:PORT[-PORT] (port 0 = all ports)"),
        ("  - fwmark: 7\n    match: []", "lvsd.yaml:4:12: 'match' must be a non-empty list"),
        ("  - fwmark: 0\n    match: [tcp:10.0.1.100:80]", "lvsd.yaml:3:13: 'fwmark' must be 1..4294967295, got 0"),
        ("  - address: 10.0.1.100\n    port: 0", "lvsd.yaml:4:11: port 0 (all ports) needs 'persistence' (as in ipvsadm)"),
        ("  - address: 10.0.1.100\n    port: 80\n    one_packet: true",
         "lvsd.yaml:5:17: one-packet scheduling is only for UDP services and groups"),
        ("  - address: 10.0.1.100\n    port: 80\n    udp_timeout: 5",
         "lvsd.yaml:5:18: 'udp_timeout' is only for UDP services and groups"),
        ("  - address: 10.0.1.100\n    port: 80\n    match: [tcp:10.0.1.100:80]",
         "lvsd.yaml:5:12: 'match' is only for groups: add 'fwmark: N' to the service"),
    ])
    func configurationErrors(_ service: String, _ expected: String) {
        let text = "interfaces: [d0]\nservices:\n" + service + "\n"
        do {
            _ = try LVSDConfiguration.parse(text: text, file: "lvsd.yaml")
            Issue.record("accepted: \(service)")
        } catch {
            #expect(error.description.hasPrefix(expected), "\(error.description)")
        }
    }

    @Test func metricsCarryGroupsAndRates() {
        let bench = AdminBench()
        bench.ok("-A -f 7 -s rr --match tcp:10.0.0.100:80")
        bench.ok("-a -f 7 -r 192.168.100.4 -m")
        let services = bench.director.services()
        bench.rates.tick(services: services, now: Timestamp(milliseconds: 0))
        for i in 0..<50 {
            bench.send(syn("192.0.2.\(i + 1)", 1000, to: "10.0.0.100", 80))
        }
        bench.rates.tick(services: bench.director.services(), now: Timestamp(milliseconds: 2000))
        let text = Metrics.render(services: bench.director.services(), counters: bench.director.counters,
                                  connectionCount: bench.director.connectionCount, capacity: 4096, rates: bench.rates)
        let labels = "protocol=\"fwm\",local_address=\"\",local_port=\"0\",local_mark=\"7\""
        #expect(text.contains("lvs_service_connections_total{\(labels)} 50\n"))
        // 50 connections in 2 s into IPVS's EWMA (weight 1/4 at the first tick): 25/s * 1/4 = 6.25 → 6.
        let line = text.split(separator: "\n").first { $0.hasPrefix("lvs_service_rate_connections_per_second{\(labels)}") }
        #expect(line != nil)
        let value = line.flatMap { UInt64($0.split(separator: " ").last!) } ?? 0
        #expect(value > 0 && value <= 25, "\(line ?? "")")
        #expect(text.contains("# TYPE lvs_backend_rate_incoming_packets_per_second gauge"))
    }
}

/// -E keeps the FULLNAT/Double-NAT service extensions it does not name, as it keeps groups' entries.
@Suite struct ServiceExtensionEditTests {
    @Test func editKeepsLocalAddressesAndRange() {
        let bench = AdminBench()
        bench.ok("-A -t 10.0.0.100:80 -s rr --laddr 172.16.40.10 --vdport-range 2000-3000 --client-address proxy_v2")
        bench.ok("-E -t 10.0.0.100:80 -s wlc")
        #expect(bench.ok("-S -n")
            == "-A -t 10.0.0.100:80 -s wlc --vdport-range 2000-3000 --laddr 172.16.40.10 --client-address proxy_v2\n")
        let r = bench.run("-a -f 9 -r 10.0.0.2 --double-nat")
        #expect(r.status != 0)
        bench.ok("-A -f 9 --match tcp:10.0.0.100:81")
        let g = bench.run("-a -f 9 -r 10.0.0.2 --double-nat")
        #expect(g.stderr.contains("FULLNAT and Double-NAT real servers need an address service"), "\(g.stderr)")
    }
}

/// A group edited from plain rr to persistent (-E -p) keeps its entries and starts templating.
@Suite struct GroupEditToPersistentTests {
    @Test func editToPersistent() {
        var bench = AdminBench()
        bench.ok("-A -f 5 -s rr --match tcp:10.0.0.100:9000-9001")
        for i in 2...4 { bench.ok("-a -f 5 -r 192.168.10.\(i):8080 -m") }
        func syn(_ port: UInt16, _ dport: UInt16) -> Verdict {
            bench.send(PacketBuilder().ethernet().ipv4(src: IPAddress("10.0.1.2")!, dst: IPAddress("10.0.0.100")!)
                .tcp(src: port, dst: dport, flags: TCPFlag.syn).bytes())
        }
        #expect(syn(1000, 9000) == .forward(side: .realServer, nextHop: IPAddress("192.168.10.2")!))
        #expect(syn(1001, 9001) == .forward(side: .realServer, nextHop: IPAddress("192.168.10.3")!))
        bench.ok("-E -f 5 -s rr -p 60")
        bench.now = Timestamp(milliseconds: 2000)
        var hops: Set<IPAddress> = []
        for i in 0..<10 {
            if case .forward(_, let hop) = syn(UInt16(2000 + i), UInt16(9000 + i % 2)) { hops.insert(hop) }
        }
        #expect(hops.count == 1)
        let conns = bench.ok("-L -n -c")
        #expect(conns.contains("IP  01:00  NONE        10.0.1.2:0         0.0.0.5:0 "), "\(conns)")
        #expect(conns.split(separator: "\n").count == 2 + 1 + 12, "\(conns)")
    }
}
