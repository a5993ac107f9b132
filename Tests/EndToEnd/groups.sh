#!/usr/bin/env bash
# End-to-end tests of service groups (lvsadm -f MARK --match: the role of IPVS fwmark services),
# persistent port-0 services and one-packet scheduling, through the VS/NAT lab with curl and a
# UDP client. Needs root.   Tests/EndToEnd/groups.sh BIN_DIR
set -uo pipefail
BIN=${1:?usage: groups.sh BIN_DIR}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../../scripts/lab/netns.sh"
P=lvsgrp
WORK=$(mktemp -d /tmp/lvsgrp.XXXXXX)
export LVSD_SOCKET=$WORK/lvsd.sock
passed=0
failed=0
LVSD_PID=""
cleanup() { [ -n "$LVSD_PID" ] && kill "$LVSD_PID" 2>/dev/null; lab_down $P; rm -rf "$WORK"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
ok() { echo "ok   - $1"; passed=$((passed + 1)); }
bad() { echo "FAIL - $1"; shift; for l in "$@"; do echo "       $l"; done; failed=$((failed + 1)); }
inc() { ip netns exec $P-c "$@"; }
lvsadm() { "$BIN/lvsadm" "$@"; }

echo "== lab"
lab_up $P 3
for i in 1 2 3; do
    ip netns exec $P-r$i "$BIN/lvs-demo" serve rs$i 8080 & disown
    ip netns exec $P-r$i "$BIN/lvs-demo" udp-echo rs$i 5353 & disown
done
{
    lab_config $P "$LVSD_SOCKET" rr "1 1 1"
    echo "timeouts: {tcp: 30, tcpfin: 2, udp: 5, time_wait: 2, close: 2, close_wait: 2, last_ack: 2, syn_recv: 5}"
} > "$WORK/lvsd.yaml"
ip netns exec $P-d "$BIN/lvsd" -f "$WORK/lvsd.yaml" 2> "$WORK/lvsd.log" &
LVSD_PID=$!
if ! wait_for test -S "$LVSD_SOCKET"; then
    echo "lvsd did not start:"; cat "$WORK/lvsd.log"; echo "0 passed, 1 failed"; exit 1
fi
for i in 1 2 3; do wait_for ip netns exec $P-r$i bash -c "exec 3<>/dev/tcp/127.0.0.1/8080"; done
# The plain service answers before the tests begin (neighbours resolved).
wait_for inc curl -s -m 2 http://$LAB_VIP/

echo "== tests"
# 1. A service group (the role of an IPVS fwmark service, lvsadm -f): two ports of the VIP share
#     one scheduler; made persistent, the client sticks to one server across both ports; then a
#     persistent port-0 service catches other ports.
lvsadm -A -f 5 -s rr --match tcp:$LAB_VIP:9000-9001
for i in 1 2 3; do lvsadm -a -f 5 -r "$(lab_server_ip $i):8080" -m; done
g=""
for i in $(seq 6); do g+="$(inc curl -s -m 5 http://$LAB_VIP:$((9000 + i % 2))/ || echo ERR) "; done
gsplit=$(echo "$g" | tr ' ' '\n' | grep -E '^rs' | sort | uniq -c | awk '{printf "%s:%s ", $2, $1}')
if [ "$(echo "$g" | tr ' ' '\n' | grep -E '^rs[123]$' | sort | uniq -c | awk '{print $1}' | tr '\n' ' ')" = "2 2 2 " ] \
    && output_has "^FWM  5 rr\$" lvsadm -L -n; then
    ok "group -f 5 over ports 9000-9001: rr 2/2/2 across both ports ($gsplit)"
else
    bad "group rr" "$g" "$(lvsadm -L -n | grep -A3 FWM)"
fi
lvsadm -E -f 5 -s rr -p 60
g=""
for i in $(seq 10); do g+="$(inc curl -s -m 5 http://$LAB_VIP:$((9000 + i % 2))/ || echo ERR) "; done
gd=$(echo "$g" | tr ' ' '\n' | grep -E '^rs[123]$' | sort | uniq -c)
if [ "$(echo "$gd" | wc -l)" = 1 ] && echo "$gd" | grep -qE '^ +10 rs[123]$' \
    && output_has "^FWM  5 rr persistent 60\$" lvsadm -L -n \
    && output_has "^IP  .* NONE +10\.0\.1\.2:0 +0\.0\.0\.5:0 " lvsadm -L -n -c; then
    ok "persistent group: 10 connections over ports 9000 and 9001 all went to $(echo $gd | awk '{print $2}'), one IP template"
else
    bad "persistent group" "$g" "$(lvsadm -L -n -c | grep -E '^IP|:900')" "$(tail -5 "$WORK/lvsd.log")"
fi
lvsadm -D -f 5
lvsadm -A -t $LAB_VIP:0 -s rr -p 60
for i in 1 2 3; do lvsadm -a -t $LAB_VIP:0 -r "$(lab_server_ip $i):8080" -m; done
z=""
for port in 7001 7002 7003 7004; do z+="$(inc curl -s -m 5 http://$LAB_VIP:$port/ || echo ERR) "; done
zd=$(echo "$z" | tr ' ' '\n' | grep -E '^rs[123]$' | sort | uniq -c)
plain=$(inc curl -s -m 5 http://$LAB_VIP:81/ || echo ERR)
if [ "$(echo "$zd" | wc -l)" = 1 ] && echo "$zd" | grep -qE '^ +4 rs[123]$' && echo "$plain" | grep -qE '^rs[123]$'; then
    ok "persistent port-0 service: ports 7001-7004 all reached $(echo $zd | awk '{print $2}'); exact services still win"
else
    bad "port-0 service" "$z" "$plain"
fi
lvsadm -D -t $LAB_VIP:0

# 2. One-packet scheduling: datagrams of one client socket are spread (--ops); a per-service UDP
#     timeout shows in -S.
lvsadm -A -u $LAB_VIP:55 -s rr -o --udp-timeout 3
for i in 1 2 3; do lvsadm -a -u $LAB_VIP:55 -r "$(lab_server_ip $i):5353" -m; done
ops=$(inc timeout 20 python3 - "$LAB_VIP" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
s.connect((sys.argv[1], 55))
names = []
for i in range(9):
    s.send(b"ops %d" % i)
    try:
        names.append(s.recv(2048).split(b":")[0].decode())
    except OSError:
        names.append("lost")
print(" ".join(sorted(names)))
PY
)
if [ "$ops" = "rs1 rs1 rs1 rs2 rs2 rs2 rs3 rs3 rs3" ] && lvsadm -S -n | grep -qx -- "-A -u $LAB_VIP:55 -s rr -o --udp-timeout 3"; then
    ok "--ops: 9 datagrams from one socket went 3/3/3, each answered; -S keeps '-o --udp-timeout 3'"
else
    bad "one-packet scheduling" "$ops" "$(lvsadm -S -n | grep ':55')"
fi
lvsadm -D -u $LAB_VIP:55

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
