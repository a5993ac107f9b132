import LVSEngine
import LVSPacket
import Testing

@testable import LVSControl

/// Scheduler flags end to end through the admin layer: `-b` on -A/-E (ipvsadm's names and
/// errors), the `-L -n` service line `sh (sh-fallback,sh-port)` (spec 7.2), `-S`'s ` -b ...`
/// (spec 7.5), `-R`, and `scheduler_flags:` in the configuration file.
@Suite struct SchedulerFlagsTests {
    let web = ServiceKey(.tcp, IPAddress("10.0.0.100")!, 443)

    func parse(_ line: String) throws(IPVSCommandError) -> IPVSCommand {
        try IPVSCommand.parse(line.split(separator: " ").map(String.init))
    }

    // MARK: -b

    @Test func flagNamesParse() throws {
        let both = SchedulerFlags.fallback | SchedulerFlags.port
        #expect(try parse("-A -t 10.0.0.100:443 -s sh -b sh-fallback,sh-port")
            == .addService(ServiceSpec(web, scheduler: "sh", schedulerFlags: both)))
        #expect(try parse("-A -t 10.0.0.100:443 -s sh --sched-flags sh-port,sh-fallback")
            == .addService(ServiceSpec(web, scheduler: "sh", schedulerFlags: both)))
        #expect(try parse("-E -t 10.0.0.100:443 -s mh -b mh-port")
            == .editService(ServiceSpec(web, scheduler: "mh", schedulerFlags: SchedulerFlags.port), keep: .notGiven))
        #expect(try parse("-A -t 10.0.0.100:443 -s wrr -b flag-1,flag-3")
            == .addService(ServiceSpec(web, scheduler: "wrr", schedulerFlags: 0x0008 | 0x0020)))
        // -b is read after all options, so it may come before -s.
        #expect(try parse("-A -t 10.0.0.100:443 -b sh-port -s sh")
            == .addService(ServiceSpec(web, scheduler: "sh", schedulerFlags: SchedulerFlags.port)))
        // strtok skips empty items.
        #expect(try parse("-A -t 10.0.0.100:443 -s sh -b sh-port,")
            == .addService(ServiceSpec(web, scheduler: "sh", schedulerFlags: SchedulerFlags.port)))
        // flag-N for sh and mh too; -E without -b clears the flags (ipvsadm sends them all).
        #expect(try parse("-A -t 10.0.0.100:443 -s sh -b flag-3")
            == .addService(ServiceSpec(web, scheduler: "sh", schedulerFlags: 0x0020)))
        #expect(try parse("-E -t 10.0.0.100:443 -s sh") == .editService(ServiceSpec(web, scheduler: "sh"), keep: .notGiven))
    }

    @Test(arguments: [
        ("-A -t 10.0.0.100:443 -s mh -b sh-port", "incompatible scheduler flag `sh-port'"),
        ("-A -t 10.0.0.100:443 -s rr -b mh-fallback", "incompatible scheduler flag `mh-fallback'"),
        ("-A -t 10.0.0.100:443 -b sh-fallback", "incompatible scheduler flag `sh-fallback'"),  // wlc
        ("-A -t 10.0.0.100:443 -s sh -b flag-4", "invalid scheduler flag `flag-4'"),
        ("-A -t 10.0.0.100:443 -s sh -b SH-PORT", "invalid scheduler flag `SH-PORT'"),
        ("-A -t 10.0.0.100:443 -s sh -b ,", "invalid scheduler flag `,'"),
        ("-a -t 10.0.0.100:443 -r 10.0.0.2 -b flag-1", "Illegal 'sched-flags' option with the 'add-server' command"),
    ])
    func flagErrors(_ line: String, _ message: String) {
        do {
            _ = try parse(line)
            Issue.record("\(line) was accepted")
        } catch {
            #expect(error.message == message)
        }
    }

    @Test func everySchedulerNameIsAccepted() {
        let b = AdminBench()
        for (i, name) in SchedulerRegistry.names.enumerated() {
            b.ok("-A -t 10.0.0.\(i + 1):80 -s \(name)")
        }
        #expect(SchedulerRegistry.names.count == 14)
        #expect(b.director.services().map(\.scheduler).sorted() == SchedulerRegistry.names)
        #expect(b.run("-A -t 10.0.0.99:80 -s fifo").stderr == "Scheduler or persistence engine not found\n")
    }

    // MARK: Listing, save, restore

    static let goldenListing = """
        IP Virtual Server version 1.2.1 (size=4096)
        Prot LocalAddress:Port Scheduler Flags
          -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
        TCP  10.0.0.100:80 wrr (flag-1,flag-2)
        TCP  10.0.0.100:443 sh (sh-fallback,sh-port)
          -> 192.168.100.2:443            Route   1      0          0         
          -> 192.168.100.3:443            Route   0      0          0         
        TCP  10.0.0.100:444 sh (flag-3)
        TCP  10.0.0.100:8080 mh (mh-fallback,mh-port,flag-3)
        UDP  10.0.0.53:53 mh (mh-port)

        """

    static let goldenSave = """
        -A -t 10.0.0.100:80 -s wrr -b flag-1,flag-2
        -A -t 10.0.0.100:443 -s sh -b sh-fallback,sh-port
        -a -t 10.0.0.100:443 -r 192.168.100.2:443 -g -w 1
        -a -t 10.0.0.100:443 -r 192.168.100.3:443 -g -w 0
        -A -t 10.0.0.100:444 -s sh -b flag-3
        -A -t 10.0.0.100:8080 -s mh -b mh-fallback,mh-port,flag-3
        -A -u 10.0.0.53:53 -s mh -b mh-port

        """

    func populated() -> AdminBench {
        let b = AdminBench()
        b.ok("-A -t 10.0.0.100:443 -s sh -b sh-port,sh-fallback")
        b.ok("-a -t 10.0.0.100:443 -r 192.168.100.2 -g -w 1")
        b.ok("-a -t 10.0.0.100:443 -r 192.168.100.3 -g -w 0")
        b.ok("-A -u 10.0.0.53:53 -s mh -b mh-port")
        b.ok("-A -t 10.0.0.100:80 -s wrr -b flag-2,flag-1")
        b.ok("-A -t 10.0.0.100:444 -s sh -b flag-3")
        b.ok("-A -t 10.0.0.100:8080 -s mh -b flag-3,mh-port,mh-fallback")
        return b
    }

    @Test func listingShowsFlagsAfterTheScheduler() {
        #expect(populated().ok("-L -n") == Self.goldenListing)
        // One service.
        #expect(populated().ok("-L -n -t 10.0.0.100:443").split(separator: "\n")[2]
            == "TCP  10.0.0.100:443 sh (sh-fallback,sh-port)")
        // The stats layout has no scheduler column.
        #expect(!populated().ok("-L -n --stats").contains("sh-port"))
    }

    @Test func snapshotCarriesTheFlags() {
        let svc = populated().director.service(web)
        #expect(svc?.schedulerFlags == SchedulerFlags.fallback | SchedulerFlags.port)
        #expect(svc?.spec == ServiceSpec(web, scheduler: "sh", schedulerFlags: 0x18))
    }

    @Test func saveWritesDashB() {
        #expect(populated().ok("-S -n") == Self.goldenSave)
    }

    @Test func restoreReadsDashB() {
        let b = AdminBench()
        b.ok("-R", stdin: Self.goldenSave)
        #expect(b.ok("-L -n") == Self.goldenListing)
    }

    @Test func editChangesAndClearsTheFlags() {
        let b = populated()
        b.ok("-E -t 10.0.0.100:443 -s sh -b sh-port")
        #expect(b.ok("-L -n -t 10.0.0.100:443").contains("TCP  10.0.0.100:443 sh (sh-port)\n"))
        b.ok("-E -t 10.0.0.100:443 -s sh")
        #expect(b.ok("-L -n -t 10.0.0.100:443").contains("TCP  10.0.0.100:443 sh\n"))
        // A new scheduler with its own flags.
        b.ok("-E -t 10.0.0.100:443 -s mh -b mh-fallback")
        #expect(b.ok("-L -n -t 10.0.0.100:443").contains("TCP  10.0.0.100:443 mh (mh-fallback)\n"))
    }

    @Test func flagsReachTheScheduler() throws {
        // sh-fallback through lvsadm changes which server a client of a quiesced server gets.
        let b = AdminBench()
        b.ok("-A -t 10.0.0.100:80 -s sh")
        b.ok("-a -t 10.0.0.100:80 -r 192.168.100.2:80 -m -w 1")
        b.ok("-a -t 10.0.0.100:80 -r 192.168.100.3:80 -m -w 1")
        func connect(_ client: String, _ port: UInt16) -> Verdict {
            b.send(PacketBuilder().ethernet().ipv4(src: IPAddress(client)!, dst: IPAddress("10.0.0.100")!)
                .tcp(src: port, dst: 80, flags: TCPFlag.syn).bytes())
        }
        // Find a client on the second server, then quiesce it (weight 0 keeps one bucket each,
        // so the table stays A B A B ...).
        var client = ""
        for i in 1...50 {
            let c = "198.51.100.\(i)"
            _ = connect(c, 1000)
            let conns = b.director.connections(now: b.now).filter { $0.client.address == IPAddress(c)! }
            if conns.first?.destination.address == IPAddress("192.168.100.3")! {
                client = c
                break
            }
        }
        try #require(!client.isEmpty)
        b.ok("-e -t 10.0.0.100:80 -r 192.168.100.3:80 -m -w 0")
        if case .forward = connect(client, 2000) { Issue.record("scheduled without sh-fallback") }
        b.ok("-E -t 10.0.0.100:80 -s sh -b sh-fallback")
        guard case .forward = connect(client, 3000) else {
            Issue.record("not scheduled with sh-fallback")
            return
        }
    }

    // MARK: Configuration file

    @Test func configAcceptsSchedulerFlags() throws {
        let text = """
            interfaces: [d0]
            services:
              - address: 10.0.0.100
                port: 443
                scheduler: sh
                scheduler_flags: [sh-port, sh-fallback]
              - address: 10.0.0.100
                port: 80
                scheduler: mh
                scheduler_flags:
                  - mh-port
              - address: 10.0.0.100
                port: 81
                scheduler_flags: []
            """
        let c = try LVSDConfiguration.parse(text: text, file: "lvsd.yaml")
        #expect(c.services.map(\.spec.schedulerFlags) == [0x18, 0x10, 0])
        #expect(c.services.map(\.spec.scheduler) == ["sh", "mh", "wlc"])
    }

    @Test(arguments: [
        ("interfaces: [d0]\nservices:\n  - address: 10.0.1.100\n    port: 80\n    scheduler: sh\n    scheduler_flags: [sh-port, mh-port]\n",
         "lvsd.yaml:6:32: scheduler flag 'mh-port' does not apply to the sh scheduler (sh takes: sh-fallback, sh-port, flag-3)"),
        ("interfaces: [d0]\nservices:\n  - address: 10.0.1.100\n    port: 80\n    scheduler: sh\n    scheduler_flags: [bogus]\n",
         "lvsd.yaml:6:23: unknown scheduler flag 'bogus' (sh takes: sh-fallback, sh-port, flag-3)"),
        ("interfaces: [d0]\nservices:\n  - address: 10.0.1.100\n    port: 80\n    scheduler_flags: [sh-port]\n",
         "lvsd.yaml:5:23: scheduler flag 'sh-port' does not apply to the wlc scheduler (wlc takes: flag-1, flag-2, flag-3)"),
        ("interfaces: [d0]\nservices:\n  - address: 10.0.1.100\n    port: 80\n    scheduler: sh\n    scheduler_flags: sh-port\n",
         "lvsd.yaml:6:22: 'scheduler_flags' must be a list of flag names, got 'sh-port'"),
        ("interfaces: [d0]\nservices:\n  - address: 10.0.1.100\n    port: 80\n    scheduler: sh\n    scheduler_flags: [sh-port, sh-port]\n",
         "lvsd.yaml:6:32: scheduler flag 'sh-port' is listed twice"),
        ("interfaces: [d0]\nservices:\n  - address: 10.0.1.100\n    port: 80\n    scheduler: mh\n    scheduler_flags:\n      - mh-port\n      - [x]\n",
         "lvsd.yaml:8:9: 'scheduler_flags' must be a string, got a sequence"),
    ])
    func configRejectsBadFlagsAtTheNode(_ text: String, _ expected: String) {
        do {
            _ = try LVSDConfiguration.parse(text: text, file: "lvsd.yaml")
            Issue.record("accepted")
        } catch {
            #expect(error.description == expected)
        }
    }

    @Test func reloadEditsFlagsInPlace() throws {
        let d = Director(DirectorConfiguration(connectionCapacity: 4096))
        func config(_ flags: UInt32) -> LVSDConfiguration {
            LVSDConfiguration(connectionCapacity: 4096, interfaces: ["d0"], services: [
                ConfiguredService(ServiceSpec(web, scheduler: "sh", schedulerFlags: flags),
                                  [DestinationSpec(address: IPAddress("192.168.100.2")!, port: 443)]),
            ])
        }
        try ConfigApplier.apply(config(SchedulerFlags.port), to: d)
        #expect(d.service(web)?.schedulerFlags == SchedulerFlags.port)
        let changes = try ConfigApplier.changes(config(SchedulerFlags.port | SchedulerFlags.fallback), for: d)
        #expect(changes == [.editService(ServiceSpec(web, scheduler: "sh", schedulerFlags: 0x18),
                                         old: ServiceSpec(web, scheduler: "sh", schedulerFlags: 0x10))])
        #expect(changes.map(\.description)
            == ["edit service TCP 10.0.0.100:443: scheduler_flags [sh-port] -> [sh-fallback, sh-port]"])
        try ConfigApplier.apply(config(SchedulerFlags.port | SchedulerFlags.fallback), to: d)
        #expect(d.service(web)?.schedulerFlags == 0x18)
        #expect(try ConfigApplier.changes(config(0x18), for: d).isEmpty)
        #expect(try ConfigApplier.plan(config(0), for: d)
            == ["edit service TCP 10.0.0.100:443: scheduler_flags [sh-fallback, sh-port] -> []"])
    }
}
