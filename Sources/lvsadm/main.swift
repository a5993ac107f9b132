// lvsadm: the administration CLI with ipvsadm's syntax and output.
//
// The control socket it talks to arrives with lvsd's data plane (issue #3); until then the CLI
// only identifies itself and says so, instead of pretending to change a table that is not there.
#if canImport(Glibc)
import Glibc
#endif
import LVSControl

let args = Array(CommandLine.arguments.dropFirst())
if args.first == "--version" || args.first == "-v" {
    print("lvsadm (SwiftLVS) listing format of ipvsadm v1.31, IPVS \(IPVSListing.version)")
} else {
    print("lvsadm: no lvsd control socket: the daemon and its control protocol are not built yet (issue #3).")
    print("For a simulated cluster through the real engine, run: swift run lvs-demo")
    exit(2)
}
