#!/usr/bin/env bash
# End-to-end test of Double-NAT (double-nat.md): real servers in two subnets behind a router
# namespace, so the director is NOT their gateway and they have no route to the client network.
# The director rewrites both ends (client -> VIP:vport becomes VIP:vdport -> RIP:rport); servers
# answer the VIP, the router brings the replies back to the director. Needs root.
#   Tests/EndToEnd/doublenat.sh BIN_DIR
#
#   client lvdn-c c0 10.0.3.2/24 --- d0 10.0.3.1/24  lvdn-d (lvsd; VIP 10.0.3.100)
#                                    d1 172.16.30.1/24 --- rt0 172.16.30.2/24  lvdn-rt (router)
#                                                          brA 192.168.21.1/24: lvdn-r1 .11, lvdn-r2 .12
#                                                          brB 192.168.22.1/24: lvdn-r3 .11, lvdn-r4 .12
set -uo pipefail
BIN=${1:?usage: doublenat.sh BIN_DIR}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../../scripts/lab/netns.sh"
P=lvdn
VIP=10.0.3.100
WORK=$(mktemp -d /tmp/lvdn.XXXXXX)
export LVSD_SOCKET=$WORK/lvsd.sock
passed=0
failed=0
down() { lab_down $P; }  # lab_down also removes the router namespace ${P}-rt
cleanup() { down; rm -rf "$WORK"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
ok() { echo "ok   - $1"; passed=$((passed + 1)); }
bad() { echo "FAIL - $1"; shift; for l in "$@"; do echo "       $l"; done; failed=$((failed + 1)); }
metric() { lab_metric 9119 "$1"; }
rip() { case $1 in 1) echo 192.168.21.11;; 2) echo 192.168.21.12;; 3) echo 192.168.22.11;; 4) echo 192.168.22.12;; esac; }

echo "== lab (router namespace, servers in two subnets)"
down
for ns in c d rt r1 r2 r3 r4; do
    ip netns add $P-$ns
    ip -n $P-$ns link set lo up
    ip netns exec $P-$ns sysctl -qw net.ipv6.conf.all.disable_ipv6=1
done
ip netns exec $P-d sysctl -qw net.ipv4.ip_forward=0
ip netns exec $P-rt sysctl -qw net.ipv4.ip_forward=1
ip link add c0 netns $P-c type veth peer name d0 netns $P-d
ip -n $P-c addr add 10.0.3.2/24 dev c0
ip -n $P-d addr add 10.0.3.1/24 dev d0
ip link add d1 netns $P-d type veth peer name rt0 netns $P-rt
ip -n $P-d addr add 172.16.30.1/24 dev d1
ip -n $P-rt addr add 172.16.30.2/24 dev rt0
ip -n $P-rt link add brA type bridge
ip -n $P-rt link add brB type bridge
ip -n $P-rt addr add 192.168.21.1/24 dev brA
ip -n $P-rt addr add 192.168.22.1/24 dev brB
for i in 1 2 3 4; do
    br=brA; gw=192.168.21.1
    [ $i -gt 2 ] && { br=brB; gw=192.168.22.1; }
    ip link add eth0 netns $P-r$i type veth peer name rs$i netns $P-rt
    ip -n $P-r$i addr add "$(rip $i)/24" dev eth0
    ip -n $P-r$i link set eth0 up
    ip -n $P-r$i route add default via $gw
    ip -n $P-rt link set rs$i master $br up
done
for l in c0; do ip -n $P-c link set $l up; done
ip -n $P-d link set d0 up
ip -n $P-d link set d1 up
for l in rt0 brA brB; do ip -n $P-rt link set $l up; done
# The router knows the VIP is behind the director, and nothing about the client network.
ip -n $P-rt route add $VIP/32 via 172.16.30.1

for i in 1 2 3 4; do
    ip netns exec $P-r$i "$BIN/lvs-demo" serve rs$i 8080 & disown
    ip netns exec $P-r$i "$BIN/lvs-demo" udp-echo rs$i 5353 & disown
done
cat > "$WORK/lvsd.yaml" <<YAML
control_socket: $LVSD_SOCKET
metrics_listen: 127.0.0.1:9119
interfaces: [d0, d1]
gateway: 172.16.30.2
timeouts: {tcpfin: 2, time_wait: 2, close: 2}
services:
  - protocol: tcp
    address: $VIP
    port: 80
    scheduler: rr
    vdport_range: 20000-29999
    real_servers:
      - {address: $(rip 1), port: 8080, method: doublenat}
      - {address: $(rip 2), port: 8080, method: doublenat}
      - {address: $(rip 3), port: 8080, method: doublenat}
      - {address: $(rip 4), port: 8080, method: doublenat}
  - protocol: udp
    address: $VIP
    port: 53
    scheduler: rr
    real_servers:
      - {address: $(rip 1), port: 5353, method: doublenat}
      - {address: $(rip 2), port: 5353, method: doublenat}
      - {address: $(rip 3), port: 5353, method: doublenat}
      - {address: $(rip 4), port: 5353, method: doublenat}
  - protocol: udp
    address: $VIP
    port: 54
    scheduler: rr
    real_servers:
      - {address: $(rip 3), port: 5454, method: doublenat}
YAML
ip netns exec $P-d "$BIN/lvsd" -f "$WORK/lvsd.yaml" 2> "$WORK/lvsd.log" &
LVSD_PID=$!
disown
wait_for test -S "$LVSD_SOCKET" || { cat "$WORK/lvsd.log"; echo "0 passed, 1 failed"; exit 1; }
for i in 1 2 3 4; do wait_for ip netns exec $P-r$i bash -c "exec 3<>/dev/tcp/127.0.0.1/8080"; done

if ! ip netns exec $P-r1 ip route get 10.0.3.2 2>/dev/null | grep -q "via 192.168.21.1" \
    || ip netns exec $P-rt ip route get 10.0.3.2 >/dev/null 2>&1; then
    bad "lab: the servers must not reach the client network" "$(ip netns exec $P-rt ip route)"
else
    ok "lab: servers route via the router, which has no route to the client network"
fi

echo "== Double-NAT"
r1=0; r2=0; r3=0; r4=0; err=0
for i in $(seq 40); do
    case "$(ip netns exec $P-c curl -s -m 5 http://$VIP/)" in
        rs1) r1=$((r1+1));; rs2) r2=$((r2+1));; rs3) r3=$((r3+1));; rs4) r4=$((r4+1));; *) err=$((err+1));;
    esac
done
[ "$r1 $r2 $r3 $r4 $err" = "10 10 10 10 0" ] && ok "40 curl requests across two subnets, rr 10/10/10/10, 0 errors" \
    || bad "Double-NAT split" "rs1 $r1 rs2 $r2 rs3 $r3 rs4 $r4 errors $err" "$(tail -3 "$WORK/lvsd.log")"

# While a keep-alive load runs, the servers see the VIP (with a vdport from the range) as their peer.
ip netns exec $P-c wrk -t1 -c16 -d4s --timeout 3s http://$VIP/ > "$WORK/wrk.out" 2>&1 &
WRK=$!
sleep 2
# (the server's socket is dual-stack: peers print as [::ffff:a.b.c.d]:port)
peers=$(ip netns exec $P-r3 ss -Htn state established "( sport = :8080 )" | awk '{print $4}' \
    | sed -e 's/^\[::ffff://' -e 's/\]:/:/' | sort -u)
wait $WRK
out=$(cat "$WORK/wrk.out")
reqs=$(echo "$out" | awk '/requests in/ {print $1}')
[ -n "$reqs" ] && [ "$reqs" -gt 500 ] && ! echo "$out" | grep -qE "Socket errors|Non-2xx" \
    && ok "wrk keep-alive 4 s, 16 connections, $reqs requests, 0 errors" || bad "Double-NAT wrk" "$out"
bad_peers=$(echo "$peers" | grep -v '^$' | awk -F: '$1 != "'$VIP'" || $2 < 20000 || $2 > 29999')
if [ -n "$peers" ] && [ -z "$bad_peers" ]; then
    ok "rs3 (other subnet) sees only $VIP:vdport peers, vdports within 20000-29999 ($(echo "$peers" | wc -l) connections)"
else
    bad "server-side peers" "peers: $(echo $peers)" "unexpected: $bad_peers"
fi

out=$(ip netns exec $P-c "$BIN/lvs-demo" udp-client $VIP 53 40)
if echo "$out" | grep -q "failures 0" && [ "$(echo "$out" | grep -c '^answers rs[1234] 10$')" = 4 ]; then
    ok "UDP: 40 datagrams, rr over 4 servers in two subnets: $(echo $out)"
else
    bad "UDP Double-NAT" "$out"
fi
# Nothing listens on rs3:5454: its port-unreachable goes to VIP:vdport, through the router, and is
# translated back to the client as about its own datagram to VIP:54.
out=$(ip netns exec $P-c "$BIN/lvs-demo" udp-probe $VIP 54)
[ "$out" = "refused" ] && ok "ICMP port-unreachable from a server behind the router reaches the client" \
    || bad "Double-NAT ICMP error" "$out"

to_client=$(metric 'lvs_forwarded_frames_total{direction="to_client"}')
to_rs=$(metric 'lvs_forwarded_frames_total{direction="to_real_server"}')
if [ -n "$to_client" ] && [ "$to_client" -gt 1000 ] && [ "$to_rs" -gt 1000 ]; then
    ok "replies come back through the director: $to_rs frames to servers, $to_client to clients"
else
    bad "frame counts" "to_real_server=$to_rs to_client=$to_client"
fi
exhausted=$(metric 'lvs_drops_total{reason="ports_exhausted"}')
[ "$exhausted" = 0 ] && ok "no vdport exhaustion (ports_exhausted drops: 0)" || bad "ports_exhausted" "$exhausted"

listing=$("$BIN/lvsadm" -L -n)
if [ "$(echo "$listing" | grep -cE '^  -> 192\.168\.2[12]\.1[12]:8080 +DblNat +1 ')" = 4 ]; then
    ok "lvsadm -L lists the four servers as DblNat"
else
    bad "listing" "$listing"
fi
saved=$("$BIN/lvsadm" -S -n)
if echo "$saved" | grep -q -- "--vdport-range 20000-29999" && echo "$saved" | grep -q -- "-r 192.168.22.12:8080 --double-nat"; then
    ok "lvsadm -S writes --vdport-range and --double-nat"
else
    bad "save" "$saved"
fi
# A server added with lvsadm --double-nat takes traffic like the configured ones.
"$BIN/lvsadm" -d -t $VIP:80 -r $(rip 4):8080
"$BIN/lvsadm" -a -t $VIP:80 -r $(rip 4):8080 --double-nat
seen=$(for i in $(seq 8); do ip netns exec $P-c curl -s -m 5 http://$VIP/; echo; done | grep . | sort | uniq -c | awk '{print $2"="$1}' | tr '\n' ' ')
[ "$seen" = "rs1=2 rs2=2 rs3=2 rs4=2 " ] && ok "server re-added with lvsadm --double-nat serves: $seen" || bad "lvsadm --double-nat" "$seen"

kill -TERM $LVSD_PID
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
