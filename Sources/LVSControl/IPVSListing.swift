import LVSEngine
import LVSPacket

/// ipvsadm 1.31's output layouts (spec section 7; ipvsadm.c `print_title`, `print_service_entry`,
/// `list_conn`, `list_timeout`), rendered from engine snapshots so that operators' scripts that
/// parse `ipvsadm -L -n` keep working against SwiftLVS.
///
/// Addresses and ports are always printed numerically: without `-n`, ipvsadm resolves names
/// through DNS and /etc/services, which this I/O-free layer does not do.
public enum IPVSListing {
    /// `IP_VS_VERSION_CODE` 0x010201 as ipvsadm prints it.
    public static let version = "1.2.1"

    /// `ipvsadm -L -n`.
    public static func table(_ services: [ServiceSnapshot], size: Int) -> String {
        list(services, size: size, format: [.numeric])
    }

    /// `ipvsadm -L -n --stats` (and with `exact`, `--exact`).
    public static func stats(_ services: [ServiceSnapshot], size: Int, exact: Bool = false) -> String {
        list(services, size: size, format: exact ? [.numeric, .stats, .exact] : [.numeric, .stats])
    }

    /// `ipvsadm -L` with any of its layouts (ipvsadm's `list_all`): the version line, the title,
    /// then every service. `rates` feeds `--rate` (zeros without it).
    public static func list(_ services: [ServiceSnapshot], size: Int, format: IPVSFormat,
                            rates: RateEstimator? = nil) -> String {
        list(services, size: size, format: format, rateOf: lookup(rates))
    }

    /// Rates of a service (destination nil) or of one of its real servers.
    typealias RateLookup = (ServiceKey, DestinationSnapshot?) -> TrafficRates

    static func lookup(_ rates: RateEstimator?) -> RateLookup {
        { key, d in
            guard let rates else { return TrafficRates() }
            guard let d else { return rates.rates(of: key) }
            return rates.rates(of: key, destination: d.address, port: d.port)
        }
    }

    static func list(_ services: [ServiceSnapshot], size: Int, format: IPVSFormat, rateOf: RateLookup) -> String {
        var out = "IP Virtual Server version \(version) (size=\(size))\n"
        out += title(format)
        for s in format.contains(.noSort) ? services : sorted(services) {
            out += serviceEntry(s, format: format, rateOf: rateOf)
        }
        return out
    }

    /// `ipvsadm -L -t|-u service` (`list_service`): the title and one service, no version line.
    public static func service(_ s: ServiceSnapshot, format: IPVSFormat, rates: RateEstimator? = nil) -> String {
        title(format) + serviceEntry(s, format: format, rateOf: lookup(rates))
    }

    /// `ipvsadm -S -n`: one `-A` line per service followed by its `-a` lines (spec 7.5).
    public static func rules(_ services: [ServiceSnapshot]) -> String {
        var out = ""
        for s in sorted(services) {
            let svc = s.key.isGroup
                ? "-f \(s.key.fwmark)" + (s.key.address.isIPv4 ? "" : " -6")
                : (s.key.proto == .tcp ? "-t " : "-u ") + Endpoint(s.key.address, s.key.port).description
            out += "-A \(svc) -s \(s.scheduler)"
            if let p = s.persistence {
                out += " -p \(p.timeout / 1000)"
                if let mask = persistenceMask(p, ipv4: s.key.address.isIPv4) { out += " -M \(mask)" }
            }
            if let flags = SchedulerFlagNames.list(s.schedulerFlags, scheduler: s.scheduler) { out += " -b \(flags)" }
            if s.onePacket { out += " -o" }
            // SwiftLVS extensions (not in ipvsadm), so that -S | -R loses nothing.
            if !s.matches.isEmpty { out += " --match " + s.matches.map(\.description).joined(separator: ",") }
            if let t = s.udpTimeout { out += " --udp-timeout \(t / 1000)" }
            if s.virtualPortRange != defaultVirtualPortRange {
                out += " --vdport-range \(s.virtualPortRange.lowerBound)-\(s.virtualPortRange.upperBound)"
            }
            if !s.localAddresses.isEmpty { out += " --laddr " + s.localAddresses.map(\.description).joined(separator: ",") }
            if s.clientAddress != .none { out += " --client-address \(s.clientAddress.rawValue)" }
            out += "\n"
            for d in sortedDestinations(s) {
                out += "-a \(svc) -r \(Endpoint(d.address, d.port)) \(forwardSwitch(d.method)) -w \(d.weight)"
                if d.method == .tunnel {
                    out += " --tun-type \(d.tunnel.type)"
                    if d.tunnel.type == .gue {
                        out += " --tun-port \(d.tunnel.port) " + (d.tunnel.udpChecksum ? "--tun-csum" : "--tun-nocsum")
                    }
                }
                out += "\n"
            }
        }
        return out
    }

    /// `ipvsadm -L -n -c` (`list_conn` over /proc/net/ip_vs_conn).
    public static func connections(_ conns: [ConnectionSnapshot], format: IPVSFormat = [.numeric]) -> String {
        var out = "IPVS connection entries\n"
        if format.contains(.persistentConn) {
            out += "pro expire " + pad("state", 11) + " " + pad("source", 18) + " " + pad("virtual", 18) + " "
                + pad("destination", 18) + " " + pad("pe name", 16) + " pe_data\n"
        } else {
            out += "pro expire " + pad("state", 11) + " " + pad("source", 18) + " " + pad("virtual", 18)
                + " destination\n"
        }
        // The kernel prints whole seconds left; ipvsadm shows them as mm:ss. Rows carry no
        // persistence-engine data here, so they keep the short layout even with --persistent-conn.
        for c in conns {
            out += pad(c.protocolName, 3) + " " + pad(expiry(c.expiresIn), 6) + " " + pad(c.state, 11) + " "
                + pad(c.client.description, 18) + " " + pad(c.virtual.description, 18) + " "
                + c.destination.description + "\n"
        }
        return out
    }

    /// The persistence mask as ipvsadm prints it (dotted IPv4, IPv6 prefix length), or nil when it
    /// is the full /32 or /128 (not printed).
    static func persistenceMask(_ p: Persistence, ipv4: Bool) -> String? {
        if ipv4 {
            guard p.netmask != .max else { return nil }
            return IPAddress(v4: p.netmask).description
        }
        return p.prefixLength == 128 ? nil : String(p.prefixLength)
    }

    /// `ipvsadm -L --timeout`.
    public static func timeouts(_ t: Timeouts) -> String {
        "Timeout (tcp tcpfin udp): \(t[.established] / 1000) \(t[.finWait] / 1000) \(t.udp / 1000)\n"
    }

    /// `%02d:%02d` of whole minutes and seconds.
    static func expiry(_ milliseconds: UInt64) -> String {
        let s = milliseconds / 1000
        return twoDigits(s / 60) + ":" + twoDigits(s % 60)
    }

    static func twoDigits(_ v: UInt64) -> String { v < 10 ? "0\(v)" : "\(v)" }

    // MARK: print_title / print_service_entry

    /// The title lines for a layout (the first matching of stats, rate, thresholds,
    /// persistent-conn, tun-info, default, as in ipvsadm).
    public static func title(_ format: IPVSFormat) -> String {
        let prot = pad("Prot LocalAddress:Port", 33)
        if format.contains(.stats) || format.contains(.rate) {
            let names = format.contains(.stats)
                ? ["Conns", "InPkts", "OutPkts", "InBytes", "OutBytes"] : ["CPS", "InPPS", "OutPPS", "InBPS", "OutBPS"]
            return prot + names.map { " " + padLeft($0, 8) }.joined() + "\n  -> RemoteAddress:Port\n"
        }
        if format.contains(.thresholds) {
            return prot + " " + pad("Uthreshold", 10) + " " + pad("Lthreshold", 10) + " " + pad("ActiveConn", 10) + " "
                + pad("InActConn", 10) + "\n  -> RemoteAddress:Port\n"
        }
        if format.contains(.persistentConn) {
            return prot + " " + pad("Weight", 9) + " " + pad("PersistConn", 11) + " " + pad("ActiveConn", 10) + " "
                + pad("InActConn", 10) + "\n  -> RemoteAddress:Port\n"
        }
        if format.contains(.tunInfo) {
            return "Prot LocalAddress:Port Scheduler Flags\n"
                + "  -> RemoteAddress:Port           Forward TunnelInfo    Weight ActiveConn InActConn\n"
        }
        return "Prot LocalAddress:Port Scheduler Flags\n"
            + "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n"
    }

    static func serviceEntry(_ s: ServiceSnapshot, format: IPVSFormat, rateOf: RateLookup) -> String {
        let exact = format.contains(.exact)
        let name = serviceName(s.key)
        var out: String
        if format.contains(.stats) {
            out = pad(name, 33) + counters(s.stats, exact)
        } else if format.contains(.rate) {
            let r = rateOf(s.key, nil)
            out = pad(name, 33)
            for v in [r.connectionsPerSecond, r.inPacketsPerSecond, r.outPacketsPerSecond, r.inBytesPerSecond,
                      r.outBytesPerSecond] {
                out += largenum(v, exact: exact)
            }
        } else {
            out = name + " " + s.scheduler
            if let flags = SchedulerFlagNames.list(s.schedulerFlags, scheduler: s.scheduler) { out += " (\(flags))" }
            if let p = s.persistence {
                out += " persistent \(p.timeout / 1000)"
                if let mask = persistenceMask(p, ipv4: s.key.address.isIPv4) { out += " mask \(mask)" }
            }
            if s.onePacket { out += " ops" }
        }
        out += "\n"
        for d in format.contains(.noSort) ? s.destinations : sortedDestinations(s) {
            let dname = "  -> " + pad(endpoint(d.address, d.port), 28)
            if format.contains(.stats) {
                out += dname + counters(d.stats, exact) + "\n"
            } else if format.contains(.rate) {
                let r = rateOf(s.key, d)
                out += dname + " " + padLeft(String(r.connectionsPerSecond), 8) + " "
                    + padLeft(String(r.inPacketsPerSecond), 8) + " " + padLeft(String(r.outPacketsPerSecond), 8)
                    + largenum(r.inBytesPerSecond, exact: exact) + largenum(r.outBytesPerSecond, exact: exact) + "\n"
            } else if format.contains(.thresholds) {
                out += dname + " " + pad(String(d.upperThreshold), 10) + " " + pad(String(d.lowerThreshold), 10) + " "
                    + pad(String(d.activeConns), 10) + " " + pad(String(d.inactiveConns), 10) + "\n"
            } else if format.contains(.persistentConn) {
                out += dname + " " + pad(String(d.weight), 9) + " " + pad(String(d.persistConns), 11) + " "
                    + pad(String(d.activeConns), 10) + " " + pad(String(d.inactiveConns), 10) + "\n"
            } else if format.contains(.tunInfo) {
                out += dname + " " + pad(d.method.description, 7) + " " + pad(tunnelInfo(d), 13) + " " + pad(String(d.weight), 6)
                    + " " + pad(String(d.activeConns), 10) + " " + pad(String(d.inactiveConns), 10) + "\n"
            } else {
                out += dname + " " + pad(d.method.description, 7) + " " + pad(String(d.weight), 6) + " "
                    + pad(String(d.activeConns), 10) + " " + pad(String(d.inactiveConns), 10) + "\n"
            }
        }
        return out
    }

    static func counters(_ c: TrafficCounters, _ exact: Bool) -> String {
        [c.connections, c.inPackets, c.outPackets, c.inBytes, c.outBytes].map { largenum($0, exact: exact) }.joined()
    }

    /// `-m`, `-g`, `-i`, as `ipvsadm -S` writes the method.
    static func forwardSwitch(_ m: ForwardingMethod) -> String {
        switch m {
        case .masquerade: "-m"
        case .directRoute: "-g"
        case .tunnel: "-i"
        case .doubleNAT: "--double-nat"
        case .fullNAT: "--fullnat"
        }
    }

    /// The --tun-info column: `ipip`, `gue:<port>:<-c|+c>`, `n/a` for other methods.
    static func tunnelInfo(_ d: DestinationSnapshot) -> String {
        guard d.method == .tunnel else { return "n/a" }
        if d.tunnel.type == .ipip { return "ipip" }
        return "gue:\(d.tunnel.port):" + (d.tunnel.udpChecksum ? "+c" : "-c")
    }

    /// `printf("%-4s %s", proto, addr:port)`, truncated to 33 characters for IPv4.
    static func serviceName(_ key: ServiceKey) -> String {
        if key.isGroup { return key.description }
        let name = pad(key.proto.description, 4) + " " + endpoint(key.address, key.port)
        return key.address.isIPv4 ? String(name.prefix(33)) : name
    }

    /// `a.b.c.d:port` truncated to 28 characters, or `[v6]:port`.
    static func endpoint(_ a: IPAddress, _ port: UInt16) -> String {
        a.isIPv4 ? String("\(a):\(port)".prefix(28)) : "[\(a)]:\(port)"
    }

    /// ipvsadm's `print_largenum`: 9-wide below 10^8, then K/M/G/T units in 8 digits + suffix.
    public static func largenum(_ i: UInt64, exact: Bool = false) -> String {
        if exact {
            let s = String(i)
            return padLeft(s, max(9, s.count + 1))
        }
        if i < 100_000_000 { return padLeft(String(i), 9) }
        if i < 1_000_000_000 { return padLeft(String(i / 1000), 8) + "K" }
        if i < 100_000_000_000 { return padLeft(String(i / 1_000_000), 8) + "M" }
        if i < 100_000_000_000_000 { return padLeft(String(i / 1_000_000_000), 8) + "G" }
        return padLeft(String(i / 1_000_000_000_000), 8) + "T"
    }

    /// libipvs's `ipvs_cmp_services`: address services first, by address family (IPv4 first),
    /// protocol, address, port; then groups (fwmark services) by mark, then family.
    static func sorted(_ services: [ServiceSnapshot]) -> [ServiceSnapshot] {
        services.sorted {
            let a = $0.key, b = $1.key
            if a.fwmark != b.fwmark { return a.fwmark < b.fwmark }
            if a.address.isIPv4 != b.address.isIPv4 { return a.address.isIPv4 }
            if a.proto != b.proto { return a.proto.rawValue < b.proto.rawValue }
            if a.address != b.address { return a.address < b.address }
            return a.port < b.port
        }
    }

    /// Real servers by address, then port (`ipvs_cmp_dests`).
    static func sortedDestinations(_ s: ServiceSnapshot) -> [DestinationSnapshot] {
        s.destinations.sorted { $0.address != $1.address ? $0.address < $1.address : $0.port < $1.port }
    }

    /// `%-Ns`.
    public static func pad(_ s: String, _ width: Int) -> String {
        s.count >= width ? s : s + String(repeating: " ", count: width - s.count)
    }

    /// `%Ns`.
    public static func padLeft(_ s: String, _ width: Int) -> String {
        s.count >= width ? s : String(repeating: " ", count: width - s.count) + s
    }
}
