import LVSEngine
import LVSPacket

/// Prometheus text exposition (format 0.0.4) of a director's services, real servers and counters.
///
/// Names follow node_exporter's `node_ipvs_*` collector with an `lvs_` prefix; labels are
/// `protocol` (tcp|udp), `local_address`, `local_port` for a service, plus `remote_address`,
/// `remote_port` and `method` (nat|dr|tun) for a real server. Addresses are printed without brackets.
public enum Metrics {
    /// The Content-Type of the exposition.
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    /// Renders every metric family with its HELP and TYPE lines. Services and servers keep the
    /// order given (the director's: services in the order added, servers in list order).
    /// With `rates`, the 2-second EWMA rates (`lvsadm --rate`) are exported as gauges too.
    public static func render(services: [ServiceSnapshot], counters: DirectorCounters, connectionCount: Int,
                              capacity: Int, rates: RateEstimator? = nil) -> String {
        var out = ""
        out.reserveCapacity(256 + services.count * 1500 + services.reduce(0) { $0 + $1.destinations.count } * 2000)

        typealias Traffic = (name: String, help: String, value: (TrafficCounters) -> UInt64)
        let traffic: [Traffic] = [
            ("connections_total", "Connections scheduled", { $0.connections }),
            ("incoming_packets_total", "Packets from clients", { $0.inPackets }),
            ("outgoing_packets_total", "Packets from real servers", { $0.outPackets }),
            ("incoming_bytes_total", "Bytes from clients", { $0.inBytes }),
            ("outgoing_bytes_total", "Bytes from real servers", { $0.outBytes }),
        ]

        for t in traffic {
            family(&out, "lvs_service_" + t.name, "counter", t.help + " by the virtual service.")
            for s in services { sample(&out, "lvs_service_" + t.name, serviceLabels(s.key), t.value(s.stats)) }
        }

        family(&out, "lvs_backend_connections_active", "gauge", "Established TCP connections to the real server.")
        forEachBackend(services) { out.sample("lvs_backend_connections_active", $0, UInt64($1.activeConns)) }
        family(&out, "lvs_backend_connections_inactive", "gauge",
               "Other connections (not established TCP, UDP) to the real server.")
        forEachBackend(services) { out.sample("lvs_backend_connections_inactive", $0, UInt64($1.inactiveConns)) }
        family(&out, "lvs_backend_weight", "gauge", "Scheduling weight of the real server.")
        forEachBackend(services) { out.sample("lvs_backend_weight", $0, UInt64(max(0, $1.weight))) }
        for t in traffic {
            family(&out, "lvs_backend_" + t.name, "counter", t.help + " by the real server.")
            forEachBackend(services) { out.sample("lvs_backend_" + t.name, $0, t.value($1.stats)) }
        }

        if let rates {
            typealias Rate = (name: String, help: String, value: (TrafficRates) -> UInt64)
            let kinds: [Rate] = [
                ("connections_per_second", "Connections scheduled per second", { $0.connectionsPerSecond }),
                ("incoming_packets_per_second", "Packets from clients per second", { $0.inPacketsPerSecond }),
                ("outgoing_packets_per_second", "Packets from real servers per second", { $0.outPacketsPerSecond }),
                ("incoming_bytes_per_second", "Bytes from clients per second", { $0.inBytesPerSecond }),
                ("outgoing_bytes_per_second", "Bytes from real servers per second", { $0.outBytesPerSecond }),
            ]
            for k in kinds {
                family(&out, "lvs_service_rate_" + k.name, "gauge",
                       k.help + " by the virtual service (2 s EWMA, as lvsadm --rate).")
                for s in services { sample(&out, "lvs_service_rate_" + k.name, serviceLabels(s.key), k.value(rates.rates(of: s.key))) }
            }
            for k in kinds {
                family(&out, "lvs_backend_rate_" + k.name, "gauge",
                       k.help + " by the real server (2 s EWMA, as lvsadm --rate).")
                for s in services {
                    let base = serviceLabels(s.key)
                    for d in s.destinations {
                        sample(&out, "lvs_backend_rate_" + k.name, backendLabels(base, d),
                               k.value(rates.rates(of: s.key, destination: d.address, port: d.port)))
                    }
                }
            }
        }

        family(&out, "lvs_connections", "gauge", "Connections in the connection table.")
        sample(&out, "lvs_connections", "", UInt64(max(0, connectionCount)))
        family(&out, "lvs_connection_capacity", "gauge", "Connections the connection table holds.")
        sample(&out, "lvs_connection_capacity", "", UInt64(max(0, capacity)))
        family(&out, "lvs_drops_total", "counter", "Frames dropped, by reason.")
        for r in DropReason.allCases {
            sample(&out, "lvs_drops_total", label("reason", r.description), counters[r])
        }
        family(&out, "lvs_forwarded_frames_total", "counter", "Frames forwarded, by direction.")
        sample(&out, "lvs_forwarded_frames_total", label("direction", "to_real_server"), counters.forwardedToRealServer)
        sample(&out, "lvs_forwarded_frames_total", label("direction", "to_client"), counters.forwardedToClient)
        family(&out, "lvs_replies_total", "counter", "ICMP answers sent by the director (echo replies, errors).")
        sample(&out, "lvs_replies_total", "", counters.replies)
        family(&out, "lvs_fragmentation_needed_total", "counter",
               "VS/TUN packets too big for the tunnel path, answered with ICMP frag-needed / packet-too-big.")
        sample(&out, "lvs_fragmentation_needed_total", "", counters.fragmentationNeeded)
        family(&out, "lvs_not_ours_frames_total", "counter", "Frames left to the kernel.")
        sample(&out, "lvs_not_ours_frames_total", "", counters.notOurs)
        family(&out, "lvs_connections_created_total", "counter", "Connections created.")
        sample(&out, "lvs_connections_created_total", "", counters.connectionsCreated)
        family(&out, "lvs_connections_expired_total", "counter", "Connections expired or removed.")
        sample(&out, "lvs_connections_expired_total", "", counters.connectionsExpired)
        family(&out, "lvs_connections_reused_total", "counter",
               "SYNs that reused a finished or orphaned connection's entry.")
        sample(&out, "lvs_connections_reused_total", "", counters.connectionsReused)
        return out
    }

    /// Sums the snapshots of several directors (one per worker) service by service and server by
    /// server; services and servers appear in the order first seen.
    public static func combine(_ perWorker: [[ServiceSnapshot]]) -> [ServiceSnapshot] {
        var out: [ServiceSnapshot] = []
        var index: [ServiceKey: Int] = [:]
        for services in perWorker {
            for s in services {
                guard let i = index[s.key] else {
                    index[s.key] = out.count
                    out.append(s)
                    continue
                }
                out[i].stats = out[i].stats + s.stats
                for d in s.destinations {
                    if let j = out[i].destinations.firstIndex(where: { $0.address == d.address && $0.port == d.port }) {
                        out[i].destinations[j].stats = out[i].destinations[j].stats + d.stats
                        out[i].destinations[j].activeConns &+= d.activeConns
                        out[i].destinations[j].inactiveConns &+= d.inactiveConns
                        out[i].destinations[j].persistConns &+= d.persistConns
                        out[i].destinations[j].overloaded = out[i].destinations[j].overloaded || d.overloaded
                    } else {
                        out[i].destinations.append(d)
                    }
                }
            }
        }
        return out
    }

    /// Sums the counters of several directors.
    public static func combine(_ perWorker: [DirectorCounters]) -> DirectorCounters {
        var c = DirectorCounters()
        for w in perWorker {
            for i in c.drops.indices where i < w.drops.count { c.drops[i] &+= w.drops[i] }
            c.forwardedToRealServer &+= w.forwardedToRealServer
            c.forwardedToClient &+= w.forwardedToClient
            c.replies &+= w.replies
            c.notOurs &+= w.notOurs
            c.connectionsCreated &+= w.connectionsCreated
            c.connectionsExpired &+= w.connectionsExpired
            c.connectionsReused &+= w.connectionsReused
            c.fragmentationNeeded &+= w.fragmentationNeeded
        }
        return c
    }

    // MARK: Text

    static func family(_ out: inout String, _ name: String, _ type: String, _ help: String) {
        out += "# HELP \(name) \(escapeHelp(help))\n# TYPE \(name) \(type)\n"
    }

    static func sample(_ out: inout String, _ name: String, _ labels: String, _ value: UInt64) {
        out += name
        if !labels.isEmpty { out += "{" + labels + "}" }
        out += " " + String(value) + "\n"
    }

    static func forEachBackend(_ services: [ServiceSnapshot], _ body: (String, DestinationSnapshot) -> Void) {
        for s in services {
            let base = serviceLabels(s.key)
            for d in s.destinations { body(backendLabels(base, d), d) }
        }
    }

    static func backendLabels(_ base: String, _ d: DestinationSnapshot) -> String {
        base + "," + label("remote_address", d.address.description) + "," + label("remote_port", String(d.port)) + ","
            + label("method", ConfigChange.method(d.method))
    }

    /// A group (ipvsadm -f) is labelled protocol="fwm", empty local_address, local_port="0" and
    /// local_mark, as node_exporter labels IPVS fwmark services.
    static func serviceLabels(_ key: ServiceKey) -> String {
        if key.isGroup {
            return label("protocol", "fwm") + "," + label("local_address", "") + "," + label("local_port", "0") + ","
                + label("local_mark", String(key.fwmark))
        }
        return label("protocol", key.proto == .tcp ? "tcp" : "udp") + "," + label("local_address", key.address.description)
            + "," + label("local_port", String(key.port))
    }

    static func label(_ name: String, _ value: String) -> String { name + "=\"" + escapeLabel(value) + "\"" }

    /// Label values: backslash, double quote and line feed are escaped.
    public static func escapeLabel(_ s: String) -> String {
        guard s.unicodeScalars.contains(where: { $0 == "\\" || $0 == "\"" || $0 == "\n" }) else { return s }
        var out = ""
        for ch in s.unicodeScalars {
            switch ch {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(ch)
            }
        }
        return out
    }

    /// HELP text: backslash and line feed are escaped.
    public static func escapeHelp(_ s: String) -> String {
        guard s.unicodeScalars.contains(where: { $0 == "\\" || $0 == "\n" }) else { return s }
        var out = ""
        for ch in s.unicodeScalars {
            switch ch {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(ch)
            }
        }
        return out
    }
}

extension String {
    fileprivate mutating func sample(_ name: String, _ labels: String, _ value: UInt64) {
        Metrics.sample(&self, name, labels, value)
    }
}
