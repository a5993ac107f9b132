import LVSEngine
import LVSPacket
import Testing

@testable import LVSControl

/// IPVS's estimator (ip_vs_est.c): 2 s ticks, avg += (rate - avg) >> 2 in fixed point (conns and
/// packets x 2^10, bytes x 2^5), read back with rounding. Expected values are worked out by hand.
@Suite struct RateEstimatorTests {
    let key = ServiceKey(.tcp, IPAddress("10.0.0.100")!, 80)
    let rs = IPAddress("192.168.10.2")!

    func counters(_ c: UInt64, _ ip: UInt64, _ op: UInt64, _ ib: UInt64, _ ob: UInt64) -> TrafficCounters {
        var t = TrafficCounters()
        (t.connections, t.inPackets, t.outPackets, t.inBytes, t.outBytes) = (c, ip, op, ib, ob)
        return t
    }

    /// One service whose single server carries half its traffic.
    func snapshot(_ s: TrafficCounters, dest: TrafficCounters? = nil) -> [ServiceSnapshot] {
        let d = DestinationSnapshot(address: rs, port: 8080, method: .masquerade, weight: 1, upperThreshold: 0,
                                    lowerThreshold: 0, activeConns: 0, inactiveConns: 0, persistConns: 0,
                                    overloaded: false, stats: dest ?? TrafficCounters())
        return [ServiceSnapshot(key: key, scheduler: "rr", stats: s, destinations: [d])]
    }

    func at(_ ms: UInt64) -> Timestamp { Timestamp(milliseconds: ms) }

    @Test func constantTrafficConverges() {
        let est = RateEstimator()
        // 1000 conns/pkts/bytes per 2 s = 500 per second.
        // avg_1 = 512000 >> 2 = 128000 -> (128000 + 511) >> 10 = 125; bytes: 16000 >> 2 = 4000 -> 125
        // avg_2 = 128000 + 96000 = 224000 -> 219; avg_3 = 224000 + 72000 = 296000 -> 289
        let expected: [UInt64] = [125, 219, 289]
        for (i, want) in expected.enumerated() {
            let n = UInt64(i + 1) * 1000
            est.tick(services: snapshot(counters(n, n, n / 2, n, n * 4)), now: at(UInt64(i + 1) * 2000))
            let r = est.rates(of: key)
            #expect(r.connectionsPerSecond == want)
            #expect(r.inPacketsPerSecond == want)
            #expect(r.inBytesPerSecond == want)
        }
        // outPkts at 250/s: avg_1 = 256000 >> 2 = 64000 ... avg_3 = 148000 -> (148000 + 511) >> 10 = 145
        #expect(est.rates(of: key).outPacketsPerSecond == 145)
        // outBytes at 2000/s: scaled rate 64000; avg_3 = 16000 + 12000 + 9000 = 37000 -> (37000 + 15) >> 5 = 1156
        #expect(est.rates(of: key).outBytesPerSecond == 1156)
        for i in 4...60 {
            let n = UInt64(i) * 1000
            est.tick(services: snapshot(counters(n, n, n / 2, n, n * 4)), now: at(UInt64(i) * 2000))
        }
        #expect(est.rates(of: key) == TrafficRates(cps: 500, inPPS: 500, outPPS: 250, inBPS: 500, outBPS: 2000))
    }

    @Test func lateTickIsScaledByTheRealInterval() {
        let a = RateEstimator()
        let b = RateEstimator()
        a.tick(services: snapshot(counters(0, 0, 0, 0, 0)), now: at(10_000))
        b.tick(services: snapshot(counters(0, 0, 0, 0, 0)), now: at(10_000))
        a.tick(services: snapshot(counters(1000, 0, 0, 0, 0)), now: at(12_000))  // 500/s over 2 s
        b.tick(services: snapshot(counters(2000, 0, 0, 0, 0)), now: at(14_000))  // 500/s over 4 s
        #expect(a.rates(of: key).connectionsPerSecond == 125)
        #expect(b.rates(of: key).connectionsPerSecond == 125)
        // 1 s early with 500 conns: also 500/s.
        b.tick(services: snapshot(counters(2500, 0, 0, 0, 0)), now: at(15_000))
        #expect(b.rates(of: key).connectionsPerSecond == 219)
    }

    @Test func destinationsHaveTheirOwnEstimate() {
        let est = RateEstimator()
        est.tick(services: snapshot(counters(400, 0, 0, 0, 0), dest: counters(200, 0, 0, 0, 0)), now: at(2000))
        // service 200/s -> 204800 >> 2 = 51200 -> 50; server 100/s -> 25600 -> 25
        #expect(est.rates(of: key).connectionsPerSecond == 50)
        #expect(est.rates(of: key, destination: rs, port: 8080).connectionsPerSecond == 25)
        #expect(est.rates(of: key, destination: rs, port: 9999) == TrafficRates())
    }

    @Test func countersGoingBackwardsRestartFromZero() {
        let est = RateEstimator()
        est.tick(services: snapshot(counters(1000, 1000, 0, 0, 0)), now: at(2000))
        #expect(est.rates(of: key).connectionsPerSecond == 125)
        // -Z happened between ticks: counters are small again. Rates restart at zero...
        est.tick(services: snapshot(counters(10, 10, 0, 0, 0)), now: at(4000))
        #expect(est.rates(of: key) == TrafficRates())
        // ...and the next period is measured from the new baseline (1000 more = 500/s).
        est.tick(services: snapshot(counters(1010, 1010, 0, 0, 0)), now: at(6000))
        #expect(est.rates(of: key).connectionsPerSecond == 125)
    }

    @Test func zeroResetsRatesAtOnce() {
        let est = RateEstimator()
        est.tick(services: snapshot(counters(1000, 0, 0, 0, 0), dest: counters(1000, 0, 0, 0, 0)), now: at(2000))
        let other = ServiceKey(.udp, IPAddress("10.0.0.100")!, 53)
        var snaps = snapshot(counters(1000, 0, 0, 0, 0), dest: counters(1000, 0, 0, 0, 0))
        snaps.append(ServiceSnapshot(key: other, scheduler: "rr", stats: counters(1000, 0, 0, 0, 0), destinations: []))
        est.tick(services: snaps, now: at(4000))
        #expect(est.rates(of: other).connectionsPerSecond == 125)
        est.zero(key, services: snaps)
        #expect(est.rates(of: key) == TrafficRates())
        #expect(est.rates(of: key, destination: rs, port: 8080) == TrafficRates())
        #expect(est.rates(of: other).connectionsPerSecond == 125)
        est.zero(services: snaps)
        #expect(est.rates(of: other) == TrafficRates())
    }

    @Test func vanishedServicesAreForgotten() {
        let est = RateEstimator()
        est.tick(services: snapshot(counters(1000, 0, 0, 0, 0)), now: at(2000))
        est.tick(services: [], now: at(4000))
        #expect(est.rates(of: key) == TrafficRates())
        // Re-added: it starts from zero counters like a new kernel service.
        est.tick(services: snapshot(counters(1000, 0, 0, 0, 0)), now: at(6000))
        #expect(est.rates(of: key).connectionsPerSecond == 125)
    }

    @Test func sameInstantTickIsIgnored() {
        let est = RateEstimator()
        est.tick(services: snapshot(counters(1000, 0, 0, 0, 0)), now: at(2000))
        est.tick(services: snapshot(counters(5000, 0, 0, 0, 0)), now: at(2000))
        #expect(est.rates(of: key).connectionsPerSecond == 125)
    }

    @Test func hugeDeltasSaturateInsteadOfTrapping() {
        let est = RateEstimator()
        est.tick(services: snapshot(counters(0, 0, 0, 0, 0)), now: at(1))
        est.tick(services: snapshot(counters(UInt64.max, UInt64.max, 0, UInt64.max, 0)), now: at(2))
        #expect(est.rates(of: key).connectionsPerSecond > 1 << 40)
    }
}
