#!/usr/bin/env bash
# scripts/bench.sh lab-dsr: download throughput (iperf3 -R, server to client) of VS/DR and VS/TUN
# against the direct path, in one run. Replies bypass the director in both methods, so the goal is
# >= 0.95x of direct.
#
# Its own one-segment lab (namespaces lvtb-*, scripts/lab/netns.sh lab_tun_up): client, director
# and one real server on a bridge; the server holds the VIP on lo and runs iperf3 -s and (for TUN)
# lvs-tunnel: VS/TUN is measured twice, with the agent's TUN-device path (raw socket read + TUN
# write per packet; lab_dsr.tun.*) and with its XDP path (lvs-tunnel --xdp eth0: in-kernel
# decapsulation; lab_dsr.tun_xdp.*). Processes are pinned as in ../shared/lab: the client on CPU $CLIENT_CPUS (0), the
# director and the server on $SUT_CPUS (1). DSR_REPS rounds (default 3), interleaved
# direct/DR/TUN/TUN-XDP; each figure is the median. DSR_SECONDS per iperf3 run (default 5).
# DIRECTOR_RT sets lvsd's realtime_priority (SCHED_RR for its data-plane thread; default 0 = off).
# DSR_CC sets iperf3's congestion control (-C; default: the system's, bbr on these machines).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/scripts/lab/netns.sh"
[ "$(id -u)" = 0 ] || { echo "the lab needs root (network namespaces)" >&2; exit 1; }
command -v iperf3 >/dev/null && command -v jq >/dev/null || { echo "missing iperf3 or jq (apt-get install -y iperf3 jq)" >&2; exit 1; }
cd "$ROOT"
# SWIFTLVS_BIN (a directory with lvsd and lvs-tunnel) skips the build.
if [ -z "${SWIFTLVS_BIN:-}" ]; then
    swift build -c release --product lvsd >&2
    swift build -c release --product lvs-tunnel >&2
fi
BIN=${SWIFTLVS_BIN:-$(swift build -c release --show-bin-path)}
P=lvtb
REPS=${DSR_REPS:-3}
SECS=${DSR_SECONDS:-5}
CLIENT_CPUS=${CLIENT_CPUS:-0}
SUT_CPUS=${SUT_CPUS:-1}
# The director's CPU (default: with the real server, as ../shared/lab pins the system under test).
DIRECTOR_CPUS=${DIRECTOR_CPUS:-$SUT_CPUS}
# The real server's lvs-tunnel agent (default: with the server's iperf3).
AGENT_CPUS=${AGENT_CPUS:-$SUT_CPUS}
WORK=$(mktemp -d /tmp/lvtb.XXXXXX)
LVSD_PID=""
cleanup() { lab_down $P; rm -rf "$WORK"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

lab_tun_up $P 1
RS=$(lab_tun_server_ip 1)
ip netns exec $P-r1 taskset -c "$SUT_CPUS" iperf3 -s -p 5201 >/dev/null 2>&1 &
ip netns exec $P-r1 taskset -c "$AGENT_CPUS" "$BIN/lvs-tunnel" 2> "$WORK/tunnel.log" &
wait_for ip netns exec $P-c bash -c "exec 3<>/dev/tcp/$RS/5201"
wait_for grep -q receiving "$WORK/tunnel.log"

start_director() {  # METHOD (dr | tun)
    cat > "$WORK/lvsd.yaml" <<YAML
control_socket: $WORK/lvsd.sock
interfaces: [d0]
realtime_priority: ${DIRECTOR_RT:-0}
services:
  - {protocol: tcp, address: $LAB_TUN_VIP, port: 5201, scheduler: rr, real_servers: [{address: $RS, method: $1}]}
YAML
    rm -f "$WORK/lvsd.sock"
    ip netns exec $P-d taskset -c "$DIRECTOR_CPUS" "$BIN/lvsd" -f "$WORK/lvsd.yaml" 2> "$WORK/lvsd-$1.log" &
    LVSD_PID=$!
    wait_for test -S "$WORK/lvsd.sock" || { cat "$WORK/lvsd-$1.log" >&2; exit 1; }
    ip netns exec $P-c ip neigh flush all 2>/dev/null || true
    sleep 0.5
}
stop_director() {
    kill -TERM "$LVSD_PID" 2>/dev/null || true
    wait "$LVSD_PID" 2>/dev/null || true
    LVSD_PID=""
}
run_iperf() {  # TARGET -> Gbit/s (received by the client)
    ip netns exec $P-c taskset -c "$CLIENT_CPUS" timeout $((SECS + 15)) iperf3 -c "$1" -p 5201 -R -t "$SECS" ${DSR_CC:+-C "$DSR_CC"} -J 2>/dev/null \
        | jq -r '.end.sum_received.bits_per_second / 1e9' 2>/dev/null || echo 0
}
median() { sort -g | awk '{v[NR] = $1} END { if (NR == 0) print 0; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

for r in $(seq "$REPS"); do
    echo "# lab-dsr round $r/$REPS" >&2
    run_iperf "$RS" >> "$WORK/direct"
    start_director dr
    run_iperf "$LAB_TUN_VIP" >> "$WORK/dr"
    stop_director
    start_director tun
    run_iperf "$LAB_TUN_VIP" >> "$WORK/tun"
    # The XDP agent decapsulates before the TUN agent's raw sockets would see anything.
    ip netns exec $P-r1 taskset -c "$AGENT_CPUS" "$BIN/lvs-tunnel" --xdp eth0 2> "$WORK/xdp.log" &
    XDP_PID=$!
    wait_for grep -q receiving "$WORK/xdp.log" || { cat "$WORK/xdp.log" >&2; exit 1; }
    run_iperf "$LAB_TUN_VIP" >> "$WORK/tun_xdp"
    kill -INT $XDP_PID; wait $XDP_PID || true
    stop_director
done
d=$(median < "$WORK/direct"); dr=$(median < "$WORK/dr"); tun=$(median < "$WORK/tun"); xdp=$(median < "$WORK/tun_xdp")
printf 'lab_dsr.direct.download_gbps %.2f Gbit/s\n' "$d"
printf 'lab_dsr.dr.download_gbps %.2f Gbit/s\n' "$dr"
printf 'lab_dsr.tun.download_gbps %.2f Gbit/s\n' "$tun"
printf 'lab_dsr.tun_xdp.download_gbps %.2f Gbit/s\n' "$xdp"
awk -v a="$dr" -v b="$d" 'BEGIN { if (b > 0) printf "lab_dsr.dr_vs_direct.download %.3f ratio\n", a / b }'
awk -v a="$tun" -v b="$d" 'BEGIN { if (b > 0) printf "lab_dsr.tun_vs_direct.download %.3f ratio\n", a / b }'
awk -v a="$xdp" -v b="$d" 'BEGIN { if (b > 0) printf "lab_dsr.tun_xdp_vs_direct.download %.3f ratio\n", a / b }'
grep -h "decapsulated" "$WORK/xdp.log" | tail -1 | sed 's/^/# last XDP round: /' >&2
echo "# rounds (Gbit/s): direct $(tr '\n' ' ' < "$WORK/direct")| dr $(tr '\n' ' ' < "$WORK/dr")| tun $(tr '\n' ' ' < "$WORK/tun")| tun_xdp $(tr '\n' ' ' < "$WORK/tun_xdp")" >&2
