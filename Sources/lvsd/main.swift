// lvsd: the SwiftLVS director daemon. See docs/CONFIGURATION.md and `lvsd --help`.
#if canImport(Glibc)
import Glibc
#endif
import LVSDaemon

Daemon.blockSignals()
exit(Daemon.main(Array(CommandLine.arguments.dropFirst())))
