#if canImport(Glibc)
import Glibc
#endif

// LVSBench SUITE: prints one `name value unit` line per figure (scripts/bench.sh runs it).
let args = CommandLine.arguments.dropFirst()
switch args.first {
case "engine":
    EngineBenchmark.run()
case "alloc-check":
    exit(EngineBenchmark.allocCheck() ? 0 : 1)
default:
    print("usage: LVSBench engine|alloc-check")
    exit(2)
}
