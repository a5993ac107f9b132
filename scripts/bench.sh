#!/usr/bin/env bash
# scripts/bench.sh SUITE: runs one benchmark suite and prints one `name value unit` line per figure.
# Every suite also prints ratios against a baseline measured in the same run (machines are noisy).
#   engine   single-thread engine: established NAT Mpps (1k/1M flows), new connections/s,
#            bytes per connection, allocations per packet; baseline = the parser alone.
set -euo pipefail
cd "$(dirname "$0")/.."
suite="${1:-}"
case "$suite" in
  engine)
    swift build -c release --product LVSBench >&2
    exec .build/release/LVSBench engine
    ;;
  *)
    echo "usage: scripts/bench.sh engine" >&2
    exit 2
    ;;
esac
