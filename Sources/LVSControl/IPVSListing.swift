import LVSEngine
import LVSPacket

/// ipvsadm 1.31's listing layouts (spec section 7.2 and 7.3), rendered from engine snapshots so
/// that operators' scripts that parse `ipvsadm -L -n` keep working against SwiftLVS.
public enum IPVSListing {
    /// `IP_VS_VERSION_CODE` 0x010201 as ipvsadm prints it.
    public static let version = "1.2.1"

    /// `ipvsadm -L -n`.
    public static func table(_ services: [ServiceSnapshot], size: Int) -> String {
        var out = "IP Virtual Server version \(version) (size=\(size))\n"
        out += "Prot LocalAddress:Port Scheduler Flags\n"
        out += "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n"
        for s in sorted(services) {
            out += serviceName(s.key) + " " + s.scheduler + "\n"
            for d in sortedDestinations(s) {
                out += "  -> " + pad(endpoint(d.address, d.port), 28) + " " + pad(d.method.description, 7) + " "
                    + pad(String(d.weight), 6) + " " + pad(String(d.activeConns), 10) + " "
                    + pad(String(d.inactiveConns), 10) + "\n"
            }
        }
        return out
    }

    /// `ipvsadm -L -n --stats` (and with `exact`, `--exact`).
    public static func stats(_ services: [ServiceSnapshot], size: Int, exact: Bool = false) -> String {
        var out = "IP Virtual Server version \(version) (size=\(size))\n"
        out += pad("Prot LocalAddress:Port", 33)
        for title in ["Conns", "InPkts", "OutPkts", "InBytes", "OutBytes"] { out += " " + padLeft(title, 8) }
        out += "\n  -> RemoteAddress:Port\n"
        func counters(_ c: TrafficCounters) -> String {
            [c.connections, c.inPackets, c.outPackets, c.inBytes, c.outBytes].map { largenum($0, exact: exact) }.joined()
        }
        for s in sorted(services) {
            out += pad(serviceName(s.key), 33) + counters(s.stats) + "\n"
            for d in sortedDestinations(s) {
                out += "  -> " + pad(endpoint(d.address, d.port), 28) + counters(d.stats) + "\n"
            }
        }
        return out
    }

    /// `printf("%-4s %s", proto, addr:port)`, truncated to 33 characters for IPv4.
    static func serviceName(_ key: ServiceKey) -> String {
        let name = pad(key.proto.description, 4) + " " + endpoint(key.address, key.port)
        return key.address.isIPv4 ? String(name.prefix(33)) : name
    }

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

    /// Services by protocol, address family, address, port (libipvs's order for address services).
    static func sorted(_ services: [ServiceSnapshot]) -> [ServiceSnapshot] {
        services.sorted {
            let a = $0.key, b = $1.key
            if a.address.isIPv4 != b.address.isIPv4 { return a.address.isIPv4 }
            if a.proto != b.proto { return a.proto.rawValue < b.proto.rawValue }
            if a.address != b.address { return a.address < b.address }
            return a.port < b.port
        }
    }

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
