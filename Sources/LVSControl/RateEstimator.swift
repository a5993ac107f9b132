import LVSEngine
import LVSPacket

/// Rates as `ipvsadm -L --rate` shows them: connections, packets and bytes per second.
public struct TrafficRates: Sendable, Equatable {
    public var connectionsPerSecond: UInt64 = 0
    public var inPacketsPerSecond: UInt64 = 0
    public var outPacketsPerSecond: UInt64 = 0
    public var inBytesPerSecond: UInt64 = 0
    public var outBytesPerSecond: UInt64 = 0

    public init() {}

    public init(cps: UInt64, inPPS: UInt64, outPPS: UInt64, inBPS: UInt64, outBPS: UInt64) {
        connectionsPerSecond = cps
        inPacketsPerSecond = inPPS
        outPacketsPerSecond = outPPS
        inBytesPerSecond = inBPS
        outBytesPerSecond = outBPS
    }
}

/// IPVS's rate estimator (ip_vs_est.c), per service and per real server.
///
/// The daemon calls `tick(services:now:)` every 2 seconds with fresh snapshots. Each tick turns the
/// counter deltas into rates and folds them into an exponentially weighted moving average with
/// weight 1/4 (`avg += (rate - avg) >> 2`), in the kernel's fixed point: conns and packets scaled
/// by 2^10, bytes by 2^5. Reading rounds as the kernel does (`(avg + 0x1FF) >> 10`,
/// `(avg + 0xF) >> 5`). A tick that comes later or earlier than 2 s scales the deltas by the real
/// interval (exactly the kernel's `<< 9` / `<< 4` at 2 s).
///
/// An object first seen starts from zero counters (a new service's counters start at zero, and
/// the kernel zeroes its estimator on creation), so its first tick counts its traffic so far.
/// Counters that go backwards (`-Z`, or a service removed and re-added) restart the estimate
/// from the current values with zero rates, as `ip_vs_zero_estimator` does.
///
/// Not thread-safe: the daemon owns it on its control thread.
public final class RateEstimator {
    /// The estimator's period (IPVS: 2 s).
    public static let interval: UInt64 = 2000

    /// EWMA state of one object, in the kernel's scaled units.
    struct Estimate {
        var last = TrafficCounters()
        var cps: Int64 = 0
        var inpps: Int64 = 0
        var outpps: Int64 = 0
        var inbps: Int64 = 0
        var outbps: Int64 = 0

        var rates: TrafficRates {
            TrafficRates(
                cps: UInt64(max(0, cps + 0x1FF) >> 10), inPPS: UInt64(max(0, inpps + 0x1FF) >> 10),
                outPPS: UInt64(max(0, outpps + 0x1FF) >> 10), inBPS: UInt64(max(0, inbps + 0xF) >> 5),
                outBPS: UInt64(max(0, outbps + 0xF) >> 5))
        }

        /// Restarts from `counters` with zero rates (ip_vs_zero_estimator).
        mutating func zero(at counters: TrafficCounters) {
            self = Estimate()
            last = counters
        }

        mutating func update(_ now: TrafficCounters, elapsedMs: UInt64) {
            if now.connections < last.connections || now.inPackets < last.inPackets
                || now.outPackets < last.outPackets || now.inBytes < last.inBytes || now.outBytes < last.outBytes
            {
                zero(at: now)
                return
            }
            // Scaled per-second rate: delta * 2^shift / seconds = delta * 2^shift * 1000 / ms.
            func rate(_ delta: UInt64, _ shift: UInt64) -> Int64 {
                let (high, low) = delta.multipliedFullWidth(by: (1 << shift) * 1000)
                guard high < elapsedMs else { return Int64.max / 2 }
                let q = elapsedMs.dividingFullWidth((high, low)).quotient
                return Int64(min(q, UInt64(Int64.max / 2)))
            }
            func fold(_ avg: inout Int64, _ r: Int64) { avg += (r - avg) >> 2 }
            fold(&cps, rate(now.connections - last.connections, 10))
            fold(&inpps, rate(now.inPackets - last.inPackets, 10))
            fold(&outpps, rate(now.outPackets - last.outPackets, 10))
            fold(&inbps, rate(now.inBytes - last.inBytes, 5))
            fold(&outbps, rate(now.outBytes - last.outBytes, 5))
            last = now
        }
    }

    struct DestinationKey: Hashable {
        var service: ServiceKey
        var address: IPAddress
        var port: UInt16
    }

    var services: [ServiceKey: Estimate] = [:]
    var destinations: [DestinationKey: Estimate] = [:]
    var lastTick: Timestamp?

    public init() {}

    /// Folds one period's counters in. Objects missing from `services` are forgotten.
    public func tick(services snapshots: [ServiceSnapshot], now: Timestamp) {
        var elapsed = RateEstimator.interval
        if let last = lastTick {
            guard now > last else { return }  // same instant (or a clock going back): nothing to measure
            elapsed = now.milliseconds - last.milliseconds
        }
        lastTick = now
        var seenServices: [ServiceKey: Estimate] = [:]
        var seenDestinations: [DestinationKey: Estimate] = [:]
        seenServices.reserveCapacity(snapshots.count)
        for s in snapshots {
            var e = services[s.key] ?? Estimate()
            e.update(s.stats, elapsedMs: elapsed)
            seenServices[s.key] = e
            for d in s.destinations {
                let key = DestinationKey(service: s.key, address: d.address, port: d.port)
                var de = destinations[key] ?? Estimate()
                de.update(d.stats, elapsedMs: elapsed)
                seenDestinations[key] = de
            }
        }
        services = seenServices
        destinations = seenDestinations
    }

    /// `ipvsadm -Z`: restarts the estimates of one service (and its servers), or of all, from the
    /// counters in `snapshots` (taken after zeroing).
    public func zero(_ key: ServiceKey? = nil, services snapshots: [ServiceSnapshot]) {
        for s in snapshots where key == nil || s.key == key {
            services[s.key, default: Estimate()].zero(at: s.stats)
            for d in s.destinations {
                destinations[DestinationKey(service: s.key, address: d.address, port: d.port), default: Estimate()]
                    .zero(at: d.stats)
            }
        }
    }

    /// The current rates of a service (zero when unknown).
    public func rates(of service: ServiceKey) -> TrafficRates {
        services[service]?.rates ?? TrafficRates()
    }

    /// The current rates of a real server of a service (zero when unknown).
    public func rates(of service: ServiceKey, destination address: IPAddress, port: UInt16) -> TrafficRates {
        destinations[DestinationKey(service: service, address: address, port: port)]?.rates ?? TrafficRates()
    }
}
