// Connection shares through the public Director API: SYNs from distinct client ports, each
// creating one connection that stays in SYN_RECV (inactive, overhead +1 per connection).
//
// Why the shares are exact (derived from spec 1.2, not from running the code):
// * wrr: one period of the interleaving has sum(w)/di picks, w/di for each server, so any run of
//   a multiple of the period, from any starting phase, gives exactly the weight ratio.
// * wlc: the greedy minimum of c/w never lets a server exceed its weight before the total reaches
//   sum(w) (when it is picked at c == w every other server has c >= w), so after sum(w) picks
//   c == w, and the comparison is linear, so the pattern repeats from there.
// * rr and lc (all overheads grow by one per pick, ties to the first): equal shares among the
//   servers they may use.
import LVSPacket
import Testing

@testable import LVSEngine

struct ShareCase: Sendable, CustomTestStringConvertible {
    var scheduler: String
    var weights: [Int32]
    var packets: Int
    var expected: [UInt64]
    var testDescription: String { "\(scheduler) weights \(weights) x\(packets)" }
}

@Suite("scheduler shares through the Director")
struct SchedulerSharesTests {
    static let vip = IPAddress("10.0.0.100")!
    static let key = ServiceKey(.tcp, vip, 80)
    static let servers = [IPAddress("192.168.50.1")!, IPAddress("192.168.50.2")!, IPAddress("192.168.50.3")!]

    static let cases: [ShareCase] = [
        ShareCase(scheduler: "wrr", weights: [3, 2, 1], packets: 6000, expected: [3000, 2000, 1000]),
        ShareCase(scheduler: "rr", weights: [3, 2, 1], packets: 6000, expected: [2000, 2000, 2000]),
        ShareCase(scheduler: "wlc", weights: [3, 2, 1], packets: 6000, expected: [3000, 2000, 1000]),
        ShareCase(scheduler: "lc", weights: [3, 2, 1], packets: 6000, expected: [2000, 2000, 2000]),
        // A quiesced server gets nothing from any scheduler.
        ShareCase(scheduler: "wrr", weights: [5, 0, 1], packets: 6000, expected: [5000, 0, 1000]),
        ShareCase(scheduler: "rr", weights: [5, 0, 1], packets: 6000, expected: [3000, 0, 3000]),
        ShareCase(scheduler: "wlc", weights: [5, 0, 1], packets: 6000, expected: [5000, 0, 1000]),
        ShareCase(scheduler: "lc", weights: [5, 0, 1], packets: 6000, expected: [3000, 0, 3000]),
        // gcd 2: period 5 for wrr; wlc reaches (4,4,2) after 10.
        ShareCase(scheduler: "wrr", weights: [4, 4, 2], packets: 6000, expected: [2400, 2400, 1200]),
        ShareCase(scheduler: "wlc", weights: [4, 4, 2], packets: 6000, expected: [2400, 2400, 1200]),
        // Large weights, a non-round number of packets that is still a whole number of periods.
        ShareCase(scheduler: "wrr", weights: [100, 1, 49], packets: 4500, expected: [3000, 30, 1470]),
        ShareCase(scheduler: "wlc", weights: [100, 1, 49], packets: 4500, expected: [3000, 30, 1470]),
        // Every SYN leaves its connection in SYN_RECV, i.e. inactive: schedulers that count only
        // active connections see idle servers throughout. sed: (0+1)/w is smallest for the
        // heaviest; nq: the first idle server; fo: the heaviest; ovf: the heaviest (0 <= w).
        ShareCase(scheduler: "sed", weights: [3, 2, 1], packets: 6000, expected: [6000, 0, 0]),
        ShareCase(scheduler: "sed", weights: [1, 2, 3], packets: 6000, expected: [0, 0, 6000]),
        ShareCase(scheduler: "nq", weights: [1, 2, 3], packets: 6000, expected: [6000, 0, 0]),
        ShareCase(scheduler: "nq", weights: [0, 2, 3], packets: 6000, expected: [0, 6000, 0]),
        ShareCase(scheduler: "fo", weights: [1, 3, 2], packets: 6000, expected: [0, 6000, 0]),
        ShareCase(scheduler: "ovf", weights: [1, 3, 2], packets: 6000, expected: [0, 6000, 0]),
        // One VIP = one lblc/lblcr entry: the first WLC choice (all idle -> the first server) is
        // kept, since inactive connections never make a server LBLC-overloaded.
        ShareCase(scheduler: "lblc", weights: [3, 2, 1], packets: 6000, expected: [6000, 0, 0]),
        ShareCase(scheduler: "lblcr", weights: [3, 2, 1], packets: 6000, expected: [6000, 0, 0]),
        ShareCase(scheduler: "lblc", weights: [0, 2, 1], packets: 6000, expected: [0, 6000, 0]),
        // One VIP, one client address: dh hashes 10.0.0.100 to bucket 248 -> 248 mod 3 = 2 (C);
        // sh hashes 198.51.100.7 to bucket 171: weights 3,2,1 fill A A A B B C, 171 mod 6 = 3 -> B;
        // weights 5,0,1 fill A A A A A B C, 171 mod 7 = 3 -> A. mh: from the independent
        // re-statement of ip_vs_mh.c (see MaglevHashingSchedulerTests).
        ShareCase(scheduler: "dh", weights: [3, 2, 1], packets: 6000, expected: [0, 0, 6000]),
        ShareCase(scheduler: "dh", weights: [5, 0, 1], packets: 6000, expected: [0, 0, 6000]),
        ShareCase(scheduler: "sh", weights: [3, 2, 1], packets: 6000, expected: [0, 6000, 0]),
        ShareCase(scheduler: "sh", weights: [5, 0, 1], packets: 6000, expected: [6000, 0, 0]),
        ShareCase(scheduler: "mh", weights: [3, 2, 1], packets: 6000, expected: [0, 6000, 0]),
        ShareCase(scheduler: "mh", weights: [5, 0, 1], packets: 6000, expected: [6000, 0, 0]),
    ]

    @Test(arguments: cases)
    func sharesMatchTheWeights(_ c: ShareCase) throws {
        let director = Director(DirectorConfiguration(connectionCapacity: 200_000))
        try director.addService(ServiceSpec(Self.key, scheduler: c.scheduler))
        for (addr, w) in zip(Self.servers, c.weights) {
            try director.addDestination(DestinationSpec(address: addr, port: 8080, weight: w), to: Self.key)
        }
        let pump = PacketPump(director)
        let client = IPAddress("198.51.100.7")!
        let now = Timestamp(milliseconds: 5_000)
        var refused = 0
        for i in 0..<c.packets {
            let v = pump.tcp(client, UInt16(10_000 + i), Self.vip, 80, TCPFlag.syn, now: now)
            if case .forward(side: .realServer, _) = v {} else { refused += 1 }
        }
        #expect(refused == 0)
        #expect(director.connectionCount == c.packets)
        let svc = try #require(director.service(Self.key))
        #expect(svc.scheduler == c.scheduler)
        #expect(svc.stats.connections == UInt64(c.packets))
        #expect(svc.destinations.map(\.address) == Self.servers)
        #expect(svc.destinations.map(\.stats.connections) == c.expected)
        // Every connection is still in SYN_RECV: inactive, none active.
        #expect(svc.destinations.map { UInt64($0.inactiveConns) } == c.expected)
        #expect(svc.destinations.allSatisfy { $0.activeConns == 0 })
        #expect(director.counters.connectionsCreated == UInt64(c.packets))
    }

    /// The same through the edit path: a service that starts with one scheduler and is switched
    /// (ipvsadm -E, update(.reset)) before traffic arrives.
    @Test(arguments: ["rr", "wrr", "lc", "wlc", "sed", "nq", "fo", "ovf", "lblc", "lblcr", "dh", "sh", "mh"])
    func sharesAfterSwitchingScheduler(_ name: String) throws {
        let director = Director(DirectorConfiguration(connectionCapacity: 20_000))
        try director.addService(ServiceSpec(Self.key, scheduler: name == "rr" ? "wlc" : "rr"))
        for (addr, w) in zip(Self.servers, [Int32(3), 2, 1]) {
            try director.addDestination(DestinationSpec(address: addr, port: 8080, weight: w), to: Self.key)
        }
        try director.editService(ServiceSpec(Self.key, scheduler: name))
        let pump = PacketPump(director)
        for i in 0..<600 {
            _ = pump.tcp(IPAddress("198.51.100.8")!, UInt16(20_000 + i), Self.vip, 80, TCPFlag.syn,
                         now: Timestamp(milliseconds: 1))
        }
        let expected: [UInt64]
        switch name {
        case "rr", "lc": expected = [200, 200, 200]
        case "wrr", "wlc": expected = [300, 200, 100]
        case "sed", "nq", "fo", "ovf", "lblc", "lblcr": expected = [600, 0, 0]
        case "dh": expected = [0, 0, 600]  // bucket 248 of 10.0.0.100
        case "sh": expected = [600, 0, 0]  // 198.51.100.8 -> bucket 12, 12 mod 6 = 0 (A A A B B C)
        default: expected = [0, 0, 600]  // mh: from the independent re-statement of ip_vs_mh.c
        }
        #expect(director.service(Self.key)?.destinations.map(\.stats.connections) == expected)
    }

    /// twos draws at random: the share follows the weights only approximately.
    @Test func twosSharesApproximateTheWeights() throws {
        let director = Director(DirectorConfiguration(connectionCapacity: 20_000))
        try director.addService(ServiceSpec(Self.key, scheduler: "twos"))
        for (addr, w) in zip(Self.servers, [Int32(3), 2, 1]) {
            try director.addDestination(DestinationSpec(address: addr, port: 8080, weight: w), to: Self.key)
        }
        let pump = PacketPump(director)
        for i in 0..<6000 {
            _ = pump.tcp(IPAddress("198.51.100.7")!, UInt16(10_000 + i), Self.vip, 80, TCPFlag.syn,
                         now: Timestamp(milliseconds: 1))
        }
        let got = try #require(director.service(Self.key)).destinations.map { Int($0.stats.connections) }
        #expect(got.reduce(0, +) == 6000)
        for (g, want) in zip(got, [3000, 2000, 1000]) { #expect(abs(g - want) <= 100, "\(got)") }
    }
}
