import LVSEngine
import LVSPacket
import Testing

@testable import LVSControl

/// keepalived.conf input: the fixtures (realistic files) load into the expected model or fail
/// with an exact FILE:LINE:COLUMN reason; warnings name FILE:LINE.
@Suite struct KeepalivedConfigTests {
    static let dir: String = {
        let here = #filePath
        return String(here[..<here.lastIndex(of: "/")!]) + "/Fixtures/keepalived"
    }()

    static func load(_ name: String) throws -> KeepalivedConfiguration {
        try LVSDConfiguration.loadAny(path: "\(dir)/\(name)")
    }

    static func failure(_ name: String) -> String {
        do {
            _ = try load(name)
            return "loaded"
        } catch {
            return "\(error)".replacingPrefix(dir + "/", with: "")
        }
    }

    static func failure(text: String) -> String {
        do {
            _ = try LVSDConfiguration.parseKeepalived(text: text, file: "k.conf")
            return "loaded"
        } catch {
            return "\(error)"
        }
    }

    @Test func natHTTPFarm() throws {
        let k = try Self.load("nat-http-farm.conf")
        let c = k.configuration
        #expect(c.interfaces == ["eth0", "eth1"])
        #expect(c.realtimePriority == 0)
        let rt = try LVSDConfiguration.parseKeepalived(text: "global_defs {\n lvsd_interfaces d0\n lvsd_realtime_priority 20\n}\n", file: "k.conf")
        #expect(rt.configuration.realtimePriority == 20)
        #expect(c.services.count == 1)
        let s = c.services[0]
        #expect(s.key == ServiceKey(.tcp, IPAddress("192.168.200.16")!, 80))
        #expect(s.spec.scheduler == "wlc")
        #expect(s.spec.persistence?.timeout == 50_000)
        #expect(s.destinations.map { "\(Endpoint($0.address, $0.port)) \($0.weight) \($0.method)" }
            == ["10.10.10.2:8080 1 Masq", "10.10.10.3:8080 2 Masq"])
        let h = c.health[0]
        #expect(h.quorum == 1 && h.sorryServer == nil)
        let first = h.servers[0].checks[0]
        #expect(first.delayLoop == 6 && first.connectTimeout == 3 && first.retry == 3 && first.delayBeforeRetry == 3)
        #expect(first.kind == .http([
            HTTPCheckURL(path: "/testurl/test.jsp", statusCodes: [200...299], digest: "640205b7b0fc66c1ea91c463fac6334d"),
            HTTPCheckURL(path: "/testurl2/test.jsp", statusCodes: [200...299], digest: "640205b7b0fc66c1ea91c463fac6334d"),
        ], virtualhost: nil))
        let second = h.servers[1].checks[0]
        #expect(second.retry == 2 && second.delayBeforeRetry == 3, "nb_get_retry is retry; HTTP_GET's default delay_before_retry is 3")
        #expect(second.kind == .http([HTTPCheckURL(path: "/health", statusCodes: [200...200, 204...204])], virtualhost: nil))
        let warnings = k.warnings.map { $0.description.replacingPrefix(Self.dir + "/", with: "") }
        #expect(warnings == [
            "nat-http-farm.conf:4: warning: global_defs notification_email ignored by lvsd",
            "nat-http-farm.conf:7: warning: global_defs notification_email_from ignored by lvsd",
            "nat-http-farm.conf:8: warning: global_defs smtp_server ignored by lvsd",
            "nat-http-farm.conf:9: warning: global_defs smtp_connect_timeout ignored by lvsd",
            "nat-http-farm.conf:10: warning: global_defs router_id ignored by lvsd",
            "nat-http-farm.conf:14: warning: vrrp_instance ignored: lvsd implements the LVS part of keepalived.conf only (no VRRP, SSL or static routes)",
        ])
    }

    @Test func directRoutingWithTCPChecks() throws {
        let c = try Self.load("dr-tcp-check.conf").configuration
        #expect(c.timeouts == ConfigTimeouts(tcp: 7200, tcpfin: 60, udp: 300))
        #expect(c.services.map(\.key.port) == [443, 3306])
        let https = c.services[0]
        #expect(https.spec.scheduler == "sh" && https.spec.schedulerFlags != 0)
        #expect(https.spec.persistence == Persistence(timeout: 360_000, netmask: 0xffff_ff00))
        #expect(https.destinations.allSatisfy { $0.method == .directRoute && $0.weight == 100 })
        #expect(https.destinations[1].upperThreshold == 5000 && https.destinations[1].lowerThreshold == 4000)
        let tcp = c.health[0].servers[0].checks[0]
        #expect(tcp == HealthCheckSpec(kind: .tcp, connectPort: 443, delayLoop: 10, connectTimeout: 2, retry: 2, delayBeforeRetry: 1))
        // A real server without a port takes the virtual port.
        #expect(c.services[1].destinations.map(\.port) == [3306, 3306])
        #expect(c.health[1].servers[1].checks[0].retry == 1, "keepalived's default retry")
    }

    @Test func virtualServerGroupExpands() throws {
        let c = try Self.load("group.conf").configuration
        #expect(c.services.map { "\($0.key)" } == ["TCP 10.0.0.100:80", "TCP 10.0.0.110:80", "TCP 10.0.0.111:80", "TCP 10.0.0.112:80"])
        #expect(c.services.allSatisfy { $0.destinations.count == 2 })
        #expect(c.health.map(\.key) == c.services.map(\.key))
    }

    @Test func miscCheckQuorumSorryServer() throws {
        let c = try Self.load("misc-sorry.conf").configuration
        let h = c.health[0]
        #expect(h.key == ServiceKey(.udp, IPAddress("10.0.1.100")!, 53))
        #expect(h.quorum == 2 && h.hysteresis == 1)
        #expect(h.quorumUp == "/usr/local/bin/page-ops up" && h.quorumDown == "/usr/local/bin/page-ops down")
        #expect(h.sorryServer == DestinationSpec(address: IPAddress("192.168.10.200")!, port: 53))
        #expect(h.servers.allSatisfy { $0.alpha && $0.inhibitOnFailure })
        #expect(h.servers[0].checks[0].kind == .misc(command: "/usr/local/bin/check-dns 192.168.10.2", timeout: 4, dynamic: true))
        #expect(h.servers[0].checks[0].retry == 0, "MISC_CHECK's default retry is 0")
        #expect(h.servers[1].checks[0].kind == .dns(name: "example.org", type: 1))
        #expect(h.servers[1].notifyDown == "/usr/local/bin/page-ops rs 192.168.10.3 down")
    }

    @Test func includesAreSplicedInOrder() throws {
        let k = try Self.load("with-include.conf")
        let c = k.configuration
        #expect(c.controlSocket == "/run/lvsd-test.sock")
        #expect(c.metricsListen == ListenAddress(IPAddress(127, 0, 0, 1), 9117))
        #expect(c.services.map(\.key.port) == [80, 81])
        #expect(c.health[1].servers[0].checks[0].kind == .agent)
        #expect(c.health[1].servers[0].checks[0].connectPort == 9999)
        #expect(k.warnings.map { $0.description.replacingPrefix(Self.dir + "/", with: "") }
            == ["with-include.conf:8: warning: include conf.d/none-*.conf: no file matches"])
    }

    @Test func sslGet() throws {
        let c = try Self.load("ssl-get.conf").configuration
        #expect(c.services[0].spec.persistence == nil)
        let h = c.health[0]
        #expect(h.servers[0].checks[0] == HealthCheckSpec(
            kind: .ssl([HTTPCheckURL(path: "/healthz", statusCodes: [200...200])], virtualhost: nil),
            delayLoop: 6, connectTimeout: 3, retry: 3, delayBeforeRetry: 3))
        #expect(h.servers[1].checks[0].kind
            == .ssl([HTTPCheckURL(path: "/healthz", statusCodes: [200...200])], virtualhost: "kubernetes.default"))
    }

    @Test func tunnelledOnePacketDNS() throws {
        let c = try Self.load("tun-dns-ops.conf").configuration
        let svc = c.services[0]
        #expect(svc.key == ServiceKey(.udp, IPAddress("10.0.0.53")!, 53))
        #expect(svc.spec.onePacket)
        #expect(svc.destinations.map(\.method) == [.tunnel, .tunnel])
        #expect(svc.destinations.map(\.weight) == [1, 2])
    }

    @Test func fullNATAndDoubleNAT() throws {
        let c = try Self.load("fnat-dnat.conf").configuration
        let fnat = try #require(c.services.first { $0.key.port == 443 })
        #expect(fnat.spec.localAddresses == [IPAddress("172.16.40.10")!, IPAddress("172.16.40.11")!])
        #expect(fnat.spec.clientAddress == .proxyV2)
        #expect(fnat.destinations.map(\.method) == [.fullNAT, .fullNAT])
        #expect(fnat.destinations.map(\.weight) == [2, 1])
        let dnat = try #require(c.services.first { $0.key.port == 80 })
        #expect(dnat.spec.virtualPortRange == 20000...29999)
        #expect(dnat.destinations.map(\.method) == [.doubleNAT, .doubleNAT])
        // The engine takes both as they are.
        let d = Director(DirectorConfiguration(connectionCapacity: 1024))
        try ConfigApplier.apply(c, to: d)
        #expect(d.services().count == 2)
    }

    @Test func fullNATErrors() {
        let lips = "local_address_group L { 172.16.40.10 }\n"
        #expect(Self.failure(text: "global_defs {\n lvsd_realtime_priority 120\n}\n")
            == "k.conf:2:25: lvsd_realtime_priority must be an integer in 0...99, got '120'")
        #expect(Self.failure(text: "virtual_server 10.0.0.1 80 {\n lb_kind FNAT\n real_server 10.0.1.2 80 { }\n}\n")
            == "k.conf:1:16: virtual_server TCP 10.0.0.1:80 has FNAT real servers: it needs laddr_group_name (a local_address_group)")
        #expect(Self.failure(text: "virtual_server 10.0.0.1 80 {\n lb_kind FNAT\n laddr_group_name M\n real_server 10.0.1.2 80 { }\n}\n")
            == "k.conf:3:19: local_address_group 'M' is not defined")
        #expect(Self.failure(text: lips + "virtual_server 10.0.0.1 80 {\n lb_kind DNAT\n vdport_range 9-8\n}\n")
            == "k.conf:4:15: vdport_range must be LOW-HIGH with 1 <= LOW <= HIGH <= 65535, got '9-8'")
        #expect(Self.failure(text: lips + "virtual_server 10.0.0.1 53 {\n protocol UDP\n client_address toa\n}\n")
            == "k.conf:2:16: client_address toa is for TCP virtual servers only")
    }

    @Test func rejectedFilesSayWhereAndWhy() {
        #expect(Self.failure("fwmark.conf")
            == "fwmark.conf:3:16: virtual_server fwmark 1: netfilter marks do not exist in lvsd's userspace data plane; list the addresses and ports in a virtual_server_group (or use a YAML group: fwmark + match, docs/CONFIGURATION.md)")
        #expect(Self.failure("bad-unclosed.conf") == "bad-unclosed.conf:2:28: '{' is never closed")
        #expect(Self.failure("cycle-a.conf") == "cycle-b.conf:2:9: include cycle: \(Self.dir)/cycle-a.conf includes itself"
            .replacingPrefix(Self.dir + "/", with: ""))
        #expect(Self.failure("bad-weight.conf") == "bad-weight.conf:5:16: weight must be an integer in 0...65535, got 'heavy'")
        #expect(Self.failure(text: "virtual_server 10.0.0.1 80 {\n ops\n real_server 10.0.0.2 80 { }\n}\n")
            == "k.conf:2:2: ops: one-packet scheduling is only for UDP virtual servers")
        #expect(Self.failure("bad-smtp.conf")
            == "bad-smtp.conf:5:9: SMTP_CHECK is not supported by lvsd (supported: TCP_CHECK, HTTP_GET, SSL_GET, MISC_CHECK, UDP_CHECK, DNS_CHECK, AGENT_CHECK)")
    }

    @Test func malformedInputErrors() {
        #expect(Self.failure(text: "virtual_server 10.0.0.1 80 {\n lb_algo nope\n}\n")
            .hasPrefix("k.conf:2:10: unknown scheduler 'nope' (known: "))
        #expect(Self.failure(text: "}\n") == "k.conf:1:1: '}' without a matching '{'")
        #expect(Self.failure(text: "virtual_server 10.0.0.1 80 {\n lb_algo rr\n sh-port\n}\n")
            == "k.conf:3:2: sh-port is a flag of the sh scheduler, not of rr")
        #expect(Self.failure(text: "virtual_server 10.0.0.1 80 {\n real_server 10.0.0.2 70000\n}\n")
            == "k.conf:2:23: real_server port must be an integer in 0...65535, got '70000'")
        #expect(Self.failure(text: "virtual_server 10.0.0.1 80 {\n real_server 10.0.0.2 80 { HTTP_GET { connect_timeout 1 } }\n}\n")
            == "k.conf:2:28: HTTP_GET needs at least one url { path ... } block")
        #expect(Self.failure(text: "virtual_server 10.0.0.1 80 {\n real_server 10.0.0.2 80 { HTTP_GET { url { path / status_code 700 } } }\n}\n")
            == "k.conf:2:64: status_code must be a code or range within 100...599, got '700'")
        #expect(Self.failure(text: "virtual_server 10.0.0.1 80 {\n lb_kind GRE\n}\n")
            == "k.conf:2:10: lb_kind must be NAT, DR, TUN, FNAT or DOUBLE_NAT, got 'GRE'")
        #expect(Self.failure(text: "virtual_server 10.0.0.1 80 {\n real_server 10.0.0.2 80 { SMTP_CHECK { } }\n}\n")
            .hasPrefix("k.conf:2:28: SMTP_CHECK is not supported by lvsd"))
        #expect(Self.failure(text: "virtual_server 10.0.0.1 80 {\n misc_path \"unterminated\n}\n")
            == "k.conf:2:12: unterminated quoted string")
        #expect(Self.failure(text: "virtual_server 10.0.0.1 80 {}\nvirtual_server 10.0.0.1 80 {}\n")
            == "k.conf:2:16: virtual_server TCP 10.0.0.1:80 is defined twice")
    }

    @Test func unknownKeywordsWarnAndNothingElse() throws {
        let k = try LVSDConfiguration.parseKeepalived(text: """
            virtual_server 10.0.0.1 80 {
                frobnicate 3
                real_server 10.0.0.2 80 {
                    weight 2
                    colour blue
                }
            }
            bogus_block { a b }
            """, file: "k.conf")
        #expect(k.warnings.map(\.description) == [
            "k.conf:2: warning: unknown keyword 'frobnicate' in virtual_server ignored",
            "k.conf:5: warning: unknown keyword 'colour' in real_server ignored",
            "k.conf:8: warning: unknown keyword 'bogus_block' ignored",
        ])
        #expect(k.configuration.services[0].destinations[0].weight == 2)
        // In a one-line block an unknown word reads as a value of the keyword before it.
        #expect(Self.failure(text: "virtual_server 10.0.0.1 80 {\n real_server 10.0.0.2 80 { weight 2  colour blue }\n}\n")
            == "k.conf:2:38: unexpected 'colour' after weight (takes 1 value)")
    }

    @Test func wildFormsSeenInRealFiles() throws {
        // persistence_timeout 0 (no persistence), comments after values with '!' and '#',
        // a trailing space after a value, a deprecated keyword (warned).
        let k = try LVSDConfiguration.parseKeepalived(text: """
            global_defs {
               smtp_server 192.168.200.1   ! the relay
            }
            virtual_server 10.4.7.10 6443 {
                lb_algo rr\u{20}
                lb_kind DR    # direct routing
                net_mask 255.255.255.0
                persistence_timeout 0
                real_server 10.4.7.11 6443 { weight 1 }
            }
            """, file: "k.conf")
        #expect(k.configuration.services[0].spec.persistence == nil)
        #expect(k.configuration.services[0].spec.scheduler == "rr")
        #expect(k.configuration.services[0].destinations[0].method == .directRoute)
        #expect(k.warnings.map(\.description) == [
            "k.conf:2: warning: global_defs smtp_server ignored by lvsd",
            "k.conf:7: warning: unknown keyword 'net_mask' in virtual_server ignored",
        ])
    }

    @Test func formatDetection() {
        #expect(LVSDConfiguration.isKeepalivedFormat(path: "/etc/keepalived/keepalived.conf", text: ""))
        #expect(!LVSDConfiguration.isKeepalivedFormat(path: "/etc/lvsd/lvsd.yaml", text: "virtual_server 1 2 {}"))
        #expect(LVSDConfiguration.isKeepalivedFormat(path: "lb", text: "# x\n! y\nvirtual_server 10.0.0.1 80 {\n}"))
        #expect(LVSDConfiguration.isKeepalivedFormat(path: "lb", text: "global_defs {\n}"))
        #expect(!LVSDConfiguration.isKeepalivedFormat(path: "lb", text: "interfaces: [d0]\n"))
    }
}

extension String {
    func replacingPrefix(_ prefix: String, with r: String) -> String {
        var out = self
        while let range = out.range(of: prefix) { out.replaceSubrange(range, with: r) }
        return out
    }
}
