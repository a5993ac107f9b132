#!/usr/bin/env bash
# scripts/bench.sh lab: SwiftLVS side by side with the baselines of ../shared/lab, in one run.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
LAB=${LVS_LAB_DIR:-$ROOT/../shared/lab}
[ -x "$LAB/bench.sh" ] || { echo "lab not found at $LAB (set LVS_LAB_DIR)" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "the lab needs root (network namespaces)" >&2; exit 1; }
for cmd in wrk iperf3 nginx haproxy nft conntrack jq; do
    command -v $cmd >/dev/null || { echo "missing $cmd: apt-get install -y nginx-light libnginx-mod-stream haproxy wrk iperf3 nftables conntrack jq" >&2; exit 1; }
done
cd "$ROOT"
swift build -c release --product lvsd >&2
swift build -c release --product lvsadm >&2
export SWIFTLVS_BIN=$(swift build -c release --show-bin-path)
export LAB_OUT=${LAB_OUT:-/tmp/swiftlvs-lab}
export REPS=${LAB_REPS:-1}
rm -rf "$LAB_OUT"
trap '"$LAB/topo.sh" down >&2 || true' EXIT
"$LAB/topo.sh" up >&2
backends=${LAB_BACKENDS:-"direct nftables-dnat haproxy-tcp $ROOT/scripts/lab/swiftlvs-backend.sh"}
for b in $backends; do
    echo "# lab: $b" >&2
    "$LAB/bench.sh" "$b" >&2
done
R=$LAB_OUT/results
metric() { awk -v m="$2" '$1 == m {print $2}' "$R/$1.txt" 2>/dev/null | head -1; }
names="direct nftables-dnat haproxy-tcp swiftlvs-backend"
for n in $names; do
    short=${n%-backend}
    for m in ka.rps cps.rps iperf.gbps ka.p99_ms lat.p99_ms ka.cpu_director_pct cps.cpu_director_pct; do
        v=$(metric "$n" $m)
        [ -n "$v" ] || continue
        case $m in *.rps) u=req/s;; *.gbps) u=Gbit/s;; *_ms) u=ms;; *) u=%core;; esac
        echo "lab.$short.$m $v $u"
    done
done
for base in direct nftables-dnat haproxy-tcp; do
    for m in ka.rps cps.rps iperf.gbps; do
        a=$(metric swiftlvs-backend $m); b=$(metric $base $m)
        [ -n "$a" ] && [ -n "$b" ] && awk -v a="$a" -v b="$b" -v n="lab.swiftlvs_vs_$base.$m" 'BEGIN { if (b > 0) printf "%s %.3f ratio\n", n, a / b }'
    done
done
