import LVSControl
import LVSEngine
import LVSPacket
import Testing

@testable import LVSHealth

/// Health results turned into the engine configuration: removal, inhibit, weights, quorum and
/// sorry server, reload.
@Suite struct HealthBookTests {
    static let vip = IPAddress("10.0.1.100")!
    static let key = ServiceKey(.tcp, vip, 80)
    static func rs(_ i: UInt8) -> IPAddress { IPAddress(192, 168, 10, 1 + i) }
    static let check = HealthCheckSpec(kind: .tcp, delayLoop: 1, connectTimeout: 1, retry: 0)

    static func config(weights: [Int32] = [1, 2, 3], inhibit: Bool = false, alpha: Bool = false, quorum: Int = 1,
                       hysteresis: Int = 0, sorry: Bool = false, checks: [HealthCheckSpec] = [check]) -> LVSDConfiguration {
        var c = LVSDConfiguration(interfaces: ["d0"])
        let dests = weights.enumerated().map { DestinationSpec(address: rs(UInt8($0.offset + 1)), port: 8080, weight: $0.element) }
        c.services = [ConfiguredService(ServiceSpec(key, scheduler: "wrr"), dests)]
        c.health = [ServiceHealth(
            key: key,
            servers: dests.map { RealServerHealth(address: $0.address, port: 8080, checks: checks, inhibitOnFailure: inhibit, alpha: alpha) },
            quorum: quorum, hysteresis: hysteresis,
            sorryServer: sorry ? DestinationSpec(address: IPAddress(192, 168, 10, 99), port: 80) : nil)]
        return c
    }

    static func id(_ i: UInt8, _ index: Int = 0) -> CheckerID { CheckerID(server: ServerID(key, rs(i), 8080), index: index) }

    static func weights(_ b: HealthBook) -> [String] {
        b.effectiveConfiguration.services[0].destinations.map { "\(Endpoint($0.address, $0.port)) \($0.weight)" }
    }

    @Test func aFailedServerIsRemovedAndComesBackWithItsWeight() {
        var b = HealthBook(Self.config(), now: 0)
        #expect(Self.weights(b) == ["192.168.10.2:8080 1", "192.168.10.3:8080 2", "192.168.10.4:8080 3"])
        let events = b.record(Self.id(2), .down(reason: "connect to 192.168.10.3:8080: Connection refused"), now: 1)
        #expect(events == [.serverDown(ServerID(Self.key, Self.rs(2), 8080),
                                       reason: "TCP_CHECK: connect to 192.168.10.3:8080: Connection refused", inhibited: false)])
        #expect(events[0].description
            == "real server 192.168.10.3:8080 of TCP 10.0.1.100:80 DOWN (removed): TCP_CHECK: connect to 192.168.10.3:8080: Connection refused")
        #expect(Self.weights(b) == ["192.168.10.2:8080 1", "192.168.10.4:8080 3"])
        let again = b.record(Self.id(2), .down(reason: "x"), now: 2)
        #expect(again.isEmpty)
        let up = b.record(Self.id(2), .up(), now: 3)
        #expect(up.count == 1)
        #expect(Self.weights(b) == ["192.168.10.2:8080 1", "192.168.10.3:8080 2", "192.168.10.4:8080 3"])
    }

    @Test func inhibitOnFailureKeepsTheServerAtWeightZero() {
        var b = HealthBook(Self.config(inhibit: true), now: 0)
        _ = b.record(Self.id(1), .down(reason: "x"), now: 1)
        #expect(Self.weights(b) == ["192.168.10.2:8080 0", "192.168.10.3:8080 2", "192.168.10.4:8080 3"])
    }

    @Test func alphaServersStartOutOfTheTable() {
        var b = HealthBook(Self.config(alpha: true, sorry: true), now: 0)
        #expect(Self.weights(b) == ["192.168.10.99:80 1"], "no live server: quorum lost, sorry server")
        _ = b.record(Self.id(1), .up(), now: 0)
        #expect(Self.weights(b) == ["192.168.10.2:8080 1"])
    }

    @Test func everyCheckerMustPass() {
        let http = HealthCheckSpec(kind: .http([HTTPCheckURL(path: "/")], virtualhost: nil), retry: 0)
        var b = HealthBook(Self.config(weights: [1], checks: [Self.check, http]), now: 0)
        _ = b.record(Self.id(1, 1), .down(reason: "status 503 not in [200]"), now: 0)
        #expect(Self.weights(b).isEmpty)
        #expect(b.reason(ServerID(Self.key, Self.rs(1), 8080)) == "HTTP_GET: status 503 not in [200]")
    }

    @Test func sorryServerWhenAllFailAndQuorumScripts() {
        var b = HealthBook(Self.config(weights: [1, 1], sorry: true), now: 0)
        _ = b.record(Self.id(1), .down(reason: "x"), now: 1)
        let events = b.record(Self.id(2), .down(reason: "x"), now: 1)
        #expect(events.contains(.quorumLost(Self.key, aliveWeight: 0, quorum: 1, sorry: DestinationSpec(address: IPAddress(192, 168, 10, 99), port: 80))))
        #expect(Self.weights(b) == ["192.168.10.99:80 1"])
        let back = b.record(Self.id(1), .up(), now: 2)
        #expect(back.contains(.quorumGained(Self.key, aliveWeight: 1, quorum: 1)))
        #expect(Self.weights(b) == ["192.168.10.2:8080 1"])
    }

    @Test func quorumWithHysteresis() {
        // Weights 1+2+3 = 6, quorum 4, hysteresis 1: lost below 3, regained at 5 or more.
        var b = HealthBook(Self.config(quorum: 4, hysteresis: 1, sorry: true), now: 0)
        _ = b.record(Self.id(1), .down(reason: "x"), now: 0)  // 5 live
        _ = b.record(Self.id(2), .down(reason: "x"), now: 0)  // 3 live: still ≥ 3
        #expect(b.quorumUp[Self.key] == true)
        _ = b.record(Self.id(3), .down(reason: "x"), now: 0)  // 0 live: lost
        #expect(b.quorumUp[Self.key] == false)
        _ = b.record(Self.id(3), .up(), now: 1)  // 3 live: not yet (needs 5)
        #expect(b.quorumUp[Self.key] == false)
        #expect(Self.weights(b) == ["192.168.10.99:80 1"], "while the quorum is lost the live servers are out too")
        _ = b.record(Self.id(2), .up(), now: 1)  // 5 live: regained
        #expect(b.quorumUp[Self.key] == true)
        #expect(Self.weights(b) == ["192.168.10.3:8080 2", "192.168.10.4:8080 3"])
    }

    @Test func miscDynamicAndAgentWeights() {
        let misc = HealthCheckSpec(kind: .misc(command: "true", timeout: nil, dynamic: true), retry: 0)
        let agent = HealthCheckSpec(kind: .agent, connectPort: 9999)
        var b = HealthBook(Self.config(weights: [10, 10], checks: [misc, agent]), now: 0)
        _ = b.record(Self.id(1), .up(weight: 7), now: 0)
        let e = b.record(Self.id(2, 1), .agent(AgentReport.parse("up 50%")!), now: 0)
        #expect(e == [.weightChanged(ServerID(Self.key, Self.rs(2), 8080), from: 10, to: 5, reason: "agent answered 'up 50%'")])
        #expect(Self.weights(b) == ["192.168.10.2:8080 7", "192.168.10.3:8080 5"])
        // The agent scales the dynamic weight; drain makes it 0; 1% of a small weight stays 1.
        _ = b.record(Self.id(1, 1), .agent(AgentReport.parse("1%")!), now: 0)
        _ = b.record(Self.id(2, 1), .agent(AgentReport.parse("drain")!), now: 0)
        #expect(Self.weights(b) == ["192.168.10.2:8080 1", "192.168.10.3:8080 0"])
    }

    @Test func reloadKeepsTheStateOfUnchangedCheckers() {
        var b = HealthBook(Self.config(), now: 0)
        _ = b.record(Self.id(1), .down(reason: "x"), now: 0)
        var fresh = Self.config(weights: [1, 5, 3])
        let kept = b.reconfigured(fresh, now: 10)
        #expect(Self.weights(kept) == ["192.168.10.3:8080 5", "192.168.10.4:8080 3"])
        // A changed checker starts afresh.
        fresh.health[0].servers[0].checks[0].connectTimeout = 2
        #expect(Self.weights(b.reconfigured(fresh, now: 10)).count == 3)
    }
}
