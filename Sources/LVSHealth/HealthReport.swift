import LVSControl
import LVSEngine
import LVSPacket

/// Health state in lvsadm listings (`--health`) and in the metrics exposition.
public enum HealthReport {
    /// Appends a health column to the real-server lines of an ipvsadm-style listing and lists
    /// checked servers that are out of the table (removed while down) under their service.
    /// Service lines start with the protocol; real-server lines with `  -> `.
    public static func annotate(_ listing: String, _ book: HealthBook) -> String {
        let servers = book.servers
        var byEndpoint: [String: [(id: ServerID, alive: Bool, configured: Int32, effective: Int32, reason: String)]] = [:]
        for s in servers { byEndpoint[s.id.service.description, default: []].append(s) }
        var out: [String] = []
        var current: ServiceKey?
        var inService = false
        var shown: Set<String> = []
        func flushMissing() {
            guard let key = current else { return }
            for s in byEndpoint[key.description] ?? [] where !shown.contains(s.id.description) {
                out.append("  -> " + pad(s.id.description, 29) + "(not in table)  " + state(s))
            }
            shown = []
        }
        let services = Dictionary(uniqueKeysWithValues: book.config.services.map {
            ("\($0.key.proto)  \(Endpoint($0.key.address, $0.key.port))", $0.key)
        })
        for line in listing.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if line.hasPrefix("TCP  ") || line.hasPrefix("UDP  ") {
                flushMissing()
                let head = line.split(separator: " ", omittingEmptySubsequences: true).prefix(2).joined(separator: "  ")
                current = services[head]
                inService = true
                out.append(line)
            } else if line.hasPrefix("  -> RemoteAddress") {
                out.append(line + "  Health")
            } else if line.hasPrefix("  -> "), inService {
                let ep = line.dropFirst(5).prefix { $0 != " " }
                guard let key = current else {
                    out.append(line + unchecked(line))
                    continue
                }
                let match = (byEndpoint[key.description] ?? []).first { $0.id.description == ep }
                if let m = match {
                    shown.insert(m.id.description)
                    out.append(line + "  " + state(m))
                } else if book.config.health.first(where: { $0.key == key })?.sorryServer.map({ Endpoint($0.address, $0.port).description == ep }) == true {
                    out.append(line + "  SORRY (quorum lost)")
                } else {
                    out.append(line + unchecked(line))
                }
            } else {
                if line.isEmpty { flushMissing(); current = nil; inService = false }
                out.append(line)
            }
        }
        flushMissing()
        return out.joined(separator: "\n")
    }

    /// The column for a server no checker watches: a weight of 0 is an operator's drain
    /// (quiesced: existing connections continue, no new ones).
    static func unchecked(_ line: String) -> String {
        let fields = line.split(separator: " ", omittingEmptySubsequences: true)
        return fields.count > 3 && fields[3] == "0" ? "  DRAIN (weight 0)" : "  -"
    }

    static func state(_ s: (id: ServerID, alive: Bool, configured: Int32, effective: Int32, reason: String)) -> String {
        var t = s.alive ? (s.effective == 0 ? "DRAIN" : "UP") : "DOWN"
        if s.alive && s.effective != s.configured { t += " weight \(s.effective)/\(s.configured)" }
        if !s.alive { t += " (\(s.reason))" }
        return t
    }

    static func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s + " " : s + String(repeating: " ", count: n - s.count) }

    /// The labels `Metrics` gives a service: `protocol="tcp",local_address="...",local_port="..."`.
    static func serviceLabels(_ k: ServiceKey) -> String {
        "protocol=\"\(k.proto == .tcp ? "tcp" : "udp")\",local_address=\"\(k.address)\",local_port=\"\(k.port)\""
    }

    /// `lvs_real_server_up` and `lvs_real_server_weight_effective` per checked server, plus
    /// `lvs_service_quorum_up` per checked service.
    public static func metrics(_ book: HealthBook) -> String {
        var out = "# HELP lvs_real_server_up 1 when every health checker of the real server passes.\n"
        out += "# TYPE lvs_real_server_up gauge\n"
        let servers = book.servers
        func labels(_ id: ServerID) -> String {
            serviceLabels(id.service) + ",remote_address=\"\(id.address)\",remote_port=\"\(id.port)\""
        }
        for s in servers { out += "lvs_real_server_up{\(labels(s.id))} \(s.alive ? 1 : 0)\n" }
        out += "# HELP lvs_real_server_weight_effective The weight health checking gives the server (0 when out).\n"
        out += "# TYPE lvs_real_server_weight_effective gauge\n"
        for s in servers { out += "lvs_real_server_weight_effective{\(labels(s.id))} \(s.effective)\n" }
        out += "# HELP lvs_service_quorum_up 1 while the service's live weight meets its quorum.\n"
        out += "# TYPE lvs_service_quorum_up gauge\n"
        for sh in book.config.health {
            out += "lvs_service_quorum_up{\(serviceLabels(sh.key))} \((book.quorumUp[sh.key] ?? true) ? 1 : 0)\n"
        }
        return out
    }
}
