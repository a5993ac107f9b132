#!/usr/bin/env bash
# End-to-end test of FULLNAT: real servers in two subnets behind a router namespace that knows
# neither the VIP nor the client network. The director rewrites both ends (client -> VIP:vport
# becomes LIP:lport -> RIP:rport, LIPs from the service's local_addresses); the servers answer the
# LIP, which sits on the director-router link, so replies come back without any route to the VIP
# or the client. Needs root.   Tests/EndToEnd/fullnat.sh BIN_DIR
#
#   client lvfn-c c0 10.0.4.2/24 --- d0 10.0.4.1/24  lvfn-d (lvsd; VIP 10.0.4.100)
#                                    d1 172.16.40.1/24 (LIPs .10 .11 owned by the data plane)
#                                       --- rt0 172.16.40.2/24  lvfn-rt (router)
#                                           brA 192.168.31.1/24: lvfn-r1 .11, lvfn-r2 .12
#                                           brB 192.168.32.1/24: lvfn-r3 .11, lvfn-r4 .12
set -uo pipefail
BIN=${1:?usage: fullnat.sh BIN_DIR}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../../scripts/lab/netns.sh"
P=lvfn
VIP=10.0.4.100
LIP1=172.16.40.10
LIP2=172.16.40.11
WORK=$(mktemp -d /tmp/lvfn.XXXXXX)
export LVSD_SOCKET=$WORK/lvsd.sock
passed=0
failed=0
down() {
    local ns
    for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^$P-(c|d|rt|r[0-9]+)$"); do
        ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
        ip netns del "$ns" 2>/dev/null
    done
    return 0
}
cleanup() { down; rm -rf "$WORK"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
ok() { echo "ok   - $1"; passed=$((passed + 1)); }
bad() { echo "FAIL - $1"; shift; for l in "$@"; do echo "       $l"; done; failed=$((failed + 1)); }
metric() { ip netns exec $P-d curl -s -m 5 http://127.0.0.1:9120/metrics | awk -v k="$1" 'index($0, k) == 1 {print $2}'; }
rip() { case $1 in 1) echo 192.168.31.11;; 2) echo 192.168.31.12;; 3) echo 192.168.32.11;; 4) echo 192.168.32.12;; esac; }

echo "== lab (router namespace without routes to the VIP or the clients)"
down
for ns in c d rt r1 r2 r3 r4; do
    ip netns add $P-$ns
    ip -n $P-$ns link set lo up
    ip netns exec $P-$ns sysctl -qw net.ipv6.conf.all.disable_ipv6=1
done
ip netns exec $P-d sysctl -qw net.ipv4.ip_forward=0
ip netns exec $P-rt sysctl -qw net.ipv4.ip_forward=1
ip link add c0 netns $P-c type veth peer name d0 netns $P-d
ip -n $P-c addr add 10.0.4.2/24 dev c0
ip -n $P-d addr add 10.0.4.1/24 dev d0
ip link add d1 netns $P-d type veth peer name rt0 netns $P-rt
ip -n $P-d addr add 172.16.40.1/24 dev d1
ip -n $P-rt addr add 172.16.40.2/24 dev rt0
ip -n $P-rt link add brA type bridge
ip -n $P-rt link add brB type bridge
ip -n $P-rt addr add 192.168.31.1/24 dev brA
ip -n $P-rt addr add 192.168.32.1/24 dev brB
for i in 1 2 3 4; do
    br=brA; gw=192.168.31.1
    [ $i -gt 2 ] && { br=brB; gw=192.168.32.1; }
    ip link add eth0 netns $P-r$i type veth peer name rs$i netns $P-rt
    ip -n $P-r$i addr add "$(rip $i)/24" dev eth0
    ip -n $P-r$i link set eth0 up
    ip -n $P-r$i route add default via $gw
    ip -n $P-rt link set rs$i master $br up
done
ip -n $P-c link set c0 up
ip -n $P-d link set d0 up
ip -n $P-d link set d1 up
for l in rt0 brA brB; do ip -n $P-rt link set $l up; done

for i in 1 2 3 4; do
    ip netns exec $P-r$i "$BIN/lvs-demo" serve rs$i 8080 & disown
    ip netns exec $P-r$i "$BIN/lvs-demo" udp-echo rs$i 5353 & disown
done
cat > "$WORK/lvsd.yaml" <<YAML
control_socket: $LVSD_SOCKET
metrics_listen: 127.0.0.1:9120
interfaces: [d0, d1]
gateway: 172.16.40.2
timeouts: {tcpfin: 2, time_wait: 2, close: 2}
services:
  - protocol: tcp
    address: $VIP
    port: 80
    scheduler: rr
    local_addresses: [$LIP1, $LIP2]
    vdport_range: 30000-39999
    real_servers:
      - {address: $(rip 1), port: 8080, method: fullnat}
      - {address: $(rip 2), port: 8080, method: fullnat}
      - {address: $(rip 3), port: 8080, method: fullnat}
      - {address: $(rip 4), port: 8080, method: fullnat}
  - protocol: udp
    address: $VIP
    port: 53
    scheduler: rr
    local_addresses: [$LIP1]
    real_servers:
      - {address: $(rip 1), port: 5353, method: fullnat}
      - {address: $(rip 3), port: 5353, method: fullnat}
YAML
ip netns exec $P-d "$BIN/lvsd" -f "$WORK/lvsd.yaml" 2> "$WORK/lvsd.log" &
LVSD_PID=$!
disown
wait_for test -S "$LVSD_SOCKET" || { cat "$WORK/lvsd.log"; echo "0 passed, 1 failed"; exit 1; }
for i in 1 2 3 4; do wait_for ip netns exec $P-r$i bash -c "exec 3<>/dev/tcp/127.0.0.1/8080"; done

if ip netns exec $P-rt ip route get $VIP >/dev/null 2>&1 || ip netns exec $P-rt ip route get 10.0.4.2 >/dev/null 2>&1; then
    bad "lab: the router must know neither the VIP nor the clients" "$(ip netns exec $P-rt ip route)"
else
    ok "lab: the router has no route to the VIP or the client network (the director is not the servers' gateway)"
fi

echo "== FULLNAT"
r1=0; r2=0; r3=0; r4=0; err=0
for i in $(seq 40); do
    case "$(ip netns exec $P-c curl -s -m 5 http://$VIP/)" in
        rs1) r1=$((r1+1));; rs2) r2=$((r2+1));; rs3) r3=$((r3+1));; rs4) r4=$((r4+1));; *) err=$((err+1));;
    esac
done
[ "$r1 $r2 $r3 $r4 $err" = "10 10 10 10 0" ] && ok "40 curl requests across two subnets, rr 10/10/10/10, 0 errors" \
    || bad "FULLNAT split" "rs1 $r1 rs2 $r2 rs3 $r3 rs4 $r4 errors $err" "$(tail -3 "$WORK/lvsd.log")"

ip netns exec $P-c wrk -t1 -c16 -d4s --timeout 3s http://$VIP/ > "$WORK/wrk.out" 2>&1 &
WRK=$!
sleep 2
peers=$(for i in 1 2 3 4; do ip netns exec $P-r$i ss -Htn state established "( sport = :8080 )" | awk '{print $4}'; done \
    | sed -e 's/^\[::ffff://' -e 's/\]:/:/' | sort -u)
wait $WRK
out=$(cat "$WORK/wrk.out")
reqs=$(echo "$out" | awk '/requests in/ {print $1}')
[ -n "$reqs" ] && [ "$reqs" -gt 500 ] && ! echo "$out" | grep -qE "Socket errors|Non-2xx" \
    && ok "wrk keep-alive 4 s, 16 connections, $reqs requests, 0 errors" || bad "FULLNAT wrk" "$out"
lips_seen=$(echo "$peers" | grep -v '^$' | cut -d: -f1 | sort -u | tr '\n' ' ')
bad_peers=$(echo "$peers" | grep -v '^$' | awk -F: '($1 != "'$LIP1'" && $1 != "'$LIP2'") || $2 < 30000 || $2 > 39999')
if [ "$lips_seen" = "$LIP1 $LIP2 " ] && [ -z "$bad_peers" ]; then
    ok "servers see only LIP:lport peers, both LIPs in use, lports within 30000-39999 ($(echo "$peers" | grep -c .) connections)"
else
    bad "server-side peers" "LIPs seen: $lips_seen" "unexpected: $bad_peers"
fi

out=$(ip netns exec $P-c "$BIN/lvs-demo" udp-client $VIP 53 20)
if echo "$out" | grep -q "failures 0" && [ "$(echo "$out" | grep -c '^answers rs[13] 10$')" = 2 ]; then
    ok "UDP: 20 datagrams over FULLNAT, rr 10/10: $(echo $out)"
else
    bad "UDP FULLNAT" "$out"
fi

to_client=$(metric 'lvs_forwarded_frames_total{direction="to_client"}')
to_rs=$(metric 'lvs_forwarded_frames_total{direction="to_real_server"}')
if [ -n "$to_client" ] && [ "$to_client" -gt 1000 ] && [ "$to_rs" -gt 1000 ]; then
    ok "replies come back to the LIPs through the director: $to_rs frames to servers, $to_client to clients"
else
    bad "frame counts" "to_real_server=$to_rs to_client=$to_client"
fi

listing=$("$BIN/lvsadm" -L -n)
if [ "$(echo "$listing" | grep -cE '^  -> 192\.168\.3[12]\.1[12]:8080 +FullNat +1 ')" = 4 ]; then
    ok "lvsadm -L lists the four servers as FullNat"
else
    bad "listing" "$listing"
fi
saved=$("$BIN/lvsadm" -S -n)
if echo "$saved" | grep -q -- "--laddr $LIP1,$LIP2" && echo "$saved" | grep -q -- "-r $(rip 4):8080 --fullnat"; then
    ok "lvsadm -S writes --laddr and --fullnat"
else
    bad "save" "$saved"
fi
"$BIN/lvsadm" -d -t $VIP:80 -r $(rip 4):8080
"$BIN/lvsadm" -a -t $VIP:80 -r $(rip 4):8080 --fullnat
seen=$(for i in $(seq 8); do ip netns exec $P-c curl -s -m 5 http://$VIP/; echo; done | grep . | sort | uniq -c | awk '{print $2"="$1}' | tr '\n' ' ')
[ "$seen" = "rs1=2 rs2=2 rs3=2 rs4=2 " ] && ok "server re-added with lvsadm --fullnat serves: $seen" || bad "lvsadm --fullnat" "$seen"

kill -TERM $LVSD_PID
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
