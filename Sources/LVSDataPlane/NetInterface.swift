import CLinuxNet
import LVSPacket

/// What the data plane needs to know about one of its interfaces.
public struct NetInterface: Sendable {
    public var name: String
    public var index: Int32
    public var mac: MACAddress
    public var mtu: Int
    /// The interface's IPv4 addresses with their prefix lengths (its connected subnets).
    public var ipv4: [(address: IPAddress, prefixLength: Int)]
    /// The interface's IPv6 addresses (link-local included) with their prefix lengths.
    public var ipv6: [(address: IPAddress, prefixLength: Int)]

    public init(name: String, index: Int32, mac: MACAddress, mtu: Int, ipv4: [(address: IPAddress, prefixLength: Int)],
                ipv6: [(address: IPAddress, prefixLength: Int)] = []) {
        self.name = name
        self.index = index
        self.mac = mac
        self.mtu = mtu
        self.ipv4 = ipv4
        self.ipv6 = ipv6
    }

    /// Addresses of both families.
    public var addresses: [(address: IPAddress, prefixLength: Int)] { ipv4 + ipv6 }

    /// Reads index, MAC, MTU and IPv4 addresses from the kernel.
    public static func query(_ name: String) throws(DataPlaneError) -> NetInterface {
        var index: Int32 = 0
        var mtu: Int32 = 0
        var mac: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0, 0, 0)
        let r = withUnsafeMutableBytes(of: &mac) { clinuxnet_if_info(name, &index, $0.baseAddress!.assumingMemoryBound(to: UInt8.self), &mtu) }
        if r < 0 { throw .interface(name, "cannot read its index, address and MTU", errno: -r) }
        var addrs = [UInt32](repeating: 0, count: 16)
        var prefixes = [UInt8](repeating: 0, count: 16)
        let n = clinuxnet_if_ipv4(name, &addrs, &prefixes, 16)
        if n < 0 { throw .interface(name, "cannot list its IPv4 addresses", errno: -n) }
        var v6 = [UInt8](repeating: 0, count: 16 * 16)
        var v6prefixes = [UInt8](repeating: 0, count: 16)
        let m = clinuxnet_if_ipv6(name, &v6, &v6prefixes, 16)
        if m < 0 { throw .interface(name, "cannot list its IPv6 addresses", errno: -m) }
        return NetInterface(
            name: name, index: index, mac: MACAddress(mac.0, mac.1, mac.2, mac.3, mac.4, mac.5), mtu: Int(mtu),
            ipv4: (0..<Int(n)).map { (IPAddress(v4Raw: addrs[$0]), Int(prefixes[$0])) },
            ipv6: (0..<Int(m)).map { (IPAddress(bytes: Array(v6[(16 * $0)..<(16 * $0 + 16)]))!, Int(v6prefixes[$0])) })
    }
}

/// Why the data plane could not start or do something; the message says what to fix.
public enum DataPlaneError: Error, CustomStringConvertible, Sendable {
    case interface(String, String, errno: Int32)
    case ring(String, step: String, errno: Int32)
    case configuration(String)

    public var description: String {
        switch self {
        case let .interface(name, what, e):
            return "interface \(name): \(what): \(errorText(e))"
        case let .ring(name, step, e):
            var hint = ""
            if e == 1 || e == 13 { hint = " (AF_PACKET needs root or CAP_NET_RAW)" }
            return "interface \(name): opening the AF_PACKET ring failed at \(step): \(errorText(e))\(hint)"
        case let .configuration(why):
            return why
        }
    }
}

func errorText(_ e: Int32) -> String {
    switch e {
    case 1: "operation not permitted (EPERM)"
    case 2: "no such file or directory (ENOENT)"
    case 12: "out of memory (ENOMEM)"
    case 13: "permission denied (EACCES)"
    case 19: "no such device (ENODEV)"
    case 22: "invalid argument (EINVAL)"
    case 93: "protocol not supported (EPROTONOSUPPORT)"
    case 97: "address family not supported (EAFNOSUPPORT)"
    default: "errno \(e)"
    }
}
