/// The PROXY protocol version 2 header (haproxy's proxy-protocol.txt, section 2.2) that FULLNAT
/// puts before a connection's first payload byte, so the real server learns the client's address:
/// the 12-byte signature, version 2 + PROXY command (0x21), the family and transport
/// (0x11 TCP over IPv4, 0x21 TCP over IPv6), the address block length, then source address,
/// destination address, source port and destination port in network order.
public enum ProxyProtocolV2 {
    /// Header bytes for a TCP connection: 16 + 12 (IPv4) or 16 + 36 (IPv6).
    @inlinable @inline(__always)
    public static func length(ipv4: Bool) -> Int { ipv4 ? 28 : 52 }

    /// Writes the header at `p` (which must have `length(ipv4:)` bytes): the client's
    /// `source:sport` as seen by the director and the `destination:dport` it connected to.
    @inlinable
    public static func write(_ p: UnsafeMutableRawPointer, source: IPAddress, sport: UInt16,
                             destination: IPAddress, dport: UInt16) {
        p.setBE32(0x0D0A_0D0A, 0)  // \r\n\r\n
        p.setBE32(0x000D_0A51, 4)  // \0\r\nQ
        p.setBE32(0x5549_540A, 8)  // UIT\n
        p.setU8(0x21, 12)  // version 2, command PROXY
        if source.isIPv4 {
            p.setU8(0x11, 13)  // AF_INET, STREAM
            p.setBE16(12, 14)
            p.setRaw32(source.v4Raw, 16)
            p.setRaw32(destination.v4Raw, 20)
            p.setBE16(sport, 24)
            p.setBE16(dport, 26)
        } else {
            p.setU8(0x21, 13)  // AF_INET6, STREAM
            p.setBE16(36, 14)
            p.setAddress16(source, 16)
            p.setAddress16(destination, 32)
            p.setBE16(sport, 48)
            p.setBE16(dport, 50)
        }
    }
}

/// The TOA TCP option ("TCP Option Address", DPVS `kmod/toa/toa.h`): kind 254, then the client's
/// port and address; length 8 for IPv4 (`|254|8|port|ip4|`) and 20 for IPv6 (`|254|20|port|ip6|`,
/// the DPVS/TOA-module IPv6 variant). A TOA kernel module on the real server makes getpeername()
/// return that address.
public enum TOAOption {
    public static let kind: UInt8 = 254

    @inlinable @inline(__always)
    public static func length(ipv4: Bool) -> Int { ipv4 ? 8 : 20 }

    /// Writes the option at `p` (`length(ipv4:)` bytes).
    @inlinable
    public static func write(_ p: UnsafeMutableRawPointer, address: IPAddress, port: UInt16) {
        p.setU8(kind, 0)
        p.setU8(UInt8(length(ipv4: address.isIPv4)), 1)
        p.setBE16(port, 2)
        if address.isIPv4 { p.setRaw32(address.v4Raw, 4) } else { p.setAddress16(address, 4) }
    }
}
