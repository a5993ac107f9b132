// lvs-tunnel: the VS/TUN real-server agent (see `TunnelAgentOptions.usage`).
#if canImport(Glibc)
import Glibc
#endif
import CLinuxNet
import LVSPacket
import LVSTunnel

func say(_ text: String) {
    var t = text + "\n"
    t.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
}

func fail(_ text: String) -> Never {
    say("lvs-tunnel: " + text)
    exit(1)
}

func reason(_ e: Int32) -> String { String(cString: strerror(e)) }

let options: TunnelAgentOptions
do {
    options = try TunnelAgentOptions.parse(Array(CommandLine.arguments.dropFirst()))
} catch {
    fail(error.description)
}
if options.help {
    print(TunnelAgentOptions.usage)
    exit(0)
}

if !options.xdpInterfaces.isEmpty {
    runXDP(options)
}

/// `--xdp`: load the program, attach it everywhere, then only wait for SIGINT/SIGTERM. Attaching
/// is all or nothing: on any failure the links made so far close with the process.
func runXDP(_ options: TunnelAgentOptions) -> Never {
    let decap: XDPDecap
    do {
        decap = try XDPDecap(ipip: options.ipip, guePort: options.guePort, directors: options.directors)
    } catch {
        fail(error.description)
    }
    var links: [Int32] = []
    var attached: [String] = []
    for name in options.xdpInterfaces {
        do {
            let (link, mode) = try decap.attach(interface: name, mode: options.xdpMode)
            links.append(link)
            attached.append("\(name) (\(mode.rawValue))")
        } catch {
            fail(error.description)
        }
    }
    clinuxnet_stop_on_signals()
    let kinds = [options.ipip ? "ipip/6in6" : nil, options.guePort.map { "gue on udp/\($0)" }].compactMap { $0 }
    say("lvs-tunnel: receiving \(kinds.joined(separator: " and ")) with XDP on \(attached.joined(separator: ", "))"
        + (options.directors.isEmpty ? "" : ", from \(options.directors.map(\.description).joined(separator: ", ")) only"))
    while clinuxnet_stop_requested() == 0 {
        _ = clinuxnet_poll_in([], 0, 200)
    }
    say("lvs-tunnel: \(decap.counters().summary)")
    for l in links { close(l) }
    exit(0)
}

// The TUN device first: it needs CAP_NET_ADMIN, the most common reason to fail.
var nameBytes = [CChar](repeating: 0, count: 16)
var step: Int32 = 0
let tun = clinuxnet_tun_open(options.device, &nameBytes, &step)
if tun < 0 {
    let e = -tun
    let what = ["opening /dev/net/tun", "creating the TUN device (TUNSETIFF on /dev/net/tun)", "bringing the TUN device up"][Int(step)]
    if e == EPERM || e == EACCES {
        fail("\(what) needs CAP_NET_ADMIN (run as root): \(reason(e))")
    }
    fail("\(what): \(reason(e))")
}
let device = String(cString: nameBytes)

// Packets from the TUN device come from clients whose route is elsewhere: no reverse-path filter
// on this device (the effective value is max(all, device)).
if let f = fopen("/proc/sys/net/ipv4/conf/\(device)/rp_filter", "w") {
    fputs("0\n", f)
    fclose(f)
}

struct Receiver {
    var fd: Int32
    var carrier: TunnelCarrier
}
var receivers: [Receiver] = []
@MainActor func open(_ family: Int32, _ proto: Int32, port: Int32, _ carrier: TunnelCarrier, _ what: String) {
    let fd = clinuxnet_tunnel_socket(family, proto, port)
    if fd < 0 {
        let e = -fd
        if e == EPERM || e == EACCES { fail("opening \(what) needs CAP_NET_RAW (run as root): \(reason(e))") }
        if e == EAFNOSUPPORT && family == AF_INET6 {
            say("lvs-tunnel: IPv6 is not available, \(what) skipped")
            return
        }
        fail("opening \(what): \(reason(e))")
    }
    receivers.append(Receiver(fd: fd, carrier: carrier))
}
if options.ipip {
    open(AF_INET, Int32(IPProto.ipip), port: 0, .rawIPv4(protocol: IPProto.ipip), "a raw IPv4 socket for IPIP (protocol 4)")
    open(AF_INET, Int32(IPProto.ipv6), port: 0, .rawIPv4(protocol: IPProto.ipv6), "a raw IPv4 socket for IPv6-in-IPv4 (protocol 41)")
    open(AF_INET6, Int32(IPProto.ipip), port: 0, .rawIPv6(protocol: IPProto.ipip), "a raw IPv6 socket for IPv4-in-IPv6 (next header 4)")
    open(AF_INET6, Int32(IPProto.ipv6), port: 0, .rawIPv6(protocol: IPProto.ipv6), "a raw IPv6 socket for IPv6-in-IPv6 (next header 41)")
}
if let port = options.guePort {
    open(AF_INET6, Int32(IPProto.udp), port: Int32(port), .gue, "the GUE socket (UDP port \(port))")
}

clinuxnet_stop_on_signals()
let kinds = [options.ipip ? "ipip/6in6 (raw sockets)" : nil, options.guePort.map { "gue on udp/\($0)" }].compactMap { $0 }
say("lvs-tunnel: receiving \(kinds.joined(separator: " and ")), injecting into \(device)"
    + (options.directors.isEmpty ? "" : ", from \(options.directors.map(\.description).joined(separator: ", ")) only"))

let capacity = 65536
let buffer = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
var source = [UInt8](repeating: 0, count: 16)
var counters = DecapsulationCounters()
let fds = receivers.map(\.fd)
let allowed = Set(options.directors)

while clinuxnet_stop_requested() == 0 {
    let ready = clinuxnet_poll_in(fds, Int32(fds.count), 200)
    if ready <= 0 { continue }
    for (i, r) in receivers.enumerated() where ready & (1 << Int64(i)) != 0 {
        // Drain what is queued, a bounded number at a time so no socket starves the others.
        for _ in 0..<256 {
            let n = clinuxnet_recv_from(r.fd, buffer, UInt(capacity), &source)
            if n <= 0 { break }
            var result = Decapsulation.inner(UnsafeRawPointer(buffer), count: n, carrier: r.carrier)
            if !allowed.isEmpty, case .success = result {
                let from = source.withUnsafeBytes { IPAddress(hi: $0.loadUnaligned(as: UInt64.self), lo: $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self)) }
                if !allowed.contains(from) { result = .failure(.sourceNotAllowed) }
            }
            counters.count(r.carrier, result)
            if case .success(let range) = result {
                if write(tun, buffer + range.lowerBound, range.count) < 0 { counters.writeErrors += 1 }
            }
        }
    }
}
say("lvs-tunnel: \(counters.summary)")
exit(0)
