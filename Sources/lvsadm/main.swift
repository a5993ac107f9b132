// lvsadm: ipvsadm's syntax and output for SwiftLVS. Parsing and formatting happen in lvsd (the
// same LVSControl code), so this client only carries the argument vector over the control socket.
#if canImport(Glibc)
import Glibc
#endif
import LVSDaemon

let args = Array(CommandLine.arguments.dropFirst())
let needsStdin = args.contains("-R") || args.contains("--restore")
exit(AdminClient.run(arguments: args, stdin: needsStdin ? AdminClient.readStandardInput() : []))
