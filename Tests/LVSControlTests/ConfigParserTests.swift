#if canImport(Glibc)
import Glibc
#endif
import LVSEngine
import LVSPacket
import Testing

@testable import LVSControl

/// The YAML file: valid files give the expected model; every invalid one gives the exact
/// `FILE:LINE:COLUMN: message`, pointing at the offending node.
@Suite struct ConfigParserTests {
    static let fullExample = """
        # lvsd configuration (docs/CONFIGURATION.md)
        control_socket: /run/lvsd.sock
        metrics_listen: 127.0.0.1:9117
        connection_capacity: 1048576
        interfaces: [d0, d1]
        gateway: 10.0.1.254
        timeouts: {tcp: 900, tcpfin: 120, udp: 300}
        services:
          - protocol: tcp
            address: 10.0.1.100
            port: 80
            scheduler: wlc
            real_servers:
              - address: 192.168.10.2
                port: 8080
                weight: 1
                method: nat
              - address: 192.168.10.3
                port: 8080
                weight: 3
                upper_threshold: 1000
                lower_threshold: 800
          - protocol: udp
            address: 10.0.1.100
            port: 53
            scheduler: rr
            real_servers:
              - {address: 192.168.10.2, port: 5353}
          - address: 10.0.1.101
            port: 443
            real_servers:
              - address: 10.0.1.21
                method: dr
                weight: 2
              - address: 10.0.1.22
                port: 443
                method: dr
              - address: 10.0.1.23
                method: tun
                tunnel: {type: gue, port: 6080}
          - address: 2001:db8::100
            port: 80
            scheduler: wrr
            real_servers:
              - address: fd00:10::2
                port: 8080
                weight: 0

        """

    func ip(_ s: String) -> IPAddress { IPAddress(s)! }

    @Test func fullExampleParses() throws {
        let c = try LVSDConfiguration.parse(text: Self.fullExample, file: "lvsd.yaml")
        let web = ServiceKey(.tcp, ip("10.0.1.100"), 80)
        let dns = ServiceKey(.udp, ip("10.0.1.100"), 53)
        let tls = ServiceKey(.tcp, ip("10.0.1.101"), 443)
        let web6 = ServiceKey(.tcp, ip("2001:db8::100"), 80)
        let expected = LVSDConfiguration(
            controlSocket: "/run/lvsd.sock",
            metricsListen: ListenAddress(ip("127.0.0.1"), 9117),
            connectionCapacity: 1_048_576,
            interfaces: ["d0", "d1"],
            gateway: ip("10.0.1.254"),
            timeouts: ConfigTimeouts(tcp: 900, tcpfin: 120, udp: 300),
            services: [
                ConfiguredService(ServiceSpec(web, scheduler: "wlc"), [
                    DestinationSpec(address: ip("192.168.10.2"), port: 8080, weight: 1, method: .masquerade),
                    DestinationSpec(address: ip("192.168.10.3"), port: 8080, weight: 3, upperThreshold: 1000,
                                    lowerThreshold: 800),
                ]),
                ConfiguredService(ServiceSpec(dns, scheduler: "rr"), [
                    DestinationSpec(address: ip("192.168.10.2"), port: 5353),
                ]),
                ConfiguredService(ServiceSpec(tls, scheduler: "wlc"), [
                    DestinationSpec(address: ip("10.0.1.21"), port: 443, weight: 2, method: .directRoute),
                    DestinationSpec(address: ip("10.0.1.22"), port: 443, weight: 1, method: .directRoute),
                    DestinationSpec(address: ip("10.0.1.23"), port: 443, method: .tunnel,
                                    tunnel: TunnelSettings(type: .gue, port: 6080)),
                ]),
                ConfiguredService(ServiceSpec(web6, scheduler: "wrr"), [
                    DestinationSpec(address: ip("fd00:10::2"), port: 8080, weight: 0),
                ]),
            ])
        #expect(c == expected)
    }

    @Test func minimalConfigTakesDefaults() throws {
        let c = try LVSDConfiguration.parse(text: "interfaces: [eth1]\n")
        #expect(c == LVSDConfiguration(interfaces: ["eth1"]))
        #expect(c.controlSocket == "/run/lvsd.sock")
        #expect(c.connectionCapacity == 1_048_576)
        #expect(c.realtimePriority == 0)
        #expect(try LVSDConfiguration.parse(text: "interfaces: [eth1]\nrealtime_priority: 50\n").realtimePriority == 50)
    }

    @Test func serviceAndServerDefaults() throws {
        let c = try LVSDConfiguration.parse(text: """
            interfaces:
              - d0
            services:
              - address: 10.0.0.1
                port: 25
                real_servers:
                  - address: 10.1.0.1
            """)
        #expect(c.services == [
            ConfiguredService(ServiceSpec(ServiceKey(.tcp, ip("10.0.0.1"), 25), scheduler: "wlc"),
                              [DestinationSpec(address: ip("10.1.0.1"), port: 25, weight: 1, upperThreshold: 0,
                                               lowerThreshold: 0, method: .masquerade)]),
        ])
    }

    @Test func nullOptionalKeysTakeDefaults() throws {
        let c = try LVSDConfiguration.parse(text: """
            control_socket:
            metrics_listen: ~
            interfaces: [d0]
            gateway: null
            timeouts:
            services:
            """)
        #expect(c == LVSDConfiguration(interfaces: ["d0"]))
    }

    @Test func partialTimeoutsKeepOtherDefaults() throws {
        let c = try LVSDConfiguration.parse(text: "interfaces: [d0]\ntimeouts:\n  udp: 30\n")
        #expect(c.timeouts == ConfigTimeouts(tcp: 900, tcpfin: 120, udp: 30))
    }

    @Test func ipv6MetricsAndGateway() throws {
        let c = try LVSDConfiguration.parse(text: """
            metrics_listen: "[::1]:9200"
            interfaces: [d0]
            gateway: fe80::1
            """)
        #expect(c.metricsListen == ListenAddress(ip("::1"), 9200))
        #expect(c.gateway == ip("fe80::1"))
    }

    @Test func quotedStringsAreStrings() throws {
        let c = try LVSDConfiguration.parse(text: """
            control_socket: "/var/run/lvs d.sock"
            interfaces: ['d0']
            services:
              - {protocol: 'udp', address: "10.0.0.5", port: 53, scheduler: "lc"}
            """)
        #expect(c.controlSocket == "/var/run/lvs d.sock")
        #expect(c.services[0].spec == ServiceSpec(ServiceKey(.udp, ip("10.0.0.5"), 53), scheduler: "lc"))
    }

    @Test func drServerMayRepeatTheServicePort() throws {
        let c = try LVSDConfiguration.parse(text: """
            interfaces: [d0]
            services:
              - {address: 10.0.0.1, port: 80, real_servers: [{address: 10.0.0.9, port: 80, method: dr}]}
            """)
        #expect(c.services[0].destinations == [DestinationSpec(address: ip("10.0.0.9"), port: 80, method: .directRoute)])
    }

    @Test func tunServersWithTheirTunnels() throws {
        let c = try LVSDConfiguration.parse(text: """
            interfaces: [d0]
            services:
              - address: 10.0.0.1
                port: 80
                real_servers:
                  - {address: 10.0.0.9, method: tun}
                  - {address: 10.0.0.10, method: tun, tunnel: {type: gue, port: 6080}}
                  - {address: 10.0.0.11, method: tun, tunnel: {type: gue, port: 6081, checksum: true}}
            """)
        #expect(c.services[0].destinations == [
            DestinationSpec(address: ip("10.0.0.9"), port: 80, method: .tunnel, tunnel: TunnelSettings(type: .ipip)),
            DestinationSpec(address: ip("10.0.0.10"), port: 80, method: .tunnel, tunnel: TunnelSettings(type: .gue, port: 6080)),
            DestinationSpec(address: ip("10.0.0.11"), port: 80, method: .tunnel,
                            tunnel: TunnelSettings(type: .gue, port: 6081, udpChecksum: true)),
        ])
    }

    @Test func sameEndpointInDifferentProtocolsIsNoDuplicate() throws {
        let c = try LVSDConfiguration.parse(text: """
            interfaces: [d0]
            services:
              - {protocol: tcp, address: 10.0.0.1, port: 53}
              - {protocol: udp, address: 10.0.0.1, port: 53}
            """)
        #expect(c.services.count == 2)
    }

    @Test func ipv6InFlowStyle() throws {
        let c = try LVSDConfiguration.parse(text: """
            interfaces: [d0]
            services:
              - {address: "2001:db8::1", port: 80, real_servers: [{address: "fd00::2"}, {address: fd00::3}]}
            """)
        #expect(c.services[0].destinations.map(\.address) == [ip("fd00::2"), ip("fd00::3")])
    }

    /// The example in docs/CONFIGURATION.md is valid and means what the full example above means.
    @Test func documentedExampleParses() throws {
        let root = String(#filePath.split(separator: "/", omittingEmptySubsequences: false).dropLast(3)
            .joined(separator: "/"))
        let path = root + "/docs/CONFIGURATION.md"
        let doc = try ConfigFile.read(path)
        guard let start = doc.firstRange(of: "```yaml\n") else {
            Issue.record("no yaml block in \(path)")
            return
        }
        let rest = doc[start.upperBound...]
        guard let end = rest.firstRange(of: "```") else {
            Issue.record("unterminated yaml block in \(path)")
            return
        }
        let c = try LVSDConfiguration.parse(text: String(rest[..<end.lowerBound]), file: path)
        #expect(c == (try LVSDConfiguration.parse(text: Self.fullExample)))
    }

    // MARK: Errors

    /// (file text, expected description). The file is named `lvsd.yaml`.
    static let badConfigs: [(String, String)] = [
        // Unknown keys, at every level.
        ("interfaces: [d0]\nmetric_listen: 127.0.0.1:9117\n",
         "lvsd.yaml:2:1: unknown key 'metric_listen' in the configuration (allowed: control_socket, metrics_listen, "
            + "connection_capacity, interfaces, gateway, realtime_priority, timeouts, expire_quiescent_template, services, l7)"),
        ("""
         interfaces: [d0]
         services:
           - address: 10.0.1.100
             port: 80
             schedular: rr
         """,
         "lvsd.yaml:5:5: unknown key 'schedular' in a service (allowed: protocol, address, port, fwmark, match, scheduler, scheduler_flags, persistence, one_packet, udp_timeout, vdport_range, local_addresses, client_address, real_servers)"),
        ("""
         interfaces: [d0]
         services:
           - address: 10.0.1.100
             port: 80
             real_servers:
               - address: 192.168.10.2
                 wieght: 2
         """,
         "lvsd.yaml:7:9: unknown key 'wieght' in a real server (allowed: address, port, weight, method, "
            + "tunnel, upper_threshold, lower_threshold)"),
        ("interfaces: [d0]\ntimeouts: {tcp: 10, fin: 10}\n",
         "lvsd.yaml:2:21: unknown key 'fin' in 'timeouts' (allowed: tcp, tcpfin, udp, close, close_wait, last_ack, listen, none, syn_recv, syn_sent, synack, time_wait)"),
        // Wrong types.
        ("interfaces: [d0]\nservices:\n  - address: 10.0.1.100\n    port: http\n",
         "lvsd.yaml:4:11: 'port' must be an integer, got 'http'"),
        ("interfaces: [d0]\nservices:\n  - address: 10.0.1.100\n    port: \"80\"\n",
         "lvsd.yaml:4:11: 'port' must be an integer, got the quoted string '80'"),
        ("interfaces: [d0]\nservices:\n  - address: 10.0.1.100\n    port: 80.0\n",
         "lvsd.yaml:4:11: 'port' must be an integer, got '80.0'"),
        ("interfaces: [d0]\nservices:\n  - address: 10.0.1.100\n    port: [80]\n",
         "lvsd.yaml:4:11: 'port' must be an integer, got a sequence"),
        ("interfaces: d0\n",
         "lvsd.yaml:1:13: 'interfaces' must be a list of interface names, got 'd0'"),
        ("interfaces: [d0]\nservices: {address: 10.0.0.1}\n",
         "lvsd.yaml:2:11: 'services' must be a list of services, got a mapping"),
        ("interfaces: [d0]\nservices:\n  - 10.0.0.1:80\n",
         "lvsd.yaml:3:5: a service must be a mapping, got '10.0.0.1:80'"),
        ("interfaces: [d0]\ntimeouts: 900\n",
         "lvsd.yaml:2:11: 'timeouts' must be a mapping, got '900'"),
        ("interfaces: [d0]\nservices:\n  - address: 10.0.1.100\n    port: 80\n    real_servers: 192.168.10.2\n",
         "lvsd.yaml:5:19: 'real_servers' must be a list of real servers, got '192.168.10.2'"),
        ("interfaces: [d0, [d1]]\n",
         "lvsd.yaml:1:18: 'interfaces' must be a string, got a sequence"),
        ("interfaces: [d0]\nservices:\n  - address:\n    port: 80\n",
         "lvsd.yaml:3:13: 'address' must be a string, got null"),
        // Bad addresses.
        ("interfaces: [d0]\nservices:\n  - address: 10.0.1.300\n    port: 80\n",
         "lvsd.yaml:3:14: 'address' is not an IPv4 or IPv6 address: '10.0.1.300'"),
        ("interfaces: [d0]\ngateway: 10.0.1\n",
         "lvsd.yaml:2:10: 'gateway' is not an IPv4 or IPv6 address: '10.0.1'"),
        ("interfaces: [d0]\nservices:\n  - address: 0.0.0.0\n    port: 80\n",
         "lvsd.yaml:3:14: 'address' must be a unicast address, got 0.0.0.0"),
        ("interfaces: [d0]\nservices:\n  - address: 224.0.0.5\n    port: 80\n",
         "lvsd.yaml:3:14: 'address' must be a unicast address, got 224.0.0.5"),
        ("metrics_listen: 10.0.0.1:9117\ninterfaces: [d0]\n",
         "lvsd.yaml:1:17: 'metrics_listen' must be a loopback address (127.0.0.0/8 or ::1), got 10.0.0.1"),
        ("metrics_listen: 127.0.0.1\ninterfaces: [d0]\n",
         "lvsd.yaml:1:17: 'metrics_listen' must be ADDRESS:PORT (e.g. 127.0.0.1:9117 or [::1]:9117), got '127.0.0.1'"),
        ("metrics_listen: 127.0.0.1:99999\ninterfaces: [d0]\n",
         "lvsd.yaml:1:17: the port of 'metrics_listen' must be 1..65535, got 99999"),
        // Out of range.
        ("interfaces: [d0]\nservices:\n  - address: 10.0.1.100\n    port: 70000\n",
         "lvsd.yaml:4:11: 'port' must be 0..65535, got 70000"),
        ("interfaces: [d0]\nservices:\n  - address: 10.0.1.100\n    port: 0\n",
         "lvsd.yaml:4:11: port 0 (all ports) needs 'persistence' (as in ipvsadm)"),
        ("interfaces: [d0]\nservices:\n  - address: 10.0.1.100\n    port: -80\n",
         "lvsd.yaml:4:11: 'port' must be 0..65535, got -80"),
        ("interfaces: [d0]\nservices:\n  - address: 10.0.1.100\n    port: 99999999999999999999999\n",
         "lvsd.yaml:4:11: 'port' must be 0..65535, got 99999999999999999999999"),
        ("interfaces: [d0]\nconnection_capacity: 100\n",
         "lvsd.yaml:2:22: 'connection_capacity' must be 1024..134217728, got 100"),
        ("interfaces: [d0]\nrealtime_priority: 100\n",
         "lvsd.yaml:2:20: 'realtime_priority' must be 0..99, got 100"),
        ("interfaces: [d0]\ntimeouts: {tcp: 0}\n",
         "lvsd.yaml:2:17: 'tcp' must be 1..2592000, got 0"),
        ("""
         interfaces: [d0]
         services:
           - address: 10.0.1.100
             port: 80
             real_servers:
               - address: 192.168.10.2
                 weight: 65536
         """,
         "lvsd.yaml:7:17: 'weight' must be 0..65535, got 65536"),
        ("""
         interfaces: [d0]
         services:
           - address: 10.0.1.100
             port: 80
             real_servers:
               - address: 192.168.10.2
                 upper_threshold: 100
                 lower_threshold: 200
         """,
         "lvsd.yaml:8:26: 'lower_threshold' (200) must not exceed 'upper_threshold' (100)"),
        // Names.
        ("interfaces: [d0]\nservices:\n  - address: 10.0.1.100\n    port: 80\n    scheduler: fifo\n",
         "lvsd.yaml:5:16: unknown scheduler 'fifo' (available: dh, fo, lblc, lblcr, lc, mh, nq, ovf, rr, sed, sh, twos, wlc, wrr)"),
        ("interfaces: [d0]\nservices:\n  - protocol: sctp\n    address: 10.0.1.100\n    port: 80\n",
         "lvsd.yaml:3:15: 'protocol' must be tcp or udp, got 'sctp'"),
        ("interfaces: [d0]\nservices:\n  - address: 10.0.1.100\n    port: 80\n    real_servers:\n      - {address: 10.0.0.2, method: gre}\n",
         "lvsd.yaml:6:37: 'method' must be nat, dr, tun, doublenat or fullnat, got 'gre'"),
        ("interfaces: [d0]\nservices:\n  - address: 10.0.1.100\n    port: 80\n    real_servers:\n      - {address: 10.0.0.2, method: tun, tunnel: {type: gue}}\n",
         "lvsd.yaml:6:50: a gue tunnel is missing the required key 'port' (the real server's lvs-tunnel UDP port)"),
        ("interfaces: [d0]\nservices:\n  - address: 10.0.1.100\n    port: 80\n    real_servers:\n      - {address: 10.0.0.2, method: nat, tunnel: {type: ipip}}\n",
         "lvsd.yaml:6:50: 'tunnel' applies only to real servers with 'method: tun'"),
        ("interfaces: [d0]\nservices:\n  - address: 10.0.1.100\n    port: 80\n    real_servers:\n      - {address: 10.0.0.2, method: tun, tunnel: {type: ipip, port: 6080}}\n",
         "lvsd.yaml:6:69: 'port' applies only to 'type: gue' tunnels"),
        ("interfaces: [d0]\nservices:\n  - address: 10.0.1.100\n    port: 80\n    real_servers:\n      - {address: 10.0.0.2, method: tun, tunnel: {type: gre}}\n",
         "lvsd.yaml:6:57: 'type' must be ipip or gue, got 'gre'"),
        ("interfaces: [d0, averyveryverylongname]\n",
         "lvsd.yaml:1:18: interface name 'averyveryverylongname' must be 1..15 bytes long"),
        ("interfaces: [d0, 'd 1']\n",
         "lvsd.yaml:1:18: 'd 1' is not a valid interface name"),
        ("interfaces: [d0, d1, d0]\n",
         "lvsd.yaml:1:22: interface 'd0' is listed twice"),
        ("interfaces: []\n",
         "lvsd.yaml:1:13: 'interfaces' must list at least one interface"),
        ("control_socket: run/lvsd.sock\ninterfaces: [d0]\n",
         "lvsd.yaml:1:17: 'control_socket' must be an absolute path, got 'run/lvsd.sock'"),
        // Missing keys.
        ("gateway: 10.0.1.254\n",
         "lvsd.yaml:1:1: the configuration is missing the required key 'interfaces'"),
        ("interfaces: [d0]\nservices:\n  - address: 10.0.1.100\n    scheduler: rr\n",
         "lvsd.yaml:3:5: a service is missing the required key 'port'"),
        ("interfaces: [d0]\nservices:\n  - address: 10.0.1.100\n    port: 80\n    real_servers:\n      - port: 80\n",
         "lvsd.yaml:6:9: a real server is missing the required key 'address'"),
        // Duplicates.
        ("""
         interfaces: [d0]
         services:
           - address: 10.0.1.100
             port: 80
           - protocol: tcp
             address: 10.0.1.100
             port: 80
         """,
         "lvsd.yaml:5:5: duplicate service TCP 10.0.1.100:80 (first defined at line 3)"),
        ("""
         interfaces: [d0]
         services:
           - address: 10.0.1.100
             port: 80
             real_servers:
               - address: 192.168.10.2
               - address: 192.168.10.3
               - address: 192.168.10.2
                 port: 80
         """,
         "lvsd.yaml:8:9: duplicate real server 192.168.10.2:80 in service TCP 10.0.1.100:80 (first defined at line 6)"),
        ("interfaces: [d0]\ngateway: 10.0.1.254\ngateway: 10.0.1.253\n",
         "lvsd.yaml:2:1: duplicate key 'gateway' in the same mapping"),
        // Address families and DR ports.
        ("""
         interfaces: [d0]
         services:
           - address: 10.0.1.100
             port: 80
             real_servers:
               - address: fd00::2
                 method: nat
         """,
         "lvsd.yaml:6:18: real server fd00::2 is IPv6 but the virtual service TCP 10.0.1.100:80 is IPv4: both must be "
            + "of the same address family"),
        ("""
         interfaces: [d0]
         services:
           - address: 10.0.1.100
             port: 80
             real_servers:
               - address: 192.168.10.2
                 method: dr
                 port: 8080
         """,
         "lvsd.yaml:8:15: a dr real server receives packets unchanged, so its port must be the service port 80, "
            + "got 8080"),
        // Not a configuration at all.
        ("", "lvsd.yaml:1:1: the configuration is empty (at least 'interfaces' is required)"),
        ("# only a comment\n", "lvsd.yaml:1:1: the configuration is empty (at least 'interfaces' is required)"),
        ("- d0\n- d1\n", "lvsd.yaml:1:1: the configuration must be a mapping of settings, got a sequence"),
        // YAML syntax, with Yams' line and column.
        ("interfaces: [d0]\ngateway: 10.0.1.254: 1\n",
         "lvsd.yaml:2:20: YAML syntax error: mapping values are not allowed in this context"),
        // (libyaml reads "d1 gateway" as one flow scalar; the ':' after it is the unexpected token.)
        ("interfaces: [d0, d1\ngateway: 10.0.1.254\n",
         "lvsd.yaml:2:8: YAML syntax error: did not find expected ',' or ']' (while parsing a flow sequence at line 1, "
            + "column 13)"),
        ("interfaces: [d0]\nservices:\n  - address: 10.0.1.100\n   port: 80\n",
         "lvsd.yaml:4:4: YAML syntax error: did not find expected '-' indicator (while parsing a block collection at "
            + "line 3, column 3)"),
        ("interfaces: [d0]\nservices: *nowhere\n",
         "lvsd.yaml:2:11: YAML syntax error: found undefined alias"),
    ]

    @Test(arguments: badConfigs)
    func badConfigIsRejectedAtTheNode(_ text: String, _ expected: String) {
        #expect(throws: ConfigError.self) { try LVSDConfiguration.parse(text: text, file: "lvsd.yaml") }
        do {
            _ = try LVSDConfiguration.parse(text: text, file: "lvsd.yaml")
        } catch {
            #expect(error.description == expected)
        }
    }

    /// An error deep in the file, in the full example: the line is counted in the whole file.
    @Test func errorLineInTheFullExample() {
        let text = Self.fullExample.replacing("weight: 3", with: "weight: heavy", maxReplacements: 1)
        #expect(text != Self.fullExample)
        do {
            _ = try LVSDConfiguration.parse(text: text, file: "/etc/lvsd.yaml")
            Issue.record("expected an error")
        } catch {
            #expect(error.description == "/etc/lvsd.yaml:20:17: 'weight' must be an integer, got 'heavy'")
        }
    }

    // MARK: Files

    @Test func loadReadsAFile() throws {
        let path = "/tmp/lvsd-config-test-\(getpid())-load.yaml"
        try writeFile(path, Self.fullExample)
        defer { unlink(path) }
        let c = try LVSDConfiguration.load(path: path)
        #expect(c == (try LVSDConfiguration.parse(text: Self.fullExample)))
    }

    @Test func loadNamesTheFileInErrors() throws {
        let path = "/tmp/lvsd-config-test-\(getpid())-error.yaml"
        try writeFile(path, "interfaces: [d0]\nbogus: 1\n")
        defer { unlink(path) }
        do {
            _ = try LVSDConfiguration.load(path: path)
            Issue.record("expected an error")
        } catch {
            #expect(error.description.hasPrefix("\(path):2:1: unknown key 'bogus'"))
        }
    }

    @Test func missingFile() {
        do {
            _ = try LVSDConfiguration.load(path: "/nonexistent/lvsd.yaml")
            Issue.record("expected an error")
        } catch {
            #expect(error.description == "/nonexistent/lvsd.yaml: cannot open: No such file or directory")
        }
    }

    @Test func invalidUTF8File() throws {
        let path = "/tmp/lvsd-config-test-\(getpid())-utf8.yaml"
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        #expect(fd >= 0)
        let bytes: [UInt8] = Array("interfaces: [d".utf8) + [0xff, 0xfe] + Array("]\n".utf8)
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        defer { unlink(path) }
        do {
            _ = try LVSDConfiguration.load(path: path)
            Issue.record("expected an error")
        } catch {
            #expect(error.description == "\(path): not valid UTF-8")
        }
    }

    func writeFile(_ path: String, _ text: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { throw ConfigError(file: path, line: nil, column: nil, message: "cannot create") }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        #expect(n == bytes.count)
    }
}


/// Per-state TCP timeouts: a SwiftLVS extension beyond ipvsadm's tcp/tcpfin/udp.
@Suite struct StateTimeoutConfigTests {
    @Test func stateTimeoutsParseAndReachTheEngine() throws {
        let config = try LVSDConfiguration.parse(
            text: "interfaces: [d0]\ntimeouts: {tcp: 5, time_wait: 2, close: 1, syn_recv: 7}\n", file: "t.yaml")
        #expect(config.timeouts.states == [.timeWait: 2, .close: 1, .synRecv: 7])
        let t = config.timeouts.engineTimeouts
        #expect(t[.timeWait] == 2000 && t[.close] == 1000 && t[.synRecv] == 7000 && t[.established] == 5000)
        #expect(t[.lastAck] == Timeouts.ipvsDefaults[.lastAck])
        let d = Director(DirectorConfiguration(connectionCapacity: 1024))
        _ = try ConfigApplier.apply(config, to: d)
        #expect(d.currentTimeouts == t)
        #expect(ConfigTimeouts(d.currentTimeouts) == config.timeouts)
    }

    @Test func stateTimeoutOutOfRangeIsRejectedAtItsNode() {
        #expect(throws: ConfigError.self) {
            try LVSDConfiguration.parse(text: "interfaces: [d0]\ntimeouts: {time_wait: 0}\n", file: "t.yaml")
        }
    }
}
