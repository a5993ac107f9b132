#if canImport(Glibc)
import Glibc
#endif
import LVSEngine

// LVSBench SUITE: prints one `name value unit` line per figure (scripts/bench.sh runs it).
let args = CommandLine.arguments.dropFirst()
switch args.first {
case "engine":
    EngineBenchmark.run()
    TunnelBenchmark.run()
case "schedulers":
    // Optional scheduler names after the suite restrict the run (all 14 by default).
    let names = Array(args.dropFirst())
    SchedulerBenchmark.run(names.isEmpty ? SchedulerRegistry.names : names)
case "maxcc":
    MaxCCBenchmark.run()
case "alloc-check":
    let nat = EngineBenchmark.allocCheck()
    let tunnel = TunnelBenchmark.allocCheck()
    exit(nat && tunnel ? 0 : 1)
default:
    print("usage: LVSBench engine|schedulers [NAME...]|maxcc|alloc-check")
    exit(2)
}
