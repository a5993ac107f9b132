#!/usr/bin/env bash
# End-to-end test of VS/DR: the director rewrites only the destination MAC; real servers hold the
# VIP on lo (arp_ignore/arp_announce) and answer the client directly, so only client-to-server
# frames cross the director, which still tracks each connection's TCP state from that direction
# alone (IPVS's INPUT_ONLY table). Needs root.   Tests/EndToEnd/dr.sh BIN_DIR
set -uo pipefail
BIN=${1:?usage: dr.sh BIN_DIR}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../../scripts/lab/netns.sh"
P=lvsdr
WORK=$(mktemp -d /tmp/lvsdr.XXXXXX)
export LVSD_SOCKET=$WORK/lvsd.sock
passed=0
failed=0
cleanup() { lab_down $P; rm -rf "$WORK"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
ok() { echo "ok   - $1"; passed=$((passed + 1)); }
bad() { echo "FAIL - $1"; shift; for l in "$@"; do echo "       $l"; done; failed=$((failed + 1)); }

LAB_IPV6=1 lab_flat_up $P 3
for i in 1 2 3; do ip netns exec $P-r$i "$BIN/lvs-demo" serve rs$i 80 & disown; done
cat > "$WORK/lvsd.yaml" <<YAML
control_socket: $LVSD_SOCKET
metrics_listen: 127.0.0.1:9118
interfaces: [d0]
realtime_priority: 10
timeouts: {tcpfin: 2, time_wait: 2, close: 2}
services:
  - protocol: tcp
    address: $LAB_FLAT_VIP
    port: 80
    scheduler: rr
    real_servers:
      - {address: $(lab_flat_server_ip 1), method: dr}
      - {address: $(lab_flat_server_ip 2), method: dr}
      - {address: $(lab_flat_server_ip 3), method: dr}
  - protocol: tcp
    address: $LAB_FLAT_VIP6
    port: 80
    scheduler: rr
    real_servers:
      - {address: $(lab_flat_server_ip6 1), method: dr}
      - {address: $(lab_flat_server_ip6 2), method: dr}
      - {address: $(lab_flat_server_ip6 3), method: dr}
YAML
ip netns exec $P-d "$BIN/lvsd" -f "$WORK/lvsd.yaml" 2> "$WORK/lvsd.log" &
LVSD_PID=$!
disown
wait_for test -S "$LVSD_SOCKET" || { cat "$WORK/lvsd.log"; echo "0 passed, 1 failed"; exit 1; }
for i in 1 2 3; do wait_for ip netns exec $P-r$i bash -c "exec 3<>/dev/tcp/127.0.0.1/80"; done

# realtime_priority: exactly one thread (the data plane) runs under SCHED_RR at 10.
rt=$(ps -L -o cls=,rtprio= -p $LVSD_PID | awk '$1 == "RR"' | tr -s ' ')
if [ "$(echo "$rt" | wc -l)" = 1 ] && [ "$rt" = " RR 10" -o "$rt" = "RR 10" ] && grep -q "SCHED_RR priority 10" "$WORK/lvsd.log"; then
    ok "realtime_priority 10: the data-plane thread runs under SCHED_RR 10, the other $(($(ps -L -p $LVSD_PID --no-headers | wc -l) - 1)) threads normally"
else
    bad "realtime_priority" "$(ps -L -o tid,cls,rtprio,comm -p $LVSD_PID)"
fi

r1=0; r2=0; r3=0; err=0
for i in $(seq 30); do
    case "$(ip netns exec $P-c curl -s -m 5 http://$LAB_FLAT_VIP/)" in rs1) r1=$((r1+1));; rs2) r2=$((r2+1));; rs3) r3=$((r3+1));; *) err=$((err+1));; esac
done
[ "$r1 $r2 $r3 $err" = "10 10 10 0" ] && ok "DR: 30 curl requests, rr 10/10/10, 0 errors" || bad "DR split" "rs1 $r1 rs2 $r2 rs3 $r3 errors $err" "$(tail -3 "$WORK/lvsd.log")"

# IPv6: the data plane answers neighbour solicitations for the VIP; servers hold it on lo.
r1=0; r2=0; r3=0; err=0
for i in $(seq 30); do
    case "$(ip netns exec $P-c curl -s -m 5 -g "http://[$LAB_FLAT_VIP6]/")" in rs1) r1=$((r1+1));; rs2) r2=$((r2+1));; rs3) r3=$((r3+1));; *) err=$((err+1));; esac
done
[ "$r1 $r2 $r3 $err" = "10 10 10 0" ] && ok "DR over IPv6: 30 curl requests to [$LAB_FLAT_VIP6], rr 10/10/10, 0 errors" \
    || bad "DR IPv6 split" "rs1 $r1 rs2 $r2 rs3 $r3 errors $err" "$(tail -3 "$WORK/lvsd.log")"

out=$(ip netns exec $P-c wrk -t1 -c10 -d3s --timeout 3s http://$LAB_FLAT_VIP/ 2>&1)
reqs=$(echo "$out" | awk '/requests in/ {print $1}')
[ -n "$reqs" ] && [ "$reqs" -gt 500 ] && ! echo "$out" | grep -qE "Socket errors|Non-2xx" \
    && ok "DR: wrk keep-alive 3 s, $reqs requests, 0 errors" || bad "DR wrk" "$out"

lab_expect_one_way 9118 DR

listing=$("$BIN/lvsadm" -L -n)
if echo "$listing" | grep -qE "^  -> 10\.0\.2\.11:80 +Route +1 "; then
    ok "lvsadm lists the DR servers as Route"
else
    bad "DR listing" "$listing"
fi
# Input-only tracking: after the clients closed, connections leave ESTABLISHED and expire.
conns=$("$BIN/lvsadm" -L -n -c | tail -n +3)
if echo "$conns" | grep -qE "FIN_WAIT|TIME_WAIT|CLOSE"; then
    ok "connections are tracked from the client side alone (states seen: $(echo "$conns" | awk '{print $3}' | sort -u | tr '\n' ' '))"
else
    bad "DR state tracking" "$conns"
fi
sleep 3
n=$("$BIN/lvsadm" -L -n -c | tail -n +3 | grep -c .)
[ "$n" = 0 ] && ok "DR connection table empties after the (short) timeouts" || bad "DR table not empty" "$("$BIN/lvsadm" -L -n -c | head -5)"

kill -TERM $LVSD_PID
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
