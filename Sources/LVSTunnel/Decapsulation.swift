import LVSPacket

/// How a tunnelled packet reached the real server: which socket received it.
public enum TunnelCarrier: Sendable, Equatable {
    /// A raw IPv4 socket: the buffer starts with the outer IPv4 header. `protocol` is 4 (IPv4
    /// inside) or 41 (IPv6 inside).
    case rawIPv4(protocol: UInt8)
    /// A raw IPv6 socket: the kernel strips the outer IPv6 header, the buffer is the inner packet.
    case rawIPv6(protocol: UInt8)
    /// The GUE UDP socket: the buffer is the UDP payload (GUE header + inner packet).
    case gue
}

/// Why a received packet was not injected. Each has a counter.
public enum DecapsulationReject: String, Error, Sendable, CaseIterable {
    /// The outer header is truncated or inconsistent.
    case badOuter = "bad_outer"
    /// A GUE control message, an unknown GUE version, or a GUE protocol other than 4 / 41.
    case unsupportedGUE = "unsupported_gue"
    /// The inner packet is not a well-formed IPv4/IPv6 packet of the announced family.
    case badInner = "bad_inner"
    /// The outer source is not one of the allowed directors.
    case sourceNotAllowed = "source_not_allowed"
}

/// Validating and stripping the outer headers of VS/TUN packets (IPIP, IPv6-in-IPv6, GUE), the
/// job of the kernel's ipip / ip6_tunnel / fou modules, done in userspace by `lvs-tunnel`.
public enum Decapsulation {
    /// The inner packet's range in `buffer[0..<count]`, or why it is rejected. The inner packet
    /// must be exactly what the encapsulation announces (family, length, IPv4 header checksum),
    /// so the server's kernel never sees a packet the director could not have sent.
    public static func inner(_ buffer: UnsafeRawPointer, count: Int, carrier: TunnelCarrier)
        -> Result<Range<Int>, DecapsulationReject>
    {
        let b = UnsafeMutableRawPointer(mutating: buffer)
        var start = 0
        var innerProto: UInt8
        switch carrier {
        case .rawIPv4(let proto):
            guard count >= HeaderSize.ipv4, b.u8(0) >> 4 == 4 else { return .failure(.badOuter) }
            let ihl = Int(b.u8(0) & 0x0f) * 4
            let total = Int(b.be16(2))
            guard ihl >= HeaderSize.ipv4, total == count, ihl <= count, b.u8(9) == proto else { return .failure(.badOuter) }
            // A fragment of an outer packet cannot be decapsulated on its own.
            guard b.be16(6) & 0x3fff == 0 else { return .failure(.badOuter) }
            start = ihl
            innerProto = proto
        case .rawIPv6(let proto):
            innerProto = proto
        case .gue:
            guard count >= TunnelHeader.gueSize else { return .failure(.badOuter) }
            let first = b.u8(0)
            // Version 0 (top two bits), C = 0 (a data message), Hlen optional 32-bit words.
            guard first >> 6 == 0, first & 0x20 == 0 else { return .failure(.unsupportedGUE) }
            let proto = b.u8(1)
            guard proto == IPProto.ipip || proto == IPProto.ipv6 else { return .failure(.unsupportedGUE) }
            start = TunnelHeader.gueSize + Int(first & 0x1f) * 4
            guard start <= count else { return .failure(.badOuter) }
            innerProto = proto
        }
        let n = count - start
        let inner = b + start
        if innerProto == IPProto.ipip {
            guard n >= HeaderSize.ipv4, inner.u8(0) >> 4 == 4 else { return .failure(.badInner) }
            let ihl = Int(inner.u8(0) & 0x0f) * 4
            guard ihl >= HeaderSize.ipv4, ihl <= n, Int(inner.be16(2)) == n,
                Checksum.verifies(UnsafeRawPointer(inner), count: ihl)
            else { return .failure(.badInner) }
        } else {
            guard n >= HeaderSize.ipv6, inner.u8(0) >> 4 == 6, Int(inner.be16(4)) + HeaderSize.ipv6 == n else {
                return .failure(.badInner)
            }
        }
        return .success(start..<count)
    }
}

/// Counters of what `lvs-tunnel` did with the packets it received.
public struct DecapsulationCounters: Sendable, Equatable {
    public var ipip: UInt64 = 0
    public var gue: UInt64 = 0
    public var rejected: [DecapsulationReject: UInt64] = [:]
    /// Writes to the TUN device that failed.
    public var writeErrors: UInt64 = 0

    public init() {}

    public var decapsulated: UInt64 { ipip + gue }
    public var rejectedTotal: UInt64 { rejected.values.reduce(0, +) }

    public mutating func count(_ carrier: TunnelCarrier, _ result: Result<Range<Int>, DecapsulationReject>) {
        switch result {
        case .success: if carrier == .gue { gue += 1 } else { ipip += 1 }
        case .failure(let why): rejected[why, default: 0] += 1
        }
    }

    /// One line: `decapsulated N (ipip N, gue N), rejected N (reason N, ...), write errors N`.
    public var summary: String {
        let reasons = DecapsulationReject.allCases.filter { (rejected[$0] ?? 0) > 0 }
            .map { "\($0.rawValue) \(rejected[$0]!)" }
        return "decapsulated \(decapsulated) (ipip \(ipip), gue \(gue)), rejected \(rejectedTotal)"
            + (reasons.isEmpty ? "" : " (" + reasons.joined(separator: ", ") + ")") + ", write errors \(writeErrors)"
    }
}
