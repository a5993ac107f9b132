#!/usr/bin/env bash
# End-to-end tests of a VS/NAT director: lvsd's AF_PACKET data plane between real kernel TCP/UDP
# stacks in network namespaces, driven by curl, wrk, ping and lvsadm. Needs root.
#   Tests/EndToEnd/nat.sh BIN_DIR      (BIN_DIR holds lvsd, lvsadm and lvs-demo)
# Ends with the line "N passed, M failed"; exits non-zero when anything failed. The lab is
# removed on every exit path.
set -uo pipefail
BIN=${1:?usage: nat.sh BIN_DIR}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../../scripts/lab/netns.sh"

P=lvse2e
WORK=$(mktemp -d /tmp/lvse2e.XXXXXX)
export LVSD_SOCKET=$WORK/lvsd.sock
passed=0
failed=0
cleanup() { lab_down $P; rm -rf "$WORK"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

ok() { echo "ok   - $1"; passed=$((passed + 1)); }
bad() { echo "FAIL - $1"; shift; for l in "$@"; do echo "       $l"; done; failed=$((failed + 1)); }
inc() { ip netns exec $P-c "$@"; }
lvsadm() { "$BIN/lvsadm" "$@"; }
# curl_split N: N curl requests, one connection each; prints "rs1 a rs2 b rs3 c errors e".
curl_split() {
    local n=$1 i out r1=0 r2=0 r3=0 err=0
    for i in $(seq "$n"); do
        out=$(inc curl -s -m 5 http://$LAB_VIP/) || { err=$((err + 1)); continue; }
        case "$out" in rs1) r1=$((r1 + 1));; rs2) r2=$((r2 + 1));; rs3) r3=$((r3 + 1));; *) err=$((err + 1));; esac
    done
    echo "rs1 $r1 rs2 $r2 rs3 $r3 errors $err"
}
conn_count() { lvsadm -L -n -c | tail -n +3 | grep -c . ; }

echo "== lab"
LAB_IPV6=1 lab_up $P 3
for i in 1 2 3; do
    ip netns exec $P-r$i "$BIN/lvs-demo" serve rs$i 8080 & disown
    ip netns exec $P-r$i "$BIN/lvs-demo" udp-echo rs$i 5353 & disown
done
{
    lab_config $P "$LVSD_SOCKET" rr "1 1 1"
    cat <<YAML
  - protocol: udp
    address: $LAB_VIP
    port: 53
    scheduler: rr
    real_servers:
      - {address: $(lab_server_ip 1), port: 5353}
      - {address: $(lab_server_ip 2), port: 5353}
      - {address: $(lab_server_ip 3), port: 5353}
  - protocol: udp
    address: $LAB_VIP
    port: 54
    scheduler: rr
    real_servers:
      - {address: $(lab_server_ip 1), port: 5454}
  - protocol: tcp
    address: $LAB_VIP6
    port: 80
    scheduler: rr
    real_servers:
      - {address: $(lab_server_ip6 1), port: 8080}
      - {address: $(lab_server_ip6 2), port: 8080}
      - {address: $(lab_server_ip6 3), port: 8080}
  - protocol: tcp
    address: $LAB_VIP
    port: 81
    scheduler: rr
    persistence: {timeout: 60}
    real_servers:
      - {address: $(lab_server_ip 1), port: 8080}
      - {address: $(lab_server_ip 2), port: 8080}
      - {address: $(lab_server_ip 3), port: 8080}
metrics_listen: 127.0.0.1:9117
timeouts: {tcp: 30, tcpfin: 2, udp: 5, time_wait: 2, close: 2, close_wait: 2, last_ack: 2, syn_recv: 5}
YAML
} > "$WORK/lvsd.yaml"
# lvsd runs with a malloc counter preloaded (test 14 reads it); SIGUSR2 is only its dump signal.
MALLOC_SO=""
if cc -shared -fPIC -O2 -o "$WORK/malloc-count.so" "$HERE/support/malloc-count.c" 2>"$WORK/cc.log"; then
    MALLOC_SO=$WORK/malloc-count.so
fi
# LVSD_WARM_THRESHOLD=0: every batch takes the engine's warmed (batched) path, which lvsd uses
# by default only for tables of 65,536+ connections; the per-frame path is the engine fixtures'.
ip netns exec $P-d env ${MALLOC_SO:+LD_PRELOAD=$MALLOC_SO} LVS_MALLOC_COUNT_FILE="$WORK/mallocs" LVSD_WARM_THRESHOLD=0 \
    "$BIN/lvsd" -f "$WORK/lvsd.yaml" 2> "$WORK/lvsd.log" &
LVSD_PID=$!
disown
if ! wait_for test -S "$LVSD_SOCKET"; then
    echo "lvsd did not start:"; cat "$WORK/lvsd.log"; echo "0 passed, 1 failed"; exit 1
fi
for i in 1 2 3; do wait_for ip netns exec $P-r$i bash -c "exec 3<>/dev/tcp/127.0.0.1/8080"; done

echo "== tests"
# 1. ARP and ICMP: the VIP answers ping (no kernel interface holds it).
if out=$(inc ping -c 3 -i 0.2 -W 1 $LAB_VIP 2>&1) && echo "$out" | grep -q " 0% packet loss"; then
    ok "ping to the VIP is answered by the data plane"
else
    bad "ping to the VIP" "$out"
fi

# 2. rr: an exact even split over curl.
r=$(curl_split 60)
[ "$r" = "rs1 20 rs2 20 rs3 20 errors 0" ] && ok "rr over 60 curl requests: $r" || bad "rr split" "$r"

# 3. wrr 3:2:1, changed live with lvsadm.
lvsadm -E -t $LAB_VIP:80 -s wrr && lvsadm -e -t $LAB_VIP:80 -r $(lab_server_ip 1):8080 -m -w 3 \
    && lvsadm -e -t $LAB_VIP:80 -r $(lab_server_ip 2):8080 -m -w 2
r=$(curl_split 60)
[ "$r" = "rs1 30 rs2 20 rs3 10 errors 0" ] && ok "wrr 3:2:1 over 60 curl requests: $r" || bad "wrr split" "$r" "$(lvsadm -L -n)"

# 4. The listing shows the table in ipvsadm's layout.
listing=$(lvsadm -L -n)
if echo "$listing" | grep -qF "TCP  $LAB_VIP:80 wrr" && echo "$listing" | grep -qE "^  -> 192\.168\.10\.2:8080 +Masq +3 "; then
    ok "lvsadm -L -n lists the service and its servers"
else
    bad "lvsadm -L -n" "$listing"
fi

# 5. Keep-alive load with wrk: no errors.
lvsadm -E -t $LAB_VIP:80 -s rr
out=$(inc wrk -t1 -c20 -d4s --timeout 3s http://$LAB_VIP/ 2>&1)
reqs=$(echo "$out" | awk '/requests in/ {print $1}')
if [ -n "$reqs" ] && [ "$reqs" -gt 1000 ] && ! echo "$out" | grep -qE "Socket errors|Non-2xx"; then
    ok "wrk keep-alive, 20 connections, 4 s: $reqs requests, 0 errors"
else
    bad "wrk keep-alive" "$out"
fi

# 6. The connection table empties after the TCP timeouts (short ones configured for the test:
#    2 s in FIN_WAIT, TIME_WAIT, CLOSE, CLOSE_WAIT, LAST_ACK).
n_before=$(conn_count)
sleep 3
n_after=$(conn_count)
if [ "$n_after" -eq 0 ]; then
    ok "connection table emptied after the timeouts ($n_before -> 0)"
else
    bad "table did not empty" "before $n_before, after $n_after" "$(lvsadm -L -n -c | head -5)"
fi

# 7. Live changes under traffic: remove a server, change a weight, add it back.
inc "$BIN/lvs-demo" client $LAB_VIP 80 4000 > "$WORK/live.out" &
CLIENT=$!
sleep 0.5
lvsadm -d -t $LAB_VIP:80 -r $(lab_server_ip 3):8080; sleep 0.5
lvsadm -e -t $LAB_VIP:80 -r $(lab_server_ip 1):8080 -m -w 2; sleep 0.5
lvsadm -a -t $LAB_VIP:80 -r $(lab_server_ip 3):8080 -m -w 1
wait $CLIENT
fails=$(awk '/^failures/ {print $2}' "$WORK/live.out")
# A request in flight to the removed server at the moment of removal may fail (at most one:
# the client is sequential); requests to surviving servers must not.
if [ -n "$fails" ] && [ "$fails" -le 1 ]; then
    ok "4000 requests across remove/weight/add: $fails failed (≤ 1 in flight to the removed server)"
else
    bad "live changes" "$(cat "$WORK/live.out")"
fi
lvsadm -E -t $LAB_VIP:80 -s wrr
r=$(curl_split 40)
[ "$r" = "rs1 16 rs2 16 rs3 8 errors 0" ] && ok "new connections follow the new table (weights 2:2:1): $r" || bad "after changes" "$r" "$(lvsadm -L -n)"

# 7b. IPv6 through NAT: neighbour discovery for the VIP by the data plane, rr over 3 servers.
r6=""
for i in $(seq 30); do r6+="$(inc curl -s -m 5 -g "http://[$LAB_VIP6]/" || echo ERR) "; done
c1=$(echo "$r6" | tr ' ' '\n' | grep -c '^rs1$'); c2=$(echo "$r6" | tr ' ' '\n' | grep -c '^rs2$'); c3=$(echo "$r6" | tr ' ' '\n' | grep -c '^rs3$')
[ "$c1 $c2 $c3" = "10 10 10" ] && ok "IPv6: 30 curl requests to [$LAB_VIP6], rr 10/10/10" || bad "IPv6 NAT" "rs1 $c1 rs2 $c2 rs3 $c3" "$(echo "$r6" | head -c 300)"

# 7c. Persistence: with -p 60 on VIP:81, every new connection of this client goes to one server.
p=""
for i in $(seq 12); do p+="$(inc curl -s -m 5 http://$LAB_VIP:81/ || echo ERR) "; done
distinct=$(echo "$p" | tr ' ' '\n' | grep -E '^rs[123]$' | sort | uniq -c)
if [ "$(echo "$distinct" | wc -l)" = 1 ] && echo "$distinct" | grep -qE '^ +12 rs[123]$' \
    && output_has "^TCP  $LAB_VIP:81 rr persistent 60\$" lvsadm -L -n; then
    ok "persistence: 12 connections from one client all went to $(echo $distinct | awk '{print $2}'); listing shows 'persistent 60'"
else
    bad "persistence" "$p" "$(lvsadm -L -n | grep -A3 ':81')"
fi

# 8. UDP through NAT.
out=$(inc "$BIN/lvs-demo" udp-client $LAB_VIP 53 30)
if echo "$out" | grep -q "failures 0" && [ "$(echo "$out" | grep -c '^answers rs[123] 10$')" = 3 ]; then
    ok "UDP: 30 datagrams, rr over 3 servers: $(echo $out)"
else
    bad "UDP service" "$out"
fi

# 9. An ICMP error for a live connection reaches the client (port unreachable from the server,
#    translated back to come from the VIP).
out=$(inc "$BIN/lvs-demo" udp-probe $LAB_VIP 54)
[ "$out" = "refused" ] && ok "ICMP port-unreachable from a real server reaches the client" || bad "ICMP error" "$out"

# 10. Malformed and unrelated frames on the wire do not disturb traffic.
inc python3 - <<'PY' &
import os, random, socket, struct
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("c0", 0))
src = open("/sys/class/net/c0/address").read().strip()
smac = bytes(int(x, 16) for x in src.split(":"))
dmac = b"\xff" * 6
rnd = random.Random(7)
vip = socket.inet_aton("10.0.1.100")
cli = socket.inet_aton("10.0.1.2")
def ip(ihl=5, total=None, proto=6, payload=b""):
    t = total if total is not None else 20 + len(payload)
    return struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, t, 1, 0, 64, proto, 0, cli, vip) + payload
frames = []
for _ in range(500):
    kind = rnd.randrange(6)
    if kind == 0: f = bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 80)))
    elif kind == 1: f = ip(ihl=rnd.randrange(0, 5))
    elif kind == 2: f = ip(total=rnd.randrange(0, 2000), payload=b"x" * 30)
    elif kind == 3: f = ip(payload=struct.pack("!HHIIBBHHH", 1234, 80, 1, 0, 0x20, 0x10, 0, 0, 0))  # bad data offset
    elif kind == 4: f = ip(proto=17, payload=struct.pack("!HHHH", 999, 53, 3, 0))  # UDP length < 8
    else: f = ip(proto=rnd.randrange(256), payload=bytes(rnd.randrange(256) for _ in range(20)))
    frames.append(dmac + smac + b"\x08\x00" + f)
for f in frames:
    s.send(f)
PY
GARBAGE=$!
out=$(inc "$BIN/lvs-demo" client $LAB_VIP 80 600)
wait $GARBAGE
if echo "$out" | grep -q "failures 0" && kill -0 $LVSD_PID 2>/dev/null; then
    ok "500 malformed/unrelated frames during 600 requests: 0 failures, lvsd alive"
else
    bad "malformed frames" "$out" "$(tail -5 "$WORK/lvsd.log")"
fi

# 11. Bulk transfers both ways: GSO/GRO super-frames with partial checksums cross the data plane
#     (PACKET_VNET_HDR); the bytes must arrive intact.
want=$("$BIN/lvs-demo" pattern 20000000 | sha256sum | cut -d' ' -f1)
got=$(inc curl -s -m 30 http://$LAB_VIP/bytes/20000000 | sha256sum | cut -d' ' -f1)
[ "$got" = "$want" ] && ok "20 MB download through NAT arrives intact" || bad "bulk download" "sha256 $got, expected $want"
"$BIN/lvs-demo" pattern 20000000 > "$WORK/upload.bin"
sum=$("$BIN/lvs-demo" pattern 20000000 sum)
out=$(inc curl -s -m 30 --data-binary @"$WORK/upload.bin" -H 'Content-Type: application/octet-stream' http://$LAB_VIP/)
echo "$out" | grep -qE "^rs[123] len=20000000 sum=$sum\$" && ok "20 MB upload through NAT arrives intact ($out)" || bad "bulk upload" "$out (want sum=$sum)"

# 12. Metrics on the loopback listener, named after node_exporter's node_ipvs_*.
m=$(ip netns exec $P-d curl -s -m 5 http://127.0.0.1:9117/metrics)
if echo "$m" | grep -qE '^lvs_service_connections_total\{.*local_port="80".*\} [1-9]' \
    && echo "$m" | grep -qE '^lvs_backend_connections_inactive\{' \
    && echo "$m" | grep -qE '^lvs_dataplane_frames_total\{event="truncated"\} 0$'; then
    ok "metrics: per-service and per-server series, no truncated frames"
else
    bad "metrics" "$(echo "$m" | grep -E 'connections_total|truncated' | head -5)"
fi

# 13. SIGHUP: a good file is applied live; a bad one is refused with FILE:LINE:COLUMN and the
#     running configuration stays.
sed -i 's/port: 8080, weight: 1}/port: 8080, weight: 4}/' "$WORK/lvsd.yaml"
kill -HUP $LVSD_PID
if wait_for bash -c "'$BIN/lvsadm' -L -n | grep -qE '^  -> 192\.168\.10\.2:8080 +Masq +4 '"; then
    ok "SIGHUP applies a changed configuration (weight 4)"
else
    bad "SIGHUP reload" "$(lvsadm -L -n)" "$(tail -3 "$WORK/lvsd.log")"
fi
before=$(lvsadm -S -n)
cp "$WORK/lvsd.yaml" "$WORK/good.yaml"
printf 'interfaces: [d0, d1]\nservices:\n  - address: 10.0.1.100\n    port: 99999\n' > "$WORK/lvsd.yaml"
kill -HUP $LVSD_PID
sleep 1
after=$(lvsadm -S -n)
if [ "$before" = "$after" ] && grep -qE "reload refused.*lvsd.yaml:4:11: " "$WORK/lvsd.log"; then
    ok "a bad file on SIGHUP is refused ($(grep -oE 'lvsd.yaml:4:11: [^"]*' "$WORK/lvsd.log" | head -1)), table unchanged"
else
    bad "bad reload" "$(tail -3 "$WORK/lvsd.log")"
fi
cp "$WORK/good.yaml" "$WORK/lvsd.yaml"
out=$("$BIN/lvsd" --check -f "$WORK/good.yaml" 2>&1) && echo "$out" | grep -q "configuration OK" \
    && ok "lvsd --check accepts the running file" || bad "lvsd --check" "$out"
printf 'interfaces: [d0]\nservices:\n  - address: 10.0.1.300\n    port: 80\n' > "$WORK/bad.yaml"
out=$("$BIN/lvsd" --check -f "$WORK/bad.yaml" 2>&1)
rc=$?
[ $rc -ne 0 ] && echo "$out" | grep -q "bad.yaml:3:14: " && ok "lvsd refuses a bad file: $out" || bad "bad config" "rc=$rc $out"

# 14. The data plane forwards established traffic without heap allocations: the whole lvsd
#     process's malloc calls, counted by a preloaded shim, over a keep-alive run, per frame.
mallocs() { kill -USR2 $LVSD_PID; sleep 0.3; cat "$WORK/mallocs" 2>/dev/null || echo -1; }
if [[ "$BIN" == */debug* ]]; then
    # Unoptimized Swift allocates temporaries the optimizer removes: the property is about
    # release builds, which is what scripts/test.sh (and so CI) runs.
    echo "note - allocation check needs a release build (scripts/test.sh uses one); not counted"
elif [ -n "$MALLOC_SO" ]; then
    inc wrk -t1 -c10 -d1s http://$LAB_VIP/ >/dev/null 2>&1   # warm-up: connections, neighbours
    frames_before=$(ip netns exec $P-d curl -s http://127.0.0.1:9117/metrics | awk '/event="received"/ {print $2}')
    m_before=$(mallocs)
    out=$(inc wrk -t1 -c10 -d3s http://$LAB_VIP/ 2>&1)
    m_after=$(mallocs)
    frames_after=$(ip netns exec $P-d curl -s http://127.0.0.1:9117/metrics | awk '/event="received"/ {print $2}')
    frames=$((frames_after - frames_before))
    allocs=$((m_after - m_before))
    # Allowance: the two metrics scrapes and the 2-second rate ticks allocate (control plane).
    if [ "$m_before" -ge 0 ] && [ "$frames" -gt 10000 ] && [ "$allocs" -le 2000 ]; then
        ok "data plane: $frames frames forwarded with $allocs mallocs in the whole process (control plane included)"
    else
        bad "allocations on the data path" "frames $frames, mallocs $allocs" "$out"
    fi
else
    bad "malloc counter did not build" "$(cat "$WORK/cc.log")"
fi

# 15. lvsd stops cleanly on SIGTERM and removes its socket.
kill -TERM $LVSD_PID
if wait_for bash -c "! kill -0 $LVSD_PID 2>/dev/null" && [ ! -e "$LVSD_SOCKET" ]; then
    ok "lvsd stops on SIGTERM and removes its control socket"
else
    bad "SIGTERM" "$(tail -5 "$WORK/lvsd.log")"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
