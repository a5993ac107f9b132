import LVSEngine
import LVSPacket
import Testing

@testable import LVSControl

/// Applying configurations to a real Director by difference.
@Suite struct ConfigApplierTests {
    static let vip = IPAddress("10.0.0.100")!
    static let rs1 = IPAddress("192.168.10.2")!
    static let rs2 = IPAddress("192.168.10.3")!
    static let rs3 = IPAddress("192.168.10.4")!
    static let client = IPAddress("192.0.2.10")!
    static let web = ServiceKey(.tcp, vip, 80)
    static let dns = ServiceKey(.udp, vip, 53)
    static let mail = ServiceKey(.tcp, vip, 25)

    func config(_ services: [ConfiguredService], timeouts: ConfigTimeouts = ConfigTimeouts(),
                capacity: Int = 4096) -> LVSDConfiguration {
        LVSDConfiguration(connectionCapacity: capacity, interfaces: ["d0"], timeouts: timeouts, services: services)
    }

    func svc(_ key: ServiceKey, _ scheduler: String = "wlc", _ dests: [DestinationSpec]) -> ConfiguredService {
        ConfiguredService(ServiceSpec(key, scheduler: scheduler), dests)
    }

    func rs(_ a: IPAddress, _ port: UInt16 = 8080, weight: Int32 = 1, method: ForwardingMethod = .masquerade,
            upper: UInt32 = 0, lower: UInt32 = 0) -> DestinationSpec {
        DestinationSpec(address: a, port: port, weight: weight, upperThreshold: upper, lowerThreshold: lower,
                        method: method)
    }

    func director(maxServices: Int = 1024, maxDestinations: Int = 16384) -> Director {
        Director(DirectorConfiguration(connectionCapacity: 4096, maxServices: maxServices,
                                       maxDestinations: maxDestinations))
    }

    /// Sends one TCP segment from the client to the VIP through the engine.
    @discardableResult
    func send(_ d: Director, cport: UInt16, flags: UInt8 = TCPFlag.syn, to key: ServiceKey = web) -> Verdict {
        var bytes = PacketBuilder().ethernet().ipv4(src: Self.client, dst: key.address)
            .tcp(src: cport, dst: key.port, flags: flags).bytes()
        let count = bytes.count
        return bytes.withUnsafeMutableBytes { buf in
            var frame = Frame(base: buf.baseAddress!, length: count, capacity: count)
            return d.process(&frame, now: Timestamp(milliseconds: 1000))
        }
    }

    /// What the director holds, as a configuration (for comparing with what was applied).
    func configured(_ d: Director) -> [ConfiguredService] {
        d.services().map { s in
            ConfiguredService(s.spec, s.destinations.map(ConfigApplier.spec(of:)))
        }
    }

    static let base: [ConfiguredService] = [
        ConfiguredService(ServiceSpec(web, scheduler: "wlc"), [
            DestinationSpec(address: rs1, port: 8080), DestinationSpec(address: rs2, port: 8080, weight: 2),
        ]),
        ConfiguredService(ServiceSpec(dns, scheduler: "rr"), [DestinationSpec(address: rs1, port: 53)]),
    ]

    // MARK: Plans

    @Test func planOnAnEmptyDirectorAddsEverything() throws {
        let d = director()
        let lines = try ConfigApplier.plan(config(Self.base), for: d)
        #expect(lines == [
            "add service TCP 10.0.0.100:80 (scheduler wlc)",
            "add real server 192.168.10.2:8080 to TCP 10.0.0.100:80 (nat, weight 1)",
            "add real server 192.168.10.3:8080 to TCP 10.0.0.100:80 (nat, weight 2)",
            "add service UDP 10.0.0.100:53 (scheduler rr)",
            "add real server 192.168.10.2:53 to UDP 10.0.0.100:53 (nat, weight 1)",
        ])
        #expect(d.services().isEmpty, "planning changes nothing")
    }

    @Test func applyBuildsTheConfiguredState() throws {
        let d = director()
        try ConfigApplier.apply(config(Self.base), to: d)
        #expect(configured(d) == Self.base)
        #expect(try ConfigApplier.changes(config(Self.base), for: d).isEmpty, "a second apply has nothing to do")
    }

    @Test func diffRemovesAddsAndEdits() throws {
        let d = director()
        try ConfigApplier.apply(config(Self.base), to: d)
        let next = config([
            svc(Self.web, "rr", [rs(Self.rs2, weight: 5, upper: 100, lower: 50), rs(Self.rs3, method: .masquerade)]),
            svc(Self.mail, "lc", [rs(Self.rs1, 25, method: .directRoute)]),
        ], timeouts: ConfigTimeouts(tcp: 600, tcpfin: 120, udp: 300))
        let changes = try ConfigApplier.changes(next, for: d)
        #expect(changes == [
            .removeService(Self.dns),
            .removeDestination(Self.web, address: Self.rs1, port: 8080),
            .editService(ServiceSpec(Self.web, scheduler: "rr"), old: ServiceSpec(Self.web, scheduler: "wlc")),
            .editDestination(Self.web, rs(Self.rs2, weight: 5, upper: 100, lower: 50), old: rs(Self.rs2, weight: 2)),
            .addDestination(Self.web, rs(Self.rs3)),
            .addService(ServiceSpec(Self.mail, scheduler: "lc")),
            .addDestination(Self.mail, rs(Self.rs1, 25, method: .directRoute)),
            .setTimeouts(ConfigTimeouts(tcp: 600), old: ConfigTimeouts()),
        ])
        #expect(changes.map(\.description) == [
            "remove service UDP 10.0.0.100:53",
            "remove real server 192.168.10.2:8080 from TCP 10.0.0.100:80",
            "edit service TCP 10.0.0.100:80: scheduler wlc -> rr",
            "edit real server 192.168.10.3:8080 of TCP 10.0.0.100:80: weight 2 -> 5, upper_threshold 0 -> 100, "
                + "lower_threshold 0 -> 50",
            "add real server 192.168.10.4:8080 to TCP 10.0.0.100:80 (nat, weight 1)",
            "add service TCP 10.0.0.100:25 (scheduler lc)",
            "add real server 192.168.10.2:25 to TCP 10.0.0.100:25 (dr, weight 1)",
            "set timeouts: tcp 900 -> 600 s",
        ])
        let applied = try ConfigApplier.apply(next, to: d)
        #expect(applied == changes.map(\.description))
        #expect(configured(d) == next.services)
        #expect(ConfigTimeouts(d.currentTimeouts) == ConfigTimeouts(tcp: 600, tcpfin: 120, udp: 300))
        #expect(try ConfigApplier.changes(next, for: d).isEmpty)
    }

    @Test func methodChangeIsAnEdit() throws {
        let d = director()
        try ConfigApplier.apply(config([svc(Self.web, "wlc", [rs(Self.rs1, 80)])]), to: d)
        let lines = try ConfigApplier.plan(config([svc(Self.web, "wlc", [rs(Self.rs1, 80, method: .directRoute)])]), for: d)
        #expect(lines == ["edit real server 192.168.10.2:80 of TCP 10.0.0.100:80: method nat -> dr"])
    }

    @Test func emptyConfigurationRemovesEverything() throws {
        let d = director()
        try ConfigApplier.apply(config(Self.base), to: d)
        let lines = try ConfigApplier.apply(config([]), to: d)
        #expect(lines == ["remove service TCP 10.0.0.100:80", "remove service UDP 10.0.0.100:53"])
        #expect(d.services().isEmpty)
    }

    @Test func capacityChangeIsReportedNotApplied() throws {
        let d = director()
        let lines = try ConfigApplier.apply(config([], capacity: 8192), to: d)
        #expect(lines == ["connection_capacity 4096 -> 8192 takes effect at the next restart (the connection table "
                          + "is sized at start-up)"])
        #expect(d.configuration.connectionCapacity == 4096)
    }

    // MARK: Connections survive

    @Test func addingAServerKeepsExistingConnections() throws {
        let d = director()
        try ConfigApplier.apply(config([svc(Self.web, "rr", [rs(Self.rs1)])]), to: d)
        #expect(send(d, cport: 40000) == .forward(side: .realServer, nextHop: Self.rs1))
        let before = d.connections(now: Timestamp(milliseconds: 1000))
        #expect(before.count == 1)
        #expect(before.first?.destination == Endpoint(Self.rs1, 8080))
        let statsBefore = d.service(Self.web)!.destinations[0]

        let lines = try ConfigApplier.apply(config([svc(Self.web, "rr", [rs(Self.rs1), rs(Self.rs2)])]), to: d)
        #expect(lines == ["add real server 192.168.10.3:8080 to TCP 10.0.0.100:80 (nat, weight 1)"])

        let after = d.connections(now: Timestamp(milliseconds: 1000))
        #expect(after == before, "the connection and its real server are untouched")
        let snap = d.service(Self.web)!
        #expect(snap.destinations.count == 2)
        #expect(snap.destinations[0] == statsBefore, "counters and connection counts of rs1 unchanged")
        // Further packets of the connection still go to rs1 (rr would pick rs2 for a new one).
        #expect(send(d, cport: 40000, flags: TCPFlag.ack) == .forward(side: .realServer, nextHop: Self.rs1))
        #expect(send(d, cport: 40001) == .forward(side: .realServer, nextHop: Self.rs2))
    }

    @Test func editingWeightAndSchedulerKeepsConnections() throws {
        let d = director()
        try ConfigApplier.apply(config([svc(Self.web, "wlc", [rs(Self.rs1)])]), to: d)
        send(d, cport: 40000)
        let before = d.connections(now: Timestamp(milliseconds: 1000))
        try ConfigApplier.apply(config([svc(Self.web, "rr", [rs(Self.rs1, weight: 7)])]), to: d)
        #expect(d.connections(now: Timestamp(milliseconds: 1000)) == before)
        #expect(d.service(Self.web)!.destinations[0].weight == 7)
        #expect(d.service(Self.web)!.destinations[0].inactiveConns == 1)
        #expect(send(d, cport: 40000, flags: TCPFlag.ack) == .forward(side: .realServer, nextHop: Self.rs1))
    }

    @Test func removingAServerEndsOnlyItsConnections() throws {
        let d = director()
        try ConfigApplier.apply(config([svc(Self.web, "rr", [rs(Self.rs1), rs(Self.rs2)])]), to: d)
        send(d, cport: 40000)  // rs1
        send(d, cport: 40001)  // rs2
        try ConfigApplier.apply(config([svc(Self.web, "rr", [rs(Self.rs2)])]), to: d)
        #expect(send(d, cport: 40001, flags: TCPFlag.ack) == .forward(side: .realServer, nextHop: Self.rs2))
        #expect(send(d, cport: 40000, flags: TCPFlag.ack) == .drop(.destinationRemoved))
    }

    // MARK: Refused configurations leave the director unchanged

    func expectRefused(_ d: Director, _ c: LVSDConfiguration, _ message: String,
                       sourceLocation: SourceLocation = #_sourceLocation) {
        let services = d.services()
        let timeouts = d.currentTimeouts
        let connections = d.connections(now: Timestamp(milliseconds: 1000))
        do {
            try ConfigApplier.apply(c, to: d)
            Issue.record("expected the configuration to be refused", sourceLocation: sourceLocation)
        } catch {
            #expect(error.message == message, sourceLocation: sourceLocation)
        }
        #expect(d.services() == services, sourceLocation: sourceLocation)
        #expect(d.currentTimeouts == timeouts, sourceLocation: sourceLocation)
        #expect(d.connections(now: Timestamp(milliseconds: 1000)) == connections, sourceLocation: sourceLocation)
    }

    /// A populated director with a connection, to refuse configurations against.
    func populated(maxServices: Int = 1024, maxDestinations: Int = 16384) throws -> Director {
        let d = director(maxServices: maxServices, maxDestinations: maxDestinations)
        try ConfigApplier.apply(config(Self.base), to: d)
        send(d, cport: 40000)
        return d
    }

    @Test func unknownSchedulerIsRefusedBeforeAnyChange() throws {
        let d = try populated()
        // Removes dns, edits web and adds mail, whose scheduler does not exist.
        expectRefused(d, config([
            svc(Self.web, "rr", [rs(Self.rs1, weight: 9)]),
            svc(Self.mail, "fifo", [rs(Self.rs3, 25)]),
        ], timeouts: ConfigTimeouts(tcp: 60)),
        "service TCP 10.0.0.100:25: unknown scheduler 'fifo' (available: dh, fo, lblc, lblcr, lc, mh, nq, ovf, rr, sed, sh, twos, wlc, wrr)")
        #expect(throws: ConfigApplyError.self) {
            try ConfigApplier.plan(config([svc(Self.mail, "fifo", [])]), for: d)
        }
    }

    @Test func tooManyServicesIsRefused() throws {
        let d = try populated(maxServices: 2)
        expectRefused(d, config([
            svc(Self.web, "wlc", []), svc(Self.dns, "rr", []), svc(Self.mail, "rr", []),
        ]), "3 services configured, the director holds at most 2")
    }

    @Test func replacingServicesAtTheLimitIsAccepted() throws {
        let d = try populated(maxServices: 2)
        try ConfigApplier.apply(config([svc(Self.web, "wlc", []), svc(Self.mail, "rr", [])]), to: d)
        #expect(d.services().map(\.key) == [Self.web, Self.mail])
    }

    @Test func tooManyRealServersIsRefused() throws {
        let d = try populated(maxDestinations: 4)
        expectRefused(d, config([
            svc(Self.web, "wlc", [rs(Self.rs1), rs(Self.rs2), rs(Self.rs3), rs(Self.rs3, 8081), rs(Self.rs3, 8082)]),
        ]), "5 real servers configured, the director holds at most 4")
    }

    @Test func removedServersWithConnectionsCountAgainstTheLimit() throws {
        // web: rs1 (with a connection), rs2; dns: rs1. Limit 4.
        let d = try populated(maxDestinations: 4)
        #expect(d.service(Self.web)!.destinations[0].inactiveConns == 1)
        // Drops rs1 from web (its slot stays while the connection lives) and asks for 4 servers.
        expectRefused(d, config([
            svc(Self.web, "wlc", [rs(Self.rs2, weight: 2), rs(Self.rs3), rs(Self.rs3, 8081)]),
            svc(Self.dns, "rr", [rs(Self.rs1, 53)]),
        ]), "4 real servers configured (+1 removed ones still holding connections), the director holds at most 4")
        // The same without the connection's server removed fits.
        try ConfigApplier.apply(config([
            svc(Self.web, "wlc", [rs(Self.rs1), rs(Self.rs2, weight: 2), rs(Self.rs3)]),
            svc(Self.dns, "rr", [rs(Self.rs1, 53)]),
        ]), to: d)
        #expect(d.service(Self.web)!.destinations.count == 3)
    }

    @Test func invalidServersAreRefused() throws {
        let d = try populated()
        expectRefused(d, config([svc(Self.web, "wlc", [rs(IPAddress("fd00::1")!)])]),
                      "service TCP 10.0.0.100:80, real server [fd00::1]:8080: not of the service's address family")
        expectRefused(d, config([svc(Self.web, "wlc", [rs(Self.rs1, weight: 70000)])]),
                      "service TCP 10.0.0.100:80, real server 192.168.10.2:8080: weight must be 0..65535")
        expectRefused(d, config([svc(Self.web, "wlc", [rs(Self.rs1, upper: 10, lower: 20)])]),
                      "service TCP 10.0.0.100:80, real server 192.168.10.2:8080: lower threshold above the upper one")
        expectRefused(d, config([svc(Self.web, "wlc", [rs(Self.rs1), rs(Self.rs1)])]),
                      "service TCP 10.0.0.100:80: real server 192.168.10.2:8080 is configured twice")
        expectRefused(d, config([svc(Self.web, "wlc", []), svc(Self.web, "rr", [])]),
                      "service TCP 10.0.0.100:80 is configured twice")
        expectRefused(d, config([], timeouts: ConfigTimeouts(tcp: 0)), "timeouts must be 1..2592000 s")
    }

    /// Slots of servers removed by an earlier reload, still held by connections, are invisible
    /// from outside the engine: when they make the engine refuse an addition, what was changed is
    /// undone and the director is as before.
    @Test func engineRefusalMidwayIsRolledBack() throws {
        let d = director(maxDestinations: 2)
        try ConfigApplier.apply(config([svc(Self.web, "rr", [rs(Self.rs1)])]), to: d)
        send(d, cport: 40000)
        // rs1 leaves; its slot stays for the connection.
        try ConfigApplier.apply(config([svc(Self.web, "rr", [])]), to: d)
        try ConfigApplier.apply(config([svc(Self.web, "rr", [rs(Self.rs2)])]), to: d)
        // 2 servers fit the limit on paper, but one slot is still rs1's: the second addition fails.
        expectRefused(d, config([svc(Self.web, "wlc", [rs(Self.rs2, weight: 4), rs(Self.rs3)])]),
                      "configuration not applied (add real server 192.168.10.4:8080 to TCP 10.0.0.100:80 (nat, "
                        + "weight 1): Memory allocation problem); the previous one is kept")
    }
}
