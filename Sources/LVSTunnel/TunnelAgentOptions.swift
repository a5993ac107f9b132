import LVSPacket

/// `lvs-tunnel`'s command line.
public struct TunnelAgentOptions: Sendable, Equatable {
    /// Receive IPIP / IPv6-in-IPv6 through raw sockets (protocols 4 and 41, both families).
    public var ipip = true
    /// Receive GUE on this UDP port (IPv4 and IPv6); nil = no GUE.
    public var guePort: UInt16?
    /// TUN device name ("" = the kernel picks lvstunN).
    public var device = ""
    /// Outer source addresses accepted; empty = any.
    public var directors: [IPAddress] = []
    /// Decapsulate with an XDP program on these interfaces instead of raw sockets + TUN device.
    public var xdpInterfaces: [String] = []
    /// XDP attach mode; nil = native where the driver supports it, else generic.
    public var xdpMode: XDPDecap.Mode?
    public var help = false

    public init() {}

    public static let usage = """
        usage: lvs-tunnel [--gue-port PORT] [--no-ipip] [--director ADDR]... [--device NAME]
               lvs-tunnel --xdp IFACE... [--xdp-mode native|generic] [--gue-port PORT] [--no-ipip] [--director ADDR]...

        The VS/TUN real-server agent of SwiftLVS: receives the packets a SwiftLVS (or IPVS) director
        tunnels to this server (IPIP / IPv6-in-IPv6 through raw sockets, GUE on a UDP port), checks and
        strips the outer headers, and writes the client's packet to a TUN device, so this server's
        kernel receives it as if it came from the client and answers the client directly from the VIP.
        It replaces the kernel's ipip/ip6_tunnel/fou modules where they are missing.

        With --xdp it instead attaches an XDP program (assembled by lvs-tunnel, no BPF toolchain
        needed) to each named interface: tunnel packets are decapsulated in the driver's receive
        path and the inner packet goes up this server's stack directly, with no per-packet system
        call; the process then only holds the program and prints its counters on exit (when it
        exits, the program is detached). This is the fast path; use it where XDP is available.

          --gue-port PORT   also receive GUE (ipvsadm --tun-type gue --tun-port PORT) on UDP PORT
          --no-ipip         do not open the raw IPIP / IPv6-in-IPv6 sockets (GUE only)
          --director ADDR   accept tunnelled packets only from this outer source (repeatable;
                            default: any source)
          --device NAME     TUN device name (default: lvstunN, chosen by the kernel)
          --xdp IFACE       decapsulate with XDP on IFACE (repeatable) instead of a TUN device;
                            accepts untagged frames, outer IPv4 without options, IPv6 without
                            extension headers, GUE without optional fields
          --xdp-mode MODE   native (the driver's XDP) or generic (any device); default: native,
                            falling back to generic where the driver has no XDP
          -h, --help        this text

        Needs CAP_NET_ADMIN (the TUN device) and CAP_NET_RAW (raw sockets), or with --xdp CAP_BPF
        and CAP_NET_ADMIN: run it as root.
        On SIGINT/SIGTERM it prints its counters and exits 0.

        Server setup (the VIP must be local, must not answer ARP/ND, and packets from the TUN device
        must pass reverse-path filtering):
          ip addr add VIP/32 dev lo                  (IPv6: ip addr add VIP6/128 dev lo)
          sysctl -w net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2
          sysctl -w net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
          lvs-tunnel --gue-port 6080 &               (or: lvs-tunnel --xdp eth0 --gue-port 6080 &)
        Replies leave through the server's default route (not through the director).
        """

    /// Parses the arguments after the program name.
    public static func parse(_ args: [String]) throws(TunnelAgentOptionsError) -> TunnelAgentOptions {
        var o = TunnelAgentOptions()
        var i = 0
        func value(_ name: String) throws(TunnelAgentOptionsError) -> String {
            i += 1
            guard i < args.count else { throw .init("option \(name) needs a value") }
            return args[i]
        }
        while i < args.count {
            let a = args[i]
            switch a {
            case "-h", "--help": o.help = true
            case "--no-ipip": o.ipip = false
            case "--gue-port":
                let v = try value(a)
                guard let p = UInt16(v), p > 0 else { throw .init("--gue-port: '\(v)' is not a port (1-65535)") }
                o.guePort = p
            case "--director":
                let v = try value(a)
                guard let addr = IPAddress(v) else { throw .init("--director: '\(v)' is not an IPv4 or IPv6 address") }
                o.directors.append(addr)
            case "--device":
                let v = try value(a)
                guard !v.isEmpty, v.utf8.count < 16 else { throw .init("--device: a name of 1 to 15 characters") }
                o.device = v
            case "--xdp":
                let v = try value(a)
                guard !v.isEmpty, v.utf8.count < 16 else { throw .init("--xdp: an interface name of 1 to 15 characters") }
                guard !o.xdpInterfaces.contains(v) else { throw .init("--xdp: \(v) is given twice") }
                o.xdpInterfaces.append(v)
            case "--xdp-mode":
                let v = try value(a)
                guard let m = XDPDecap.Mode(rawValue: v) else { throw .init("--xdp-mode: '\(v)' is not native or generic") }
                o.xdpMode = m
            default: throw .init("unknown argument '\(a)' (see --help)")
            }
            i += 1
        }
        if !o.help && !o.ipip && o.guePort == nil {
            throw .init("nothing to receive: --no-ipip without --gue-port")
        }
        if o.xdpMode != nil && o.xdpInterfaces.isEmpty { throw .init("--xdp-mode needs --xdp IFACE") }
        if !o.xdpInterfaces.isEmpty && !o.device.isEmpty { throw .init("--device names the TUN device, which --xdp does not use") }
        return o
    }
}

public struct TunnelAgentOptionsError: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
