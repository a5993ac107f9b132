import LVSPacket
import Testing

@testable import LVSEngine

/// Random opens, refreshes and clock jumps checked against a model: after every step the table
/// holds exactly the flows whose timeout has not passed, every live flow keeps its real server,
/// and a full table refuses new flows without evicting any.
@Suite struct ConnectionTablePropertyTests {
    @Test(arguments: [UInt64(1), 2, 3])
    func tableMatchesTheModel(seed: UInt64) throws {
        let capacity = 24
        let timeout: UInt64 = 5_000
        let d = Director(DirectorConfiguration(connectionCapacity: capacity))
        let key = ServiceKey(.udp, Lab.vip, 53)
        try d.addService(ServiceSpec(key, scheduler: "rr"))
        for i in 0..<3 { try d.addDestination(DestinationSpec(address: IPAddress(192, 168, 10, UInt8(2 + i)), port: 53), to: key) }
        d.setTimeouts(tcp: 0, tcpfin: 0, udp: timeout / 1000)
        let h = FrameHarness(d)

        var rng = SplitMix64(seed: seed)
        var now: UInt64 = 10_000
        // client port -> (last packet time, real server)
        var model: [UInt16: (seen: UInt64, server: IPAddress)] = [:]
        var refused = 0
        var expiredByClock = 0
        func datagram(_ port: UInt16) -> [UInt8] {
            Lab.eth().ipv4(src: Lab.client, dst: Lab.vip).udp(src: port, dst: 53).payload("q").bytes()
        }

        for _ in 0..<3_000 {
            switch rng.next() % 10 {
            case 0..<4:  // a new flow
                let port = UInt16(1024 + rng.next() % 20_000)
                guard model[port] == nil else { continue }
                let (v, _) = h.run(datagram(port), now: Timestamp(milliseconds: now))
                if model.count == capacity {
                    #expect(v == .drop(.tableFull))
                    refused += 1
                } else {
                    guard case .forward(.realServer, let rs) = v else {
                        Issue.record("new flow not forwarded: \(v)")
                        return
                    }
                    model[port] = (now, rs)
                }
            case 4..<8:  // traffic on a live flow: same server, timer restarted
                guard let port = model.keys.randomElement(using: &rng) else { continue }
                let (v, _) = h.run(datagram(port), now: Timestamp(milliseconds: now))
                #expect(v == .forward(side: .realServer, nextHop: model[port]!.server), "flow \(port) lost its server")
                model[port]!.seen = now
            default:  // time passes, sometimes past many timeouts
                now += rng.next() % (rng.next() % 4 == 0 ? 8_000 : 700)
                d.advance(to: Timestamp(milliseconds: now))
                let live = model.filter { $0.value.seen + timeout > now }
                expiredByClock += model.count - live.count
                model = live
                let listed = Set(d.connections(now: Timestamp(milliseconds: now)).map(\.client.port))
                #expect(listed == Set(model.keys))
                #expect(d.connectionCount == model.count)
                #expect(d.connectionCount <= capacity)
                let inactive = d.service(key)!.destinations.reduce(0) { $0 + Int($1.inactiveConns) }
                #expect(inactive == model.count, "every UDP flow counts once as InActConn")
            }
        }
        // The walk must have reached both edges it is about.
        #expect(refused > 0, "the table never filled up")
        #expect(expiredByClock > 0, "no flow ever timed out")
    }
}

extension SplitMix64: RandomNumberGenerator {}
