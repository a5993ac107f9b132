#!/usr/bin/env bash
# End-to-end test of the layer-7 switch on loopback: lvsd with an `l7` section and no
# interfaces, run WITHOUT root (as nobody when started as root), in front of three
# `lvs-demo serve` real servers; curl, python3 and wrk as clients; lvsadm -L --l7.
#   Tests/EndToEnd/l7.sh BIN_DIR      (BIN_DIR holds lvsd, lvsadm and lvs-demo)
# Includes the issue's 1 GiB upload through the switch with lvsd's peak RSS bounded. Ends with
# "N passed, M failed"; exits non-zero when anything failed. Every process it starts is killed
# on exit (by PID).
set -uo pipefail
BIN=$(cd "${1:?usage: l7.sh BIN_DIR}" && pwd)
WORK=$(mktemp -d /tmp/lvsl7e2e.XXXXXX)
chmod 755 "$WORK"
mkdir -p "$WORK/run"
[ "$(id -u)" = 0 ] && chown 65534:65534 "$WORK/run"  # lvsd runs as nobody then
export LVSD_SOCKET=$WORK/run/lvsd.sock
passed=0
failed=0
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ok() { echo "ok   - $1"; passed=$((passed + 1)); }
bad() { echo "FAIL - $1"; shift; for l in "$@"; do echo "       $l"; done; failed=$((failed + 1)); }
# Free loopback ports, chosen by the kernel.
read -r P1 P2 P3 LP < <(python3 -c '
import socket
ss=[socket.socket() for _ in range(4)]
for s in ss: s.bind(("127.0.0.1",0))
print(*[s.getsockname()[1] for s in ss])')

rs_pids=()
for i in 1 2 3; do
    port_var=P$i
    "$BIN/lvs-demo" serve rs$i "${!port_var}" >/dev/null 2>&1 &
    pids+=($!)
    rs_pids+=($!)
done

# The servers first (a refused connection would count against a server's passive health).
for port in $P1 $P2 $P3; do
    for _ in $(seq 100); do
        curl -s -o /dev/null -m 1 "http://127.0.0.1:$port/" && break
        sleep 0.1
    done
done

cat > "$WORK/l7.yaml" <<YAML
control_socket: $WORK/run/lvsd.sock
l7:
  listen: [127.0.0.1:$LP]
  threads: 2
  limits: {max_header_bytes: 8192, client_idle_timeout: 5}
  pools:
    - name: web
      scheduler: rr
      health_check: {type: http, path: /healthz, status: [200], interval: 0.5, timeout: 0.5, retry: 0}
      servers:
        - {address: 127.0.0.1, port: $P1, name: rs1}
        - {address: 127.0.0.1, port: $P2, name: rs2}
    - name: images
      scheduler: lblc
      servers: [{address: 127.0.0.1, port: $P3}]
  rules:
    - {path_regex: '\.png$', pool: images}
  default_pool: web
YAML

chk=$("$BIN/lvsd" -f "$WORK/l7.yaml" --check 2>&1)
[ $? = 0 ] && [[ "$chk" == *"l7: 2 pools, 1 rules, 2 health checkers)" ]] \
    && ok "lvsd --check accepts an l7-only file (no interfaces): ${chk#*: }" || bad "lvsd --check" "$chk"

# Unprivileged: as nobody when we are root.
run_as=()
if [ "$(id -u)" = 0 ]; then run_as=(setpriv --reuid=65534 --regid=65534 --clear-groups); fi
"${run_as[@]}" "$BIN/lvsd" -f "$WORK/l7.yaml" 2>"$WORK/lvsd.log" &
LVSD=$!
pids+=($LVSD)
for _ in $(seq 100); do
    curl -s -o /dev/null -m 1 "http://127.0.0.1:$LP/" && break
    sleep 0.1
done
uid=$(awk '/^Uid:/ {print $2}' /proc/$LVSD/status 2>/dev/null)
if [ -n "$uid" ] && { [ "$(id -u)" != 0 ] || [ "$uid" = 65534 ]; }; then
    ok "lvsd runs the l7 switch unprivileged (uid $uid)"
else
    bad "lvsd not running unprivileged" "$(cat "$WORK/lvsd.log")"
fi

# One curl invocation = one keep-alive connection; requests alternate rs1/rs2, .png goes to rs3.
out=$(curl -s -m 10 -w '|%{num_connects}\n' "http://127.0.0.1:$LP/a" "http://127.0.0.1:$LP/b" \
    "http://127.0.0.1:$LP/x.png" "http://127.0.0.1:$LP/c" "http://127.0.0.1:$LP/y.png" "http://127.0.0.1:$LP/d")
names=$(echo "$out" | cut -d'|' -f1 | tr -s ' \n' ' ')
connects=$(echo "$out" | cut -d'|' -f2 | awk '{s += $1} END {print s}')
read -r n1 n2 n3 n4 n5 n6 <<< "$names"
# rr alternates rs1/rs2 for the pages (wherever its cursor stood), the images go to rs3.
if [ "$n3 $n5" = "rs3 rs3" ] && [ "$n1" != "$n2" ] && [ "$n4" = "$n1" ] && [ "$n6" = "$n2" ] \
    && [[ "$n1 $n2" == "rs1 rs2" || "$n1 $n2" == "rs2 rs1" ]] && [ "$connects" = 1 ]; then
    ok "one keep-alive connection, per-request routing: $names"
else
    bad "per-request routing on one connection" "got '$names' over $connects connections" "$("$BIN/lvsadm" -L --l7 2>&1)"
fi

# 1 GiB upload (Content-Length, streamed) through the switch; lvsd's peak RSS stays bounded.
hwm_before=$(awk '/^VmHWM:/ {print $2}' /proc/$LVSD/status)
up=$(timeout 120 python3 - "$LP" <<'PY'
import socket, sys
n = 1 << 30
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % n)
block = bytes(1 << 20)
for _ in range(n >> 20): s.sendall(block)
data = b""
while b"\n" not in data.split(b"\r\n\r\n", 1)[-1] or b"\r\n\r\n" not in data:
    d = s.recv(65536)
    if not d: break
    data += d
print(data.split(b"\r\n\r\n", 1)[-1].decode().strip())
PY
)
hwm_after=$(awk '/^VmHWM:/ {print $2}' /proc/$LVSD/status)
growth=$(( (hwm_after - hwm_before) / 1024 ))
if [[ "$up" == rs[12]" len=1073741824 "* ]] && [ "$growth" -lt 64 ]; then
    ok "1 GiB upload streamed ($up); lvsd peak RSS grew ${growth} MiB"
else
    bad "1 GiB upload" "answer '$up', peak RSS growth ${growth} MiB"
fi

# Malformed request: 400 and the connection closed.
mal=$(python3 - "$LP" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.settimeout(5)
s.sendall(b"BAD REQUEST LINE\r\n\r\n")
data = b""
while True:
    d = s.recv(65536)
    if not d: break
    data += d
print(data.split(b"\r\n")[0].decode(), "closed")
PY
)
[ "$mal" = "HTTP/1.1 400 Bad Request closed" ] && ok "malformed request: 400, connection closed" || bad "malformed request" "$mal"

# wrk keep-alive for 3 s: no errors, no non-2xx.
if command -v wrk >/dev/null; then
    w=$(wrk -t2 -c16 -d3s "http://127.0.0.1:$LP/" 2>&1)
    reqs=$(echo "$w" | awk '/requests in/ {print $1}')
    if [ -n "$reqs" ] && ! echo "$w" | grep -qE "Non-2xx|Socket errors"; then
        ok "wrk keep-alive 3 s: $reqs requests, no errors"
    else
        bad "wrk through the switch" "$w"
    fi
fi

# The listing: a separate section under --l7, with the counters; -L alone is unchanged.
listing=$("$BIN/lvsadm" -L --l7 2>&1)
if echo "$listing" | grep -q "^web  *rr" && echo "$listing" | grep -qE "127\.0\.0\.1:$P3 .* up "; then
    ok "lvsadm -L --l7 lists pools and servers"
else
    bad "lvsadm -L --l7" "$listing"
fi
plain=$("$BIN/lvsadm" -L -n 2>&1)
if [ $? = 0 ] && echo "$plain" | grep -q "^IP Virtual Server" && ! echo "$plain" | grep -q "web"; then ok "lvsadm -L -n without --l7 has no l7 section"; else bad "lvsadm -L -n" "$plain"; fi

# Active health: rs2 stops while a bounded curl loop runs; its checker (every 0.5 s, 0.5 s
# timeout) takes it out; after that no request fails and none goes to rs2. Restarted, it returns.
if echo "$listing" | grep -qE "127\.0\.0\.1:$P2 .* up +[0-9]+ +[0-9]+ +[0-9]+ up$"; then
    ok "lvsadm -L --l7 shows the active check state (rs2 checked up)"
else
    bad "check column" "$listing"
fi
loop_log=$WORK/loop.log
(
    SECONDS=0
    for _ in $(seq 1000); do  # bounded: 1000 requests or the stop file or 30 s
        [ -e "$WORK/stop" ] && break
        [ "$SECONDS" -ge 30 ] && break
        r=$(curl -s -m 2 -w '|%{http_code}' "http://127.0.0.1:$LP/" | tr -d '\n')
        echo "$(date +%s.%N) ${r:-|000}"
        sleep 0.01
    done
) > "$loop_log" &
LOOP=$!
pids+=($LOOP)
sleep 1
t_kill=$(date +%s.%N)
kill "${rs_pids[1]}"
wait "${rs_pids[1]}" 2>/dev/null
t_det=""
for _ in $(seq 100); do
    if "$BIN/lvsadm" -L --l7 2>/dev/null | grep -qE "127\.0\.0\.1:$P2 .* down \("; then t_det=$(date +%s.%N); break; fi
    sleep 0.02
done
sleep 3  # the loop keeps running with rs2 out
t_restart=$(date +%s.%N)
"$BIN/lvs-demo" serve rs2 "$P2" >/dev/null 2>&1 &
pids+=($!)
t_up=""
for _ in $(seq 150); do
    if "$BIN/lvsadm" -L --l7 2>/dev/null | grep -qE "127\.0\.0\.1:$P2 .* up$"; then t_up=$(date +%s.%N); break; fi
    sleep 0.02
done
sleep 1
touch "$WORK/stop"
wait "$LOOP"
if [ -n "$t_det" ]; then
    detect=$(awk -v a="$t_kill" -v b="$t_det" 'BEGIN {printf "%.2f", b - a}')
    read -r total fails to_rs2 < <(awk -F'[ |]' -v a="$t_det" -v b="$t_restart" \
        '$1 > a && $1 < b {n++; if ($3 != "200") f++; if ($2 == "rs2") r++} END {print n+0, f+0, r+0}' "$loop_log")
    all_fails=$(awk -F'[ |]' '$3 != "200"' "$loop_log" | wc -l)
    if [ "$total" -gt 20 ] && [ "$fails" = 0 ] && [ "$to_rs2" = 0 ] && grep -q "127.0.0.1:$P2 is down: HTTP_GET" "$WORK/lvsd.log"; then
        ok "active check: rs2 out ${detect} s after it stopped; after that $total requests, 0 failed, 0 to rs2 ($all_fails failed in the whole loop)"
    else
        bad "after detection: $total requests, $fails failed, $to_rs2 to rs2" "$(grep -i health "$WORK/lvsd.log" | tail -3)"
    fi
else
    bad "rs2's check never went down" "$("$BIN/lvsadm" -L --l7 2>&1)" "$(tail -3 "$WORK/lvsd.log")"
fi
if [ -n "$t_up" ]; then
    back=$(awk -v a="$t_restart" -v b="$t_up" 'BEGIN {printf "%.2f", b - a}')
    n2=$(awk -F'[ |]' -v a="$t_up" '$1 > a && $2 == "rs2"' "$loop_log" | wc -l)
    if [ "$n2" -gt 0 ] && grep -q "127.0.0.1:$P2 is up: HTTP_GET succeeded" "$WORK/lvsd.log"; then
        ok "active check: restarted rs2 back after ${back} s, then served $n2 requests"
    else
        bad "rs2 back but not picked ($n2 requests)" "$(tail -3 "$WORK/lvsd.log")"
    fi
else
    bad "restarted rs2 never checked up" "$("$BIN/lvsadm" -L --l7 2>&1)"
fi

kill "$LVSD"
wait "$LVSD"
st=$?
[ "$st" = 0 ] && ok "lvsd stops cleanly on SIGTERM" || bad "lvsd exit status $st" "$(tail -5 "$WORK/lvsd.log")"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
