#!/usr/bin/env bash
# scripts/bench.sh SUITE: runs one benchmark suite and prints one `name value unit` line per figure.
# Every suite also prints ratios against a baseline measured in the same run (machines are noisy).
#   engine   single-thread engine: established NAT Mpps (1k/1M flows), new connections/s,
#            bytes per connection, allocations per packet; baseline = the parser alone.
#   schedulers  decisions per second of each of the 14 schedulers with 8 and 256 real servers
#            (Mdecisions/s), called as the Director calls them; baseline = the same loop around a
#            trivial decision. Scheduler names after the suite restrict the run.
#   maxcc    Double-NAT maximum concurrent connections through Director.process: N=8 real servers,
#            vdports 1024-65535 (the paper's 516,088), filled until refused, then one more attempt;
#            then N=6, N=16, a 32k-port range and the whole port space; fill rate and table size;
#            and the cost of a refused SYN when the pool is full for one server only (bounded search).
#   lab      (root) ../shared/lab's network-namespace benchmark, one run each of: direct path,
#            nftables DNAT, haproxy tcp and SwiftLVS NAT; keep-alive req/s, new connections/s,
#            iperf3 Gbit/s and p99, with SwiftLVS's ratios to the others. LAB_REPS (default 1)
#            repetitions per backend; LVS_LAB_DIR overrides the lab's location.
#   lab-dsr  (root) download throughput (iperf3 -R) of VS/DR and VS/TUN against the direct path in
#            a one-segment lab of its own (namespaces lvtb-*), with the ratios; DSR_REPS rounds.
#   l7       loopback, no root needed: keep-alive req/s and p99 with wrk through SwiftLVS's L7
#            switch (lvsd), haproxy (mode http) and nginx (proxy_pass) in front of the same
#            nginx upstreams; ratios to haproxy and nginx (scripts/lab/bench-l7.sh for knobs).
set -euo pipefail
cd "$(dirname "$0")/.."
suite="${1:-}"
case "$suite" in
  engine)
    swift build -c release --product LVSBench >&2
    exec .build/release/LVSBench engine
    ;;
  schedulers)
    swift build -c release --product LVSBench >&2
    exec .build/release/LVSBench schedulers "${@:2}"
    ;;
  maxcc)
    swift build -c release --product LVSBench >&2
    exec .build/release/LVSBench maxcc
    ;;
  lab)
    exec bash scripts/lab/bench-lab.sh
    ;;
  lab-dsr)
    exec bash scripts/lab/bench-dsr.sh
    ;;
  l7)
    exec bash scripts/lab/bench-l7.sh
    ;;
  *)
    echo "usage: scripts/bench.sh engine|schedulers|maxcc|lab|lab-dsr|l7" >&2
    exit 2
    ;;
esac
