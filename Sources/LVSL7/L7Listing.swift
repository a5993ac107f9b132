/// `lvsadm -L --l7`: the switch's listeners, rules, pools and servers with their counters.
public enum L7Listing {
    public static func render(_ c: L7Configuration, stats: [(pool: String, servers: [L7ServerStats])]) -> String {
        var out = "L7 HTTP switch\n"
        for l in c.listeners {
            out += "  listen " + (l.address.isIPv4 ? "\(l.address):\(l.port)" : "[\(l.address)]:\(l.port)") + "\n"
        }
        for r in c.rules {
            out += "  rule " + r.conditions.map(describe).joined(separator: " ") + " -> \(c.pools[r.pool].name)\n"
        }
        out += "  default -> \(c.pools[c.defaultPool].name)\n"
        out += "Pool             Scheduler Server                                    Weight State Active   Requests   Failures Check\n"
        for (i, p) in c.pools.enumerated() {
            let servers = i < stats.count ? stats[i].servers : []
            var sched = p.scheduler
            if let k = p.hashKey { sched += "(\(keyName(k)))" }
            if let cookie = p.cookie { sched += " cookie=\(cookie)" }
            out += pad(p.name, 16) + " " + sched + "\n"
            for s in servers {
                out += "  -> " + pad("", 23) + pad(s.server.endpoint, 41) + " " + lpad("\(s.server.weight)", 6) + " "
                    + pad(s.up ? "up" : "down", 5) + " " + lpad("\(s.inFlight)", 6) + " " + lpad("\(s.requests)", 10)
                    + " " + lpad("\(s.failures)", 10) + " " + check(s) + "\n"
            }
        }
        return out
    }

    /// The active checker's state: `-` without a health_check, `up`, or `down (reason)`.
    static func check(_ s: L7ServerStats) -> String {
        guard let up = s.checkUp else { return "-" }
        return up ? "up" : "down (\(s.checkReason ?? ""))"
    }

    static func describe(_ c: L7Condition) -> String {
        switch c {
        case .host(let h): return "host=\(h)"
        case .pathPrefix(let p): return "path_prefix=\(p)"
        case .pathRegex(let r): return "path_regex=\(r.pattern)"
        case .header(let n, let v): return v.map { "header:\(n)=\($0)" } ?? "header:\(n)"
        case .method(let m): return "method=" + m.joined(separator: ",")
        }
    }

    static func keyName(_ k: L7HashKey) -> String {
        switch k {
        case .path: return "path"
        case .uri: return "uri"
        case .host: return "host"
        case .client: return "client"
        case .header(let n): return "header:\(n)"
        case .cookie(let n): return "cookie:\(n)"
        }
    }

    static func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }
    static func lpad(_ s: String, _ n: Int) -> String { s.count >= n ? s : String(repeating: " ", count: n - s.count) + s }
}
