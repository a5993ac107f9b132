import LVSPacket

/// Where the XDP program counts what it did: the index of each 64-bit counter in its map.
public enum XDPDecapCounter: UInt32, CaseIterable, Sendable {
    /// IPIP, IPv6-in-IPv4, IPv4-in-IPv6 and IPv6-in-IPv6 packets decapsulated.
    case ipip = 0
    /// GUE packets decapsulated.
    case gue = 1
    case badOuter = 2
    case unsupportedGUE = 3
    case badInner = 4
    case sourceNotAllowed = 5

    /// The matching reason of the TUN-device path, so both modes print the same summary.
    public var reject: DecapsulationReject? {
        switch self {
        case .ipip, .gue: nil
        case .badOuter: .badOuter
        case .unsupportedGUE: .unsupportedGUE
        case .badInner: .badInner
        case .sourceNotAllowed: .sourceNotAllowed
        }
    }
}

/// The XDP program of `lvs-tunnel --xdp`: decapsulates VS/TUN packets in the driver's receive
/// path, before the kernel allocates anything for them, and passes the inner packet up the stack
/// as if the client had sent it to this interface. It does in-kernel what the TUN-device path does
/// with a raw-socket read and a TUN write per packet, so the server's core stays with its
/// application (the download benchmark's sender).
///
/// What it accepts, on an untagged Ethernet frame:
/// - outer IPv4 without options and not a fragment, protocol 4 (IPIP) or 41 (IPv6 in IPv4);
/// - outer IPv6 with next header 4 or 41 directly after the fixed header;
/// - with `guePort`, UDP to that port over IPv4 (no options) or IPv6, carrying a GUE version 0
///   data header without optional fields (Hlen 0) and protocol 4 or 41, as SwiftLVS and IPVS send.
/// The outer source must be one of `directors` when any are given. The inner packet's IP version
/// must match the announced protocol; the kernel then checks the inner header as for any packet.
/// Tunnel packets it refuses are dropped and counted; every other frame passes untouched. The
/// outer UDP checksum of GUE is not verified (the inner packet's own checksums are).
public enum XDPDecapProgram {
    /// bpf_map_lookup_elem and bpf_xdp_adjust_head (numbers of the kernel's helper ABI).
    static let helperMapLookup: Int32 = 1
    static let helperAdjustHead: Int32 = 44
    static let xdpDrop: Int32 = 1
    static let xdpPass: Int32 = 2

    /// The program, encoded for BPF_PROG_LOAD. `counterMap` is the fd of an array map with at least
    /// `XDPDecapCounter.allCases.count` entries.
    public static func build(ipip: Bool, guePort: UInt16?, directors: [IPAddress], counterMap: Int32) -> [UInt64] {
        typealias R = BPFAssembler.Register
        var a = BPFAssembler()
        let pass = a.label(), v4 = a.label(), v6 = a.label(), strip = a.label()
        let badOuter = a.label(), unsupportedGUE = a.label(), badInner = a.label(), notAllowed = a.label()
        let countPass = a.label(), countDrop = a.label()
        let v4Directors = directors.filter(\.isIPv4)
        let v6Directors = directors.filter { !$0.isIPv4 }

        // The program loads network-order fields as little-endian words: an address's words are
        // its in-memory representation (`IPAddress.v4Raw`, and `hi`/`lo` split in halves).
        func words6(_ a: IPAddress) -> [UInt32] {
            [UInt32(truncatingIfNeeded: a.hi), UInt32(truncatingIfNeeded: a.hi >> 32),
             UInt32(truncatingIfNeeded: a.lo), UInt32(truncatingIfNeeded: a.lo >> 32)]
        }
        let ethIPv4: Int32 = 0x0008, ethIPv6: Int32 = 0xdd86, notFragmentMask: Int32 = 0xff3f

        // The source checks return false when no source of that family is allowed: the path then
        // ends in the refusal and the code after it is left out.
        func checkSource4() -> Bool {
            guard !directors.isEmpty else { return true }
            guard !v4Directors.isEmpty else {
                a.jump(notAllowed)
                return false
            }
            let ok = a.label()
            a.load(.w, .r0, .r2, 26)
            for d in v4Directors { a.jump32(.eq, .r0, d.v4Raw, ok) }
            a.jump(notAllowed)
            a.bind(ok)
            return true
        }
        func checkSource6() -> Bool {
            guard !directors.isEmpty else { return true }
            guard !v6Directors.isEmpty else {
                a.jump(notAllowed)
                return false
            }
            let ok = a.label()
            for d in v6Directors {
                let next = a.label()
                for (k, w) in words6(d).enumerated() {
                    a.load(.w, .r0, .r2, Int16(22 + 4 * k))
                    a.jump32(.ne, .r0, w, next)
                }
                a.jump(ok)
                a.bind(next)
            }
            a.jump(notAllowed)
            a.bind(ok)
            return true
        }
        func checkNotFragment() {
            a.load(.h, .r0, .r2, 20)
            a.alu(.and, .r0, notFragmentMask)
            a.jump(.ne, .r0, 0, badOuter)
        }
        /// Packet long enough for `n` bytes, else `target`.
        func need(_ n: Int32, _ target: BPFAssembler.Label) {
            a.mov(.r4, .r2)
            a.alu(.add, .r4, n)
            a.jump(.gt, .r4, .r3, target)
        }
        /// r5 = the GUE protocol byte at `off`; 4 and 41 go on, anything else is refused.
        func gueHeader(_ off: Int16) {
            let ok = a.label()
            a.load(.b, .r0, .r2, off)
            a.jump(.ne, .r0, 0, unsupportedGUE)  // version 0, not control, no optional fields
            a.load(.b, .r5, .r2, off + 1)
            a.jump(.eq, .r5, Int32(IPProto.ipip), ok)
            a.jump(.eq, .r5, Int32(IPProto.ipv6), ok)
            a.jump(unsupportedGUE)
            a.bind(ok)
        }
        let portLE = Int32(guePort.map { $0.byteSwapped } ?? 0)

        // r6 = ctx, r2 = data, r3 = data_end.
        a.mov(.r6, .r1)
        a.load(.w, .r2, .r6, 0)
        a.load(.w, .r3, .r6, 4)
        need(14 + 20, pass)
        a.load(.h, .r5, .r2, 12)
        a.jump(.eq, .r5, ethIPv4, v4)
        a.jump(.eq, .r5, ethIPv6, v6)
        a.jump(pass)

        // Outer IPv4.
        a.bind(v4)
        a.load(.b, .r5, .r2, 23)
        let v4raw = a.label(), v4udp = a.label()
        if ipip {
            a.jump(.eq, .r5, Int32(IPProto.ipip), v4raw)
            a.jump(.eq, .r5, Int32(IPProto.ipv6), v4raw)
        }
        if guePort != nil { a.jump(.eq, .r5, Int32(IPProto.udp), v4udp) }
        a.jump(pass)
        if ipip {
            a.bind(v4raw)
            a.load(.b, .r0, .r2, 14)
            a.jump(.ne, .r0, 0x45, badOuter)
            checkNotFragment()
            if checkSource4() {
                a.mov(.r7, 20)
                a.mov(.r9, Int32(XDPDecapCounter.ipip.rawValue))
                a.jump(strip)
            }
        }
        if guePort != nil {
            a.bind(v4udp)
            need(14 + 20 + 8 + 4, pass)
            a.load(.b, .r0, .r2, 14)
            a.jump(.ne, .r0, 0x45, pass)
            a.load(.h, .r0, .r2, 36)
            a.jump(.ne, .r0, portLE, pass)
            checkNotFragment()
            if checkSource4() {
                gueHeader(42)
                a.mov(.r7, 20 + 8 + 4)
                a.mov(.r9, Int32(XDPDecapCounter.gue.rawValue))
                a.jump(strip)
            }
        }

        // Outer IPv6.
        a.bind(v6)
        need(14 + 40, pass)
        a.load(.b, .r5, .r2, 20)
        let v6raw = a.label(), v6udp = a.label()
        if ipip {
            a.jump(.eq, .r5, Int32(IPProto.ipip), v6raw)
            a.jump(.eq, .r5, Int32(IPProto.ipv6), v6raw)
        }
        if guePort != nil { a.jump(.eq, .r5, Int32(IPProto.udp), v6udp) }
        a.jump(pass)
        if ipip {
            a.bind(v6raw)
            if checkSource6() {
                a.mov(.r7, 40)
                a.mov(.r9, Int32(XDPDecapCounter.ipip.rawValue))
                a.jump(strip)
            }
        }
        if guePort != nil {
            a.bind(v6udp)
            need(14 + 40 + 8 + 4, pass)
            a.load(.h, .r0, .r2, 56)
            a.jump(.ne, .r0, portLE, pass)
            if checkSource6() {
                gueHeader(62)
                a.mov(.r7, 40 + 8 + 4)
                a.mov(.r9, Int32(XDPDecapCounter.gue.rawValue))
                a.jump(strip)
            }
        }

        // Strip r7 bytes after the Ethernet header; r5 = inner protocol, r9 = counter.
        a.bind(strip)
        a.store(.w, .r10, -12, .r5)
        a.load(.dw, .r8, .r2, 0)  // destination MAC and the first 2 bytes of the source MAC
        a.load(.w, .r0, .r2, 8)
        a.store(.w, .r10, -8, .r0)
        a.mov(.r1, .r6)
        a.mov(.r2, .r7)
        a.call(helperAdjustHead)
        a.jump(.ne, .r0, 0, badOuter)
        a.load(.w, .r2, .r6, 0)
        a.load(.w, .r3, .r6, 4)
        need(14 + 1, badInner)
        a.store(.dw, .r2, 0, .r8)
        a.load(.w, .r0, .r10, -8)
        a.store(.w, .r2, 8, .r0)
        a.load(.b, .r0, .r2, 14)
        a.alu(.rsh, .r0, 4)
        a.load(.w, .r5, .r10, -12)
        let inner4 = a.label()
        a.jump(.eq, .r5, Int32(IPProto.ipip), inner4)
        a.jump(.ne, .r0, 6, badInner)
        a.store(.h, .r2, 12, imm: ethIPv6)
        a.jump(countPass)
        a.bind(inner4)
        a.jump(.ne, .r0, 4, badInner)
        a.store(.h, .r2, 12, imm: ethIPv4)
        a.jump(countPass)

        for (label, counter) in [(badOuter, XDPDecapCounter.badOuter), (unsupportedGUE, .unsupportedGUE),
                                 (badInner, .badInner), (notAllowed, .sourceNotAllowed)] where a.isReferenced(label) {
            a.bind(label)
            a.mov(.r9, Int32(counter.rawValue))
            a.jump(countDrop)
        }

        func countAndReturn(_ action: Int32) {
            let done = a.label()
            a.store(.w, .r10, -4, .r9)
            a.loadMap(.r1, fd: counterMap)
            a.mov(.r2, .r10)
            a.alu(.add, .r2, -4)
            a.call(helperMapLookup)
            a.jump(.eq, .r0, 0, done)
            a.mov(.r1, 1)
            a.atomicAdd64(.r0, 0, .r1)
            a.bind(done)
            a.mov(.r0, action)
            a.exit()
        }
        a.bind(countPass)
        countAndReturn(xdpPass)
        a.bind(countDrop)
        countAndReturn(xdpDrop)
        a.bind(pass)
        a.mov(.r0, xdpPass)
        a.exit()
        // Every label above is bound and the program is a few hundred slots at most.
        return try! a.assembled()
    }
}
