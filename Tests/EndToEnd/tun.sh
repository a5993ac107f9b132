#!/usr/bin/env bash
# End-to-end test of VS/TUN: the director encapsulates client packets (IPIP, IPv6-in-IPv6, GUE)
# to real servers that run lvs-tunnel (the userspace decapsulation agent: this kernel has no ipip
# module) and answer the client directly from the VIP, so only client-to-server frames cross the
# director; then again with the agents' XDP path (lvs-tunnel --xdp). Also: the frag-needed answer at the tunnel MTU with the client's PMTU discovery (a 20 MB
# upload), lvs-tunnel's error without privileges, and the listing. Needs root.
#   Tests/EndToEnd/tun.sh BIN_DIR
set -uo pipefail
BIN=${1:?usage: tun.sh BIN_DIR}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../../scripts/lab/netns.sh"
P=lvtun
WORK=$(mktemp -d /tmp/lvtun.XXXXXX)
chmod 755 "$WORK"
export LVSD_SOCKET=$WORK/lvsd.sock
passed=0
failed=0
cleanup() { lab_down $P; rm -rf "$WORK"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
ok() { echo "ok   - $1"; passed=$((passed + 1)); }
bad() { echo "FAIL - $1"; shift; for l in "$@"; do echo "       $l"; done; failed=$((failed + 1)); }
metric() { lab_metric 9128 "$1"; }
GUE_PORT=6080

lab_tun_up $P 3
for i in 1 2 3; do
    ip netns exec $P-r$i "$BIN/lvs-tunnel" --gue-port $GUE_PORT --director 10.0.3.1 --director fd00:3::1 \
        2> "$WORK/tunnel$i.log" &
    eval "TUN_PID$i=$!"
    ip netns exec $P-r$i "$BIN/lvs-demo" serve rs$i 80 & disown
    ip netns exec $P-r$i "$BIN/lvs-demo" serve rs$i 8080 & disown
done
# A byte sink on r1 for the upload: reads to EOF and answers with the byte count.
ip netns exec $P-r1 python3 -c '
import socket
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("::", 9000)); s.listen(8)
while True:
    c, _ = s.accept(); c.settimeout(60); n = 0
    try:
        while True:
            b = c.recv(1 << 16)
            if not b: break
            n += len(b)
        c.sendall(str(n).encode())
    except OSError: pass
    c.close()
' & disown

S1=$(lab_tun_server_ip 1); S2=$(lab_tun_server_ip 2); S3=$(lab_tun_server_ip 3)
cat > "$WORK/lvsd.yaml" <<YAML
control_socket: $LVSD_SOCKET
metrics_listen: 127.0.0.1:9128
interfaces: [d0]
services:
  - protocol: tcp
    address: $LAB_TUN_VIP
    port: 80
    scheduler: rr
    real_servers:
      - {address: $S1, method: tun}
      - {address: $S2, method: tun}
      - {address: $S3, method: tun, tunnel: {type: ipip}}
  - protocol: tcp
    address: $LAB_TUN_VIP
    port: 8080
    scheduler: rr
    real_servers:
      - {address: $S1, method: tun, tunnel: {type: gue, port: $GUE_PORT}}
      - {address: $S2, method: tun, tunnel: {type: gue, port: $GUE_PORT, checksum: true}}
      - {address: $S3, method: tun, tunnel: {type: gue, port: $GUE_PORT}}
  - protocol: tcp
    address: $LAB_TUN_VIP6
    port: 80
    scheduler: rr
    real_servers:
      - {address: $(lab_tun_server_ip6 1), method: tun}
      - {address: $(lab_tun_server_ip6 2), method: tun, tunnel: {type: gue, port: $GUE_PORT}}
      - {address: $(lab_tun_server_ip6 3), method: tun}
  - protocol: tcp
    address: $LAB_TUN_VIP
    port: 9000
    scheduler: rr
    real_servers:
      - {address: $S1, method: tun}
  - protocol: tcp
    address: $LAB_TUN_VIP6
    port: 9000
    scheduler: rr
    real_servers:
      - {address: $(lab_tun_server_ip6 1), method: tun}
YAML
ip netns exec $P-d "$BIN/lvsd" -f "$WORK/lvsd.yaml" 2> "$WORK/lvsd.log" &
LVSD_PID=$!
disown
wait_for test -S "$LVSD_SOCKET" || { cat "$WORK/lvsd.log"; echo "0 passed, 1 failed"; exit 1; }
for i in 1 2 3; do
    wait_for ip netns exec $P-r$i bash -c "exec 3<>/dev/tcp/127.0.0.1/80"
    wait_for grep -q receiving "$WORK/tunnel$i.log"
done

# curl30 URL: 30 requests; sets r1 r2 r3 (answers per server) and err.
curl30() {
    local i
    r1=0; r2=0; r3=0; err=0
    for i in $(seq 30); do
        case "$(ip netns exec $P-c curl -g -s -m 5 "$1")" in rs1) r1=$((r1+1));; rs2) r2=$((r2+1));; rs3) r3=$((r3+1));; *) err=$((err+1));; esac
    done
}
# split URL LABEL: 30 requests, expects rr 10/10/10 with 0 errors.
split() {
    curl30 "$1"
    [ "$r1 $r2 $r3 $err" = "10 10 10 0" ] && ok "$2: 30 curl requests, rr 10/10/10, 0 errors" \
        || bad "$2 split" "rs1 $r1 rs2 $r2 rs3 $r3 errors $err" "$(tail -3 "$WORK/lvsd.log")"
}
# agent_counters PREFIX LABEL: every server's agent log (WORK/PREFIX{1,2,3}.log) shows IPIP and
# GUE decapsulated and nothing rejected.
agent_counters() {
    local i s summaries="" allgood=1
    for i in 1 2 3; do
        s=$(grep "decapsulated" "$WORK/$1$i.log")
        summaries="$summaries r$i: ${s#lvs-tunnel: }"$'\n'
        echo "$s" | grep -qE "decapsulated [1-9][0-9]* \(ipip [1-9][0-9]*, gue [1-9][0-9]*\), rejected 0" || allgood=0
    done
    [ "$allgood" = 1 ] && ok "$2 decapsulated IPIP and GUE and rejected nothing" || bad "$2 counters" "$summaries"
}
split "http://$LAB_TUN_VIP/" "TUN IPIP"
split "http://$LAB_TUN_VIP:8080/" "TUN GUE (udp/$GUE_PORT, with and without outer checksum)"
split "http://[$LAB_TUN_VIP6]/" "TUN IPv6 (IPv6-in-IPv6 and GUE over IPv6)"

out=$(ip netns exec $P-c wrk -t1 -c10 -d3s --timeout 3s http://$LAB_TUN_VIP/ 2>&1)
reqs=$(echo "$out" | awk '/requests in/ {print $1}')
[ -n "$reqs" ] && [ "$reqs" -gt 500 ] && ! echo "$out" | grep -qE "Socket errors|Non-2xx" \
    && ok "TUN IPIP: wrk keep-alive 3 s, $reqs requests, 0 errors" || bad "TUN wrk" "$out"
out=$(ip netns exec $P-c wrk -t1 -c10 -d3s --timeout 3s -H "Connection: close" http://$LAB_TUN_VIP:8080/ 2>&1)
reqs=$(echo "$out" | awk '/requests in/ {print $1}')
[ -n "$reqs" ] && [ "$reqs" -gt 100 ] && ! echo "$out" | grep -qE "Socket errors|Non-2xx" \
    && ok "TUN GUE: wrk new connection per request 3 s, $reqs requests, 0 errors" || bad "TUN GUE wrk" "$out"

# Bulk download through the tunnel (server to client bypasses the director).
sum=$(ip netns exec $P-c curl -s -m 20 http://$LAB_TUN_VIP:8080/bytes/20000000 | sha256sum | cut -d' ' -f1)
want=$("$BIN/lvs-demo" pattern 20000000 2>/dev/null | sha256sum | cut -d' ' -f1)
[ -n "$sum" ] && [ "$sum" = "$want" ] && ok "TUN GUE: 20 MB download intact" || bad "TUN download" "got $sum want $want"

# The tunnel MTU: client packets of 1500 bytes do not fit 1500 - 20 (IPIP): the director answers
# frag-needed with MTU 1480, the client's PMTU discovery shrinks its segments, the upload completes.
frag_before=$(metric lvs_fragmentation_needed_total)
got=$(ip netns exec $P-c timeout 60 python3 -c '
import socket, sys
s = socket.create_connection(("'$LAB_TUN_VIP'", 9000), timeout=30)
block = bytes(range(256)) * 4096
for _ in range(20): s.sendall(block[:1000000])
s.shutdown(socket.SHUT_WR)
print(s.recv(64).decode())
' 2>&1)
frag=$(metric lvs_fragmentation_needed_total)
frag=${frag:-0}
segmented=$(ip netns exec $P-d curl -s -m 5 http://127.0.0.1:9128/metrics | awk -F' ' '/event="tunnel_segmented"/ {print $2}')
if [ "$got" = 20000000 ] && [ -n "$frag" ] && [ "$frag" -gt "${frag_before:-0}" ]; then
    ok "20 MB upload through IPIP completes after $((frag - ${frag_before:-0})) frag-needed answers (MTU 1480); $segmented super-frames segmented"
else
    bad "TUN frag-needed upload" "received '$got', frag-needed $frag_before -> $frag" "$(tail -3 "$WORK/lvsd.log")"
fi
pmtu=$(ip netns exec $P-c ip route get $LAB_TUN_VIP | grep -o 'mtu [0-9]*')
[ "$pmtu" = "mtu 1480" ] && ok "the client learned the tunnel path MTU for the VIP ($pmtu)" || bad "client PMTU" "$(ip netns exec $P-c ip route get $LAB_TUN_VIP)"
# The same over IPv6: packet-too-big with MTU 1460 (1500 - 40, IPv6-in-IPv6).
got=$(ip netns exec $P-c timeout 60 python3 -c '
import socket
s = socket.create_connection(("'$LAB_TUN_VIP6'", 9000), timeout=30)
block = bytes(range(256)) * 4096
for _ in range(20): s.sendall(block[:1000000])
s.shutdown(socket.SHUT_WR)
print(s.recv(64).decode())
' 2>&1)
frag6=$(metric lvs_fragmentation_needed_total)
pmtu6=$(ip netns exec $P-c ip -6 route get $LAB_TUN_VIP6 | grep -o 'mtu [0-9]*')
if [ "$got" = 20000000 ] && [ "${frag6:-0}" -gt "$frag" ] && [ "$pmtu6" = "mtu 1460" ]; then
    ok "20 MB upload through IPv6-in-IPv6 completes after $((frag6 - frag)) packet-too-big answers (client PMTU: $pmtu6)"
else
    bad "TUN IPv6 packet-too-big upload" "received '$got', frag-needed $frag -> $frag6, $pmtu6"
fi

lab_expect_one_way 9128 TUN

listing=$("$BIN/lvsadm" -L -n)
if echo "$listing" | grep -qE "^  -> 10\.0\.3\.11:80 +Tunnel +1 "; then
    ok "lvsadm -L -n lists the TUN servers as Tunnel"
else
    bad "TUN listing" "$listing"
fi
info=$("$BIN/lvsadm" -L -n --tun-info)
if echo "$info" | grep -qE "10\.0\.3\.12:8080 +Tunnel +gue:$GUE_PORT:\+c " && echo "$info" | grep -qE "10\.0\.3\.11:80 +Tunnel +ipip "; then
    ok "lvsadm -L -n --tun-info shows ipip and gue:$GUE_PORT:+c"
else
    bad "TUN --tun-info" "$info"
fi
# lvsadm -i adds a tunnel server at run time.
if "$BIN/lvsadm" -a -t $LAB_TUN_VIP:8080 -r 10.0.3.99 -i --tun-type gue --tun-port 7000 --tun-nocsum -w 0 \
    && "$BIN/lvsadm" -S -n | grep -q -- "-r 10.0.3.99:8080 -i -w 0 --tun-type gue --tun-port 7000 --tun-nocsum"; then
    ok "lvsadm -a -i --tun-type gue adds a tunnel server; -S saves it with its tunnel options"
else
    bad "lvsadm -i" "$("$BIN/lvsadm" -S -n 2>&1)"
fi

# lvs-tunnel counted what it decapsulated, and rejects nothing the director sent.
for i in 1 2 3; do kill -TERM "$(eval echo \$TUN_PID$i)"; done
sleep 0.5
agent_counters tunnel "lvs-tunnel on every server"

# The same traffic with the agents' XDP path (lvs-tunnel --xdp eth0): decapsulation in the
# driver's receive path, the inner packet straight into the server's stack, no TUN device.
for i in 1 2 3; do
    ip netns exec $P-r$i "$BIN/lvs-tunnel" --xdp eth0 --gue-port $GUE_PORT --director 10.0.3.1 --director fd00:3::1 \
        2> "$WORK/xdp$i.log" &
    eval "XDP_PID$i=$!"
done
xdp_up=1
for i in 1 2 3; do wait_for grep -q receiving "$WORK/xdp$i.log" || xdp_up=0; done
if [ "$xdp_up" = 1 ] && ip netns exec $P-r1 ip link show eth0 | grep -q "prog/xdp"; then
    ok "lvs-tunnel --xdp attached on every server: $(sed 's/^lvs-tunnel: //' "$WORK/xdp1.log")"
else
    bad "lvs-tunnel --xdp attach" "$(cat "$WORK/xdp1.log" "$WORK/xdp2.log" "$WORK/xdp3.log")"
fi
# reach URL LABEL: 30 requests, 0 errors, every server answers. (Not an exact rr split: after the
# wrk runs above, a new connection can reuse a client port whose entry is still in FIN_WAIT on
# the director, which IPVS (conn_reuse_mode 1) sends to the same server again.)
reach() {
    curl30 "$1"
    [ "$err" = 0 ] && [ "$r1" -gt 0 ] && [ "$r2" -gt 0 ] && [ "$r3" -gt 0 ] \
        && ok "$2: 30 curl requests, 0 errors, all servers answered ($r1/$r2/$r3)" \
        || bad "$2" "rs1 $r1 rs2 $r2 rs3 $r3 errors $err" "$(tail -3 "$WORK/lvsd.log")"
}
reach "http://$LAB_TUN_VIP/" "XDP agent, TUN IPIP"
reach "http://$LAB_TUN_VIP:8080/" "XDP agent, TUN GUE"
reach "http://[$LAB_TUN_VIP6]/" "XDP agent, TUN IPv6 (IPv6-in-IPv6 and GUE over IPv6)"
out=$(ip netns exec $P-c wrk -t1 -c10 -d3s --timeout 3s http://$LAB_TUN_VIP:8080/ 2>&1)
reqs=$(echo "$out" | awk '/requests in/ {print $1}')
[ -n "$reqs" ] && [ "$reqs" -gt 500 ] && ! echo "$out" | grep -qE "Socket errors|Non-2xx" \
    && ok "XDP agent, TUN GUE: wrk keep-alive 3 s, $reqs requests, 0 errors" || bad "XDP wrk" "$out"
got=$(ip netns exec $P-c timeout 30 python3 -c '
import socket
s = socket.create_connection(("'$LAB_TUN_VIP'", 9000), timeout=20)
s.sendall(b"x" * 20000000); s.shutdown(socket.SHUT_WR)
print(s.recv(64).decode())' 2>&1)
[ "$got" = 20000000 ] && ok "XDP agent: 20 MB upload through IPIP, all bytes received" || bad "XDP upload" "received '$got'"
for i in 1 2 3; do kill -INT "$(eval echo \$XDP_PID$i)"; done
sleep 0.5
agent_counters xdp "the XDP programs"
if ! ip netns exec $P-r1 ip link show eth0 | grep -q xdp; then
    ok "the XDP program is detached when lvs-tunnel exits"
else
    bad "XDP detach" "$(ip netns exec $P-r1 ip link show eth0)"
fi

# Without privileges: a clear error, exit status 1.
msg=$(ip netns exec $P-r1 setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all --bounding-set=-all \
    "$BIN/lvs-tunnel" --gue-port 6090 2>&1); rc=$?
if [ "$rc" = 1 ] && echo "$msg" | grep -q "needs CAP_NET_ADMIN (run as root)"; then
    ok "lvs-tunnel without privileges fails clearly: $msg"
else
    bad "lvs-tunnel unprivileged" "rc=$rc: $msg"
fi

msg=$(ip netns exec $P-r1 setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all --bounding-set=-all \
    "$BIN/lvs-tunnel" --xdp eth0 2>&1); rc=$?
if [ "$rc" = 1 ] && echo "$msg" | grep -q "needs CAP_BPF and CAP_NET_ADMIN (run as root)"; then
    ok "lvs-tunnel --xdp without privileges fails clearly: $msg"
else
    bad "lvs-tunnel --xdp unprivileged" "rc=$rc: $msg"
fi

kill -TERM $LVSD_PID
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
