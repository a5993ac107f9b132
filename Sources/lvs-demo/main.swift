// lvs-demo: the README's main job.
//
//   swift run lvs-demo              network-namespace lab (root): client, director running lvsd
//                                   (VS/NAT, rr), three real servers; 3,000 requests; lvsadm table
//   swift run lvs-demo simulate [N] the same cluster simulated in-process through the engine
//
// The remaining sub-commands are the lab's parts (run inside its namespaces by scripts/demo.sh):
//   lvsd ARGS | lvsadm ARGS | serve NAME PORT | udp-echo NAME PORT | client ADDRESS PORT N
//   udp-client ADDRESS PORT N | udp-probe ADDRESS PORT | pattern N [sum]
#if canImport(Glibc)
import Glibc
#endif
import LVSDaemon

func demoScript() -> String {
    // The script sits in the repository this binary was built from.
    var path = #filePath
    for _ in 0..<3 { path = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)]) }
    return path + "/scripts/demo.sh"
}

var args = Array(CommandLine.arguments.dropFirst())
let role = args.isEmpty || Int(args[0]) != nil ? "lab" : args.removeFirst()
func port(_ s: String) -> UInt16 {
    guard let p = UInt16(s), p > 0 else {
        print("lvs-demo: bad port \(s)")
        exit(2)
    }
    return p
}

switch role {
case "lab":
    let requests = args.first ?? "3000"
    if geteuid() != 0 {
        print("""
            lvs-demo builds a network-namespace lab (a client, the director, three real servers joined by
            veth pairs and a bridge), so it needs root (ip netns, AF_PACKET). Run it as root:
                sudo \(CommandLine.arguments[0])      # or: sudo swift run lvs-demo
            Without root, the same cluster simulated in-process through the engine:
                swift run lvs-demo simulate
            """)
        exit(1)
    }
    let script = demoScript()
    guard access(script, R_OK) == 0 else {
        print("lvs-demo: \(script) not found (run lvs-demo from its source checkout)")
        exit(1)
    }
    let argv = ["bash", script, CommandLine.arguments[0], requests]
    var cargs = argv.map { strdup($0) } + [nil]
    execvp("bash", &cargs)
    Net.fail("exec bash")
case "simulate":
    let n = args.first.flatMap { Int($0) } ?? 3000
    guard n > 0 && n <= 1_000_000 else {
        print("usage: lvs-demo simulate [REQUESTS]   (1...1000000, default 3000)")
        exit(2)
    }
    exit(simulate(requests: n))
case "lvsd":
    Daemon.blockSignals()
    exit(Daemon.main(args))
case "lvsadm":
    let needsStdin = args.contains("-R") || args.contains("--restore")
    exit(AdminClient.run(arguments: args, stdin: needsStdin ? AdminClient.readStandardInput() : []))
case "serve" where args.count == 2:
    exit(serveHTTP(name: args[0], port: port(args[1])))
case "udp-echo" where args.count == 2:
    exit(serveUDP(name: args[0], port: port(args[1])))
case "udp-client" where args.count == 3:
    exit(runUDPClient(address: args[0], port: port(args[1]), count: Int(args[2]) ?? 1))
case "udp-probe" where args.count == 2:
    exit(udpProbe(address: args[0], port: port(args[1])))
case "pattern" where args.count >= 1:
    exit(writePattern(count: Int(args[0]) ?? 0, sumOnly: args.count > 1 && args[1] == "sum"))
case "client" where args.count == 3:
    exit(runClient(address: args[0], port: port(args[1]), count: Int(args[2]) ?? 1))
default:
    print("usage: lvs-demo [REQUESTS] | simulate [N] | lvsd ARGS | lvsadm ARGS | serve NAME PORT | udp-echo NAME PORT | client ADDRESS PORT N")
    exit(2)
}
