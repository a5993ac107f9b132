// lvsd: the director daemon (data plane on AF_PACKET, control socket, metrics).
//
// Its data plane arrives with issue #3. CLinuxNet already exposes the packet-socket definitions it
// will use; until then lvsd refuses to start rather than run without forwarding anything.
#if canImport(Glibc)
import Glibc
#endif
import CLinuxNet
import LVSEngine

if CommandLine.arguments.dropFirst().first == "--version" {
    print("lvsd (SwiftLVS) engine with TPACKET_V2 header size \(clinuxnet_tpacket2_hdrlen())")
} else {
    print("lvsd: the AF_PACKET data plane is not built yet (issue #3); nothing to run.")
    print("For a simulated cluster through the real engine, run: swift run lvs-demo")
    exit(2)
}
