#if canImport(Glibc)
import Glibc
#endif
import CLinuxNet
import LVSPacket

/// The loaded XDP decapsulation program and its counters (see `XDPDecapProgram`). Attach it to
/// the interfaces the director's tunnel packets arrive on; it stays attached while the returned
/// link fds are open, so when the agent exits, for any reason, decapsulation stops with it.
public struct XDPDecap: ~Copyable {
    public let programFD: Int32
    public let counterMapFD: Int32

    /// Creates the counter map and loads the program. Needs CAP_BPF and CAP_NET_ADMIN (root).
    public init(ipip: Bool, guePort: UInt16?, directors: [IPAddress]) throws(XDPDecapError) {
        let map = clinuxnet_bpf_counter_map(UInt32(XDPDecapCounter.allCases.count))
        guard map >= 0 else { throw .init(step: "creating the counter map (bpf)", errno: -map) }
        let insns = XDPDecapProgram.build(ipip: ipip, guePort: guePort, directors: directors, counterMap: map)
        var log = [CChar](repeating: 0, count: 65536)
        let prog = insns.withUnsafeBufferPointer { clinuxnet_bpf_xdp_load($0.baseAddress, Int32($0.count), &log, UInt32(log.count)) }
        guard prog >= 0 else {
            close(map)
            let verifier = log.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            throw .init(step: "loading the XDP program (bpf)", errno: -prog, detail: verifier)
        }
        programFD = prog
        counterMapFD = map
    }

    deinit {
        close(programFD)
        close(counterMapFD)
    }

    public enum Mode: String, Sendable { case native, generic }

    /// Attaches to `interface`: in `mode`, or with nil the driver (native) mode first and the
    /// generic mode when the driver has no XDP support. Returns the link fd and the mode used.
    public func attach(interface: String, mode: Mode?) throws(XDPDecapError) -> (link: Int32, mode: Mode) {
        var ifindex: Int32 = 0
        var mac = [UInt8](repeating: 0, count: 6)
        var mtu: Int32 = 0
        let info = clinuxnet_if_info(interface, &ifindex, &mac, &mtu)
        guard info >= 0, ifindex > 0 else {
            throw .init(step: "interface '\(interface)'", errno: info < 0 ? -info : ENODEV)
        }
        var firstError: Int32 = 0
        for m in mode.map({ [$0] }) ?? [.native, .generic] {
            let link = clinuxnet_bpf_xdp_attach(programFD, ifindex, m == .generic ? 1 : 0)
            if link >= 0 { return (link, m) }
            if firstError == 0 { firstError = -link }
            if -link == EBUSY || -link == EEXIST {
                throw .init(step: "attaching XDP to \(interface)", errno: -link,
                            detail: "another XDP program is attached to \(interface) (ip link show \(interface))")
            }
        }
        throw .init(step: "attaching XDP to \(interface)", errno: firstError)
    }

    /// The program's counters so far, in the TUN path's terms.
    public func counters() -> DecapsulationCounters {
        var c = DecapsulationCounters()
        for counter in XDPDecapCounter.allCases {
            var v: UInt64 = 0
            guard clinuxnet_bpf_counter_read(counterMapFD, counter.rawValue, &v) == 0 else { continue }
            switch counter {
            case .ipip: c.ipip = v
            case .gue: c.gue = v
            default: if v > 0, let why = counter.reject { c.rejected[why] = v }
            }
        }
        return c
    }

    /// Runs the program once on `frame` in the kernel (BPF_PROG_TEST_RUN, no interface involved):
    /// the XDP action (1 drop, 2 pass) and the frame as the program left it.
    public func run(_ frame: [UInt8]) throws(XDPDecapError) -> (action: UInt32, frame: [UInt8]) {
        var out = [UInt8](repeating: 0, count: frame.count + 256)
        var size = UInt32(out.count)
        var action: UInt32 = 0
        let r = frame.withUnsafeBytes { f in
            out.withUnsafeMutableBytes { clinuxnet_bpf_xdp_test_run(programFD, f.baseAddress, UInt32(f.count), $0.baseAddress, &size, &action) }
        }
        guard r == 0 else { throw .init(step: "BPF_PROG_TEST_RUN", errno: -r) }
        return (action, Array(out.prefix(Int(size))))
    }
}

public struct XDPDecapError: Error, Sendable, CustomStringConvertible {
    public var step: String
    public var errno: Int32
    public var detail: String = ""

    public var description: String {
        let why = String(cString: strerror(errno))
        if errno == EPERM || errno == EACCES, detail.isEmpty {
            return "\(step) needs CAP_BPF and CAP_NET_ADMIN (run as root): \(why)"
        }
        let extra = detail.isEmpty ? "" : "\n" + detail.split(separator: "\n").suffix(12).joined(separator: "\n")
        return "\(step): \(why)" + extra
    }
}
