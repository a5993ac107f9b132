#!/usr/bin/env bash
# End-to-end test of FULLNAT: real servers in two subnets behind a router namespace that knows
# neither the VIP nor the client network. The director rewrites both ends (client -> VIP:vport
# becomes LIP:lport -> RIP:rport, LIPs from the service's local_addresses); the servers answer the
# LIP, which sits on the director-router link, so replies come back without any route to the VIP
# or the client. PROXY protocol v2 (client_address: proxy_v2): nginx `listen ... proxy_protocol`
# logs the real client address; a 20 MB download through nginx and a 20 MB upload to a small
# PROXY-v2-parsing python server stay intact (sequence shift over many segments). TOA
# (client_address: toa): a raw-socket capture in the server's namespace shows option 254 with the
# client's address on the first ACK after the handshake. Needs root.
#   Tests/EndToEnd/fullnat.sh BIN_DIR
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
down() { lab_down $P; }  # lab_down also removes the router namespace ${P}-rt
cleanup() { down; rm -rf "$WORK"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
ok() { echo "ok   - $1"; passed=$((passed + 1)); }
bad() { echo "FAIL - $1"; shift; for l in "$@"; do echo "       $l"; done; failed=$((failed + 1)); }
metric() { lab_metric 9120 "$1"; }
rip() { case $1 in 1) echo 192.168.31.11;; 2) echo 192.168.31.12;; 3) echo 192.168.32.11;; 4) echo 192.168.32.12;; esac; }

echo "== lab (router namespace without routes to the VIP or the clients)"
down
for ns in c d rt r1 r2 r3 r4 r5; do
    ip netns add $P-$ns
    ip -n $P-$ns link set lo up
    v6=1
    case $ns in c|d|rt|r5) v6=0;; esac
    ip netns exec $P-$ns sysctl -qw net.ipv6.conf.all.disable_ipv6=$v6
    ip netns exec $P-$ns sysctl -qw net.ipv6.conf.default.disable_ipv6=$v6
done
ip netns exec $P-d sysctl -qw net.ipv6.conf.all.forwarding=0
ip netns exec $P-d sysctl -qw net.ipv4.ip_forward=0
ip netns exec $P-rt sysctl -qw net.ipv4.ip_forward=1
ip link add c0 netns $P-c type veth peer name d0 netns $P-d
ip -n $P-c addr add 10.0.4.2/24 dev c0
ip -n $P-d addr add 10.0.4.1/24 dev d0
ip -n $P-c addr add fd00:4::2/64 dev c0 nodad
ip -n $P-d addr add fd00:4::1/64 dev d0 nodad
ip link add d1 netns $P-d type veth peer name rt0 netns $P-rt
ip -n $P-d addr add 172.16.40.1/24 dev d1
ip -n $P-d addr add fd00:40::1/64 dev d1 nodad
# The director-router link is a bridge in the router namespace, so an IPv6 server (rs5) can sit
# on it with its default route via the router, not the director.
ip -n $P-rt link add brL type bridge
ip -n $P-rt link set rt0 master brL up
ip -n $P-rt addr add 172.16.40.2/24 dev brL
ip -n $P-rt addr add fd00:40::2/64 dev brL nodad
ip netns exec $P-rt sysctl -qw net.ipv6.conf.all.forwarding=1
ip link add eth0 netns $P-r5 type veth peer name rs5 netns $P-rt
ip -n $P-r5 addr add fd00:40::5/64 dev eth0 nodad
ip -n $P-r5 link set eth0 up
ip -n $P-r5 -6 route add default via fd00:40::2
ip -n $P-rt link set rs5 master brL up
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
for l in rt0 brL brA brB; do ip -n $P-rt link set $l up; done

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
  - protocol: tcp
    address: $VIP
    port: 81
    scheduler: rr
    local_addresses: [$LIP2]
    client_address: proxy_v2
    real_servers:
      - {address: $(rip 1), port: 8081, method: fullnat}
      - {address: $(rip 3), port: 8081, method: fullnat}
  - protocol: tcp
    address: $VIP
    port: 82
    scheduler: rr
    local_addresses: [$LIP1]
    client_address: proxy_v2
    real_servers:
      - {address: $(rip 2), port: 8082, method: fullnat}
  - protocol: tcp
    address: $VIP
    port: 83
    scheduler: rr
    local_addresses: [$LIP1]
    client_address: toa
    real_servers:
      - {address: $(rip 4), port: 8083, method: fullnat}
  - protocol: tcp
    address: fd00:4::100
    port: 80
    scheduler: rr
    local_addresses: [fd00:40::10]
    real_servers:
      - {address: fd00:40::5, port: 8080, method: fullnat}
YAML
ip netns exec $P-r4 "$BIN/lvs-demo" serve rs4-toa 8083 & disown
ip netns exec $P-r5 "$BIN/lvs-demo" serve rs5-v6 8080 & disown
# nginx (PROXY v2 on 8081) on rs1 and rs3, each with its own prefix, pid and logs; a 20 MB file.
mkdir -p "$WORK/www"
head -c 20000000 /dev/urandom > "$WORK/www/big.bin"
for i in 1 3; do
    mkdir -p "$WORK/nginx$i/tmp"
    cat > "$WORK/nginx$i/nginx.conf" <<NGINX
user root;
worker_processes 1;
pid $WORK/nginx$i/nginx.pid;
error_log $WORK/nginx$i/error.log;
events { worker_connections 256; }
http {
    log_format pp '\$proxy_protocol_addr:\$proxy_protocol_port \$remote_addr \$status \$body_bytes_sent \$request';
    access_log $WORK/nginx$i/access.log pp;
    client_body_temp_path $WORK/nginx$i/tmp/body;
    proxy_temp_path $WORK/nginx$i/tmp/proxy;
    fastcgi_temp_path $WORK/nginx$i/tmp/fastcgi;
    uwsgi_temp_path $WORK/nginx$i/tmp/uwsgi;
    scgi_temp_path $WORK/nginx$i/tmp/scgi;
    server {
        listen 8081 proxy_protocol;
        root $WORK/www;
        location = /who { default_type text/plain; return 200 "rs$i \$proxy_protocol_addr:\$proxy_protocol_port\n"; }
    }
}
NGINX
    ip netns exec $P-r$i /usr/sbin/nginx -p "$WORK/nginx$i" -c "$WORK/nginx$i/nginx.conf" -g 'daemon off;' \
        2> "$WORK/nginx$i/stderr" & disown
done
# A PROXY v2 HTTP server on rs2:8082 that answers POSTs with the client address it was told and
# the MD5 of the body it received.
cat > "$WORK/ppserver.py" <<'PY'
import hashlib, socket, struct, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 8082)); s.listen(16)
def read(c, n, buf):
    while len(buf) < n:
        d = c.recv(65536)
        if not d: raise EOFError
        buf += d
    return buf
while True:
    c, peer = s.accept()
    try:
        buf = read(c, 16, b"")
        assert buf[:12] == b"\r\n\r\n\x00\r\nQUIT\n" and buf[12] == 0x21 and buf[13] == 0x11, buf[:16]
        n = struct.unpack("!H", buf[14:16])[0]
        buf = read(c, 16 + n, buf)
        src = socket.inet_ntoa(buf[16:20]); sport = struct.unpack("!H", buf[24:26])[0]
        buf = buf[16 + n:]
        while b"\r\n\r\n" not in buf: buf = read(c, len(buf) + 1, buf)
        head, body = buf.split(b"\r\n\r\n", 1)
        length = 0
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length": length = int(v)
        body = read(c, length, body)
        out = ("%s:%d %d %s\n" % (src, sport, len(body), hashlib.md5(body).hexdigest())).encode()
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(out) + out)
    except Exception as e:
        print("error", peer, e, file=sys.stderr, flush=True)
    finally:
        c.close()
PY
ip netns exec $P-r2 python3 "$WORK/ppserver.py" 2> "$WORK/ppserver.err" & disown
ip netns exec $P-d "$BIN/lvsd" -f "$WORK/lvsd.yaml" 2> "$WORK/lvsd.log" &
LVSD_PID=$!
disown
wait_for test -S "$LVSD_SOCKET" || { cat "$WORK/lvsd.log"; echo "0 passed, 1 failed"; exit 1; }
for i in 1 2 3 4; do wait_for ip netns exec $P-r$i bash -c "exec 3<>/dev/tcp/127.0.0.1/8080"; done
for i in 1 3; do wait_for ip netns exec $P-r$i bash -c "exec 3<>/dev/tcp/127.0.0.1/8081"; done
wait_for ip netns exec $P-r2 bash -c "exec 3<>/dev/tcp/127.0.0.1/8082"
wait_for ip netns exec $P-r4 bash -c "exec 3<>/dev/tcp/127.0.0.1/8083"
wait_for ip netns exec $P-r5 bash -c "exec 3<>/dev/tcp/127.0.0.1/8080"

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

echo "== PROXY protocol v2"
who=$(for i in 1 2 3 4; do ip netns exec $P-c curl -s -m 5 http://$VIP:81/who; done)
if [ "$(echo "$who" | grep -cE '^rs[13] 10\.0\.4\.2:[0-9]+$')" = 4 ] && echo "$who" | grep -q '^rs1 ' && echo "$who" | grep -q '^rs3 '; then
    ok "nginx (listen ... proxy_protocol) on rs1 and rs3 sees the real client: $(echo $who)"
else
    bad "nginx PROXY v2" "$who" "$(cat "$WORK"/nginx*/error.log 2>/dev/null | tail -3)"
fi
logged=$(cat "$WORK/nginx1/access.log" "$WORK/nginx3/access.log" 2>/dev/null | awk '{print $1, $2}' | sort -u)
if [ -n "$logged" ] && ! echo "$logged" | grep -vqE "^10\.0\.4\.2:[0-9]+ $LIP2$"; then
    ok "nginx access logs: \$proxy_protocol_addr = 10.0.4.2, \$remote_addr = the LIP $LIP2"
else
    bad "nginx access log" "$logged"
fi
want=$(md5sum < "$WORK/www/big.bin" | cut -d' ' -f1)
got=$(ip netns exec $P-c curl -s -m 60 http://$VIP:81/big.bin | md5sum | cut -d' ' -f1)
[ "$got" = "$want" ] && ok "20 MB download through PROXY v2 intact (md5 $want)" || bad "PROXY v2 download" "got md5 $got want $want"
ans=$(ip netns exec $P-c curl -s -m 60 --data-binary @"$WORK/www/big.bin" -H "Expect:" http://$VIP:82/upload)
read -r told len sum <<< "$ans"
if [[ "$told" == 10.0.4.2:* ]] && [ "$len" = 20000000 ] && [ "$sum" = "$want" ]; then
    ok "20 MB upload through PROXY v2 intact, the server was told client $told (md5 $sum)"
else
    bad "PROXY v2 upload" "answer: $ans" "want: 10.0.4.2:PORT 20000000 $want" "$(tail -3 "$WORK/ppserver.err")"
fi
load=$(ip netns exec $P-c wrk -t1 -c8 -d3s --timeout 3s http://$VIP:81/who 2>&1)
lreqs=$(echo "$load" | awk '/requests in/ {print $1}')
[ -n "$lreqs" ] && [ "$lreqs" -gt 300 ] && ! echo "$load" | grep -qE "Socket errors|Non-2xx" \
    && ok "wrk against nginx over PROXY v2: $lreqs requests, 0 errors" || bad "PROXY v2 wrk" "$load"
room=$(metric 'lvs_drops_total{reason="no_room_for_header"}')
[ "$room" = 0 ] && ok "no frame lacked room for the header (no_room_for_header: 0)" || bad "no_room_for_header" "$room"

echo "== IPv6 FULLNAT"
n6=0
for i in $(seq 10); do [ "$(ip netns exec $P-c curl -s -m 5 "http://[fd00:4::100]/")" = rs5-v6 ] && n6=$((n6+1)); done
ip netns exec $P-c wrk -t1 -c8 -d3s --timeout 3s "http://[fd00:4::100]/" > "$WORK/wrk6.out" 2>&1 &
WRK6=$!
sleep 1.5
peers6=$(ip netns exec $P-r5 ss -Htn state established "( sport = :8080 )" | awk '{print $4}' | sort -u)
wait $WRK6
out6=$(cat "$WORK/wrk6.out")
reqs6=$(echo "$out6" | awk '/requests in/ {print $1}')
[ "$n6" = 10 ] && ok "IPv6: 10 curl requests to [fd00:4::100] answered by rs5 over FULLNAT" || bad "IPv6 FULLNAT curl" "$n6/10"
[ -n "$reqs6" ] && [ "$reqs6" -gt 300 ] && ! echo "$out6" | grep -qE "Socket errors|Non-2xx" \
    && ok "IPv6: wrk 3 s, $reqs6 requests, 0 errors" || bad "IPv6 FULLNAT wrk" "$out6"
if [ -n "$peers6" ] && ! echo "$peers6" | grep -vq '^\[fd00:40::10\]:'; then
    ok "IPv6: rs5 (default route via the router) sees only the LIP [fd00:40::10] as its peer"
else
    bad "IPv6 peers" "$peers6"
fi

echo "== TOA"
# The server cannot read TOA without a kernel module: a raw-socket sniffer on rs4's eth0 reports
# the TCP options of segments to port 8083 (the first one after the SYN must carry kind 254).
cat > "$WORK/sniff.py" <<'PY'
import socket, struct, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
s.bind(("eth0", 0)); s.settimeout(0.5)
open(sys.argv[1], "w").close()
end = time.time() + 8
while time.time() < end:
    try: f = s.recv(65535)
    except socket.timeout: continue
    ip = f[14:]
    if ip[9] != 6: continue
    tcp = ip[(ip[0] & 15) * 4:]
    if struct.unpack("!H", tcp[2:4])[0] != 8083: continue
    flags = tcp[13]; doff = (tcp[12] >> 4) * 4; o = 20; found = None
    while o < doff:
        k = tcp[o]
        if k == 0: break
        if k == 1: o += 1; continue
        l = tcp[o + 1]
        if k == 254 and l == 8: found = "%s:%d" % (socket.inet_ntoa(tcp[o + 4:o + 8]), struct.unpack("!H", tcp[o + 2:o + 4])[0])
        o += max(l, 2)
    kind = "syn" if flags & 2 else "ack" if flags & 16 else "other"
    print(kind, "toa=" + (found or "none"), flush=True)
    if kind == "ack": break
PY
ip netns exec $P-r4 python3 "$WORK/sniff.py" "$WORK/sniff.ready" > "$WORK/sniff.out" 2>&1 &
SNIFF=$!
wait_for test -e "$WORK/sniff.ready"
toaout=$(ip netns exec $P-c curl -s -m 5 http://$VIP:83/)
wait $SNIFF
sn=$(cat "$WORK/sniff.out")
first_syn=$(echo "$sn" | grep -m1 '^syn')
first_ack=$(echo "$sn" | grep -m1 '^ack')
if [ "$toaout" = rs4-toa ] && [ "$first_syn" = "syn toa=none" ] && [[ "$first_ack" == "ack toa=10.0.4.2:"* ]]; then
    ok "TOA: the SYN has none, the first ACK after the handshake carries option 254 = ${first_ack#ack toa=} (curl answered $toaout)"
else
    bad "TOA" "curl: $toaout" "$sn"
fi

listing=$("$BIN/lvsadm" -L -n)
if [ "$(echo "$listing" | grep -cE '^  -> 192\.168\.3[12]\.1[12]:8080 +FullNat +1 ')" = 4 ]; then
    ok "lvsadm -L lists the four servers as FullNat"
else
    bad "listing" "$listing"
fi
saved=$("$BIN/lvsadm" -S -n)
if echo "$saved" | grep -q -- "--laddr $LIP1,$LIP2" && echo "$saved" | grep -q -- "-r $(rip 4):8080 --fullnat" \
    && echo "$saved" | grep -q -- "--laddr $LIP2 --client-address proxy_v2"; then
    ok "lvsadm -S writes --laddr, --client-address and --fullnat"
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
