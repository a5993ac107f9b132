#!/usr/bin/env bash
# End-to-end tests of health checking (docs/HEALTH.md) in the NAT lab, with lvsd reading a
# keepalived.conf: HTTP_GET failure detection under load (detection time and failed requests
# after detection are printed), inhibit_on_failure, sorry_server, MISC_CHECK misc_dynamic and the
# agent check changing weights, lvsadm --health and the metrics. Needs root.
#   Tests/EndToEnd/health.sh BIN_DIR      (BIN_DIR holds lvsd, lvsadm and lvs-demo)
# Ends with "N passed, M failed"; exits non-zero when anything failed. The lab is removed on
# every exit path.
set -uo pipefail
BIN=${1:?usage: health.sh BIN_DIR}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../../scripts/lab/netns.sh"

P=lvhc
WORK=$(mktemp -d /tmp/lvhc.XXXXXX)
export LVSD_SOCKET=$WORK/lvsd.sock
passed=0
failed=0
cleanup() { lab_down $P; [ -n "${LVHC_KEEP_LOG:-}" ] && cp "$WORK/lvsd.log" "$LVHC_KEEP_LOG"; rm -rf "$WORK"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

ok() { echo "ok   - $1"; passed=$((passed + 1)); }
bad() { echo "FAIL - $1"; shift; for l in "$@"; do echo "       $l"; done; failed=$((failed + 1)); }
inc() { ip netns exec $P-c "$@"; }
lvsadm() { "$BIN/lvsadm" "$@"; }
now_ms() { date +%s%3N; }
RS1=$(lab_server_ip 1); RS2=$(lab_server_ip 2); RS3=$(lab_server_ip 3)
# serve I PORT: an HTTP server answering "rsI" in server I's namespace; prints its PID.
serve() { ip netns exec $P-r$1 "$BIN/lvs-demo" serve rs$1 $2 >/dev/null 2>&1 & echo $!; }
# server_line PORT RS: the listing line of real server RS:... in the service VIP:PORT.
server_line() { lvsadm -L -n | awk -v vs="$LAB_VIP:$1" -v rs="$2" '/^(TCP|UDP) / {cur=$2} cur==vs && $2==rs {print}'; }
# wait_ms MAX_MS COMMAND...: retries every 20 ms.
wait_ms() {
    local max=$1 end; shift
    end=$(( $(now_ms) + max ))
    while [ "$(now_ms)" -lt "$end" ]; do "$@" >/dev/null 2>&1 && return 0; sleep 0.02; done
    return 1
}
absent() { [ -z "$(server_line "$1" "$2")" ]; }
present() { [ -n "$(server_line "$1" "$2")" ]; }
# weight_is PORT RS W: RS is in the service's table with weight W (false when it is absent).
weight_is() { server_line "$1" "$2" | awk -v w="$3" 'BEGIN {r = 1} $4 == w {r = 0} END {exit r}'; }

echo "== lab"
lab_up $P 3
declare -A PID
for i in 1 2 3; do
    PID[$i-8080]=$(serve $i 8080)
    PID[$i-8081]=$(serve $i 8081)
done
PID[1-8082]=$(serve 1 8082)
PID[2-8082]=$(serve 2 8082)
echo 7 > "$WORK/misc.rc"
echo "up 50%" > "$WORK/agent.txt"
# The agent: answers the current line of agent.txt to each connection (HAProxy agent-check).
ip netns exec $P-r2 python3 -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 9999)); s.listen(16)
while True:
    c, _ = s.accept()
    try: c.sendall(open(sys.argv[1]).read().strip().encode() + b"\n")
    finally: c.close()
' "$WORK/agent.txt" >/dev/null 2>&1 &
PID[agent]=$!
disown

# An HTTPS server on rs1:8443 (self-signed; SSL_GET does not verify certificates).
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/tls.key" -out "$WORK/tls.crt" -days 1 -subj /CN=rs1 >/dev/null 2>&1
tls_serve() {
    ip netns exec $P-r1 python3 -c '
import http.server, ssl, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        b = b"rs1-tls\n"
        self.send_response(200); self.send_header("Content-Length", str(len(b))); self.end_headers(); self.wfile.write(b)
    def log_message(self, *a): pass
s = http.server.HTTPServer(("0.0.0.0", 8443), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); ctx.load_cert_chain(sys.argv[1], sys.argv[2])
s.socket = ctx.wrap_socket(s.socket, server_side=True)
s.serve_forever()
' "$WORK/tls.crt" "$WORK/tls.key" >/dev/null 2>&1 &
    echo $!
}
PID[1-8443]=$(tls_serve)

cat > "$WORK/keepalived.conf" <<CONF
! lvsd reads the LVS part of keepalived.conf; lvsd_* keywords are its own (docs/HEALTH.md).
global_defs {
    router_id LVHC
    lvsd_interfaces d0 d1
    lvsd_control_socket $LVSD_SOCKET
    lvsd_metrics_listen 127.0.0.1:9127
    lvs_timeouts tcp 30 tcpfin 2 udp 5
}
include $WORK/conf.d/*.conf
CONF
mkdir -p "$WORK/conf.d"
# (a) HTTP_GET, removal on failure: detection within delay_loop + connect_timeout (retry 0).
cat > "$WORK/conf.d/10-http.conf" <<CONF
virtual_server $LAB_VIP 80 {
    delay_loop 1
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server $RS1 8080 { weight 1  HTTP_GET { url { path /  status_code 200 }  connect_timeout 1  retry 0 } }
    real_server $RS2 8080 { weight 1  HTTP_GET { url { path /  status_code 200 }  connect_timeout 1  retry 0 } }
    real_server $RS3 8080 { weight 1  HTTP_GET { url { path /  status_code 200 }  connect_timeout 1  retry 0 } }
}
CONF
# (b) inhibit_on_failure: weight 0 instead of removal.
cat > "$WORK/conf.d/20-inhibit.conf" <<CONF
virtual_server $LAB_VIP 81 {
    delay_loop 1
    lb_algo rr
    inhibit_on_failure
    real_server $RS1 8081 { weight 3  TCP_CHECK { connect_timeout 1  retry 0 } }
    real_server $RS2 8081 { weight 2  TCP_CHECK { connect_timeout 1  retry 0 } }
}
CONF
# (c) sorry_server when every real server fails; quorum_down/quorum_up scripts.
cat > "$WORK/conf.d/30-sorry.conf" <<CONF
virtual_server $LAB_VIP 82 {
    delay_loop 1
    lb_algo rr
    quorum_down "echo down >> $WORK/quorum.log"
    quorum_up "echo up >> $WORK/quorum.log"
    sorry_server $RS3 8080
    real_server $RS1 8082 { TCP_CHECK { connect_timeout 1  retry 0 } }
    real_server $RS2 8082 { TCP_CHECK { connect_timeout 1  retry 0 } }
}
CONF
# (d) MISC_CHECK misc_dynamic: exit status N >= 2 sets the weight to N - 2; exit 1 is down.
# (e) the agent check scales the configured weight (10) by the agent's percentage.
# quorum 0: the two tests must not lose the service's quorum (drain + misc down = live weight 0).
cat > "$WORK/conf.d/40-dynamic.conf" <<CONF
virtual_server $LAB_VIP 83 {
    delay_loop 1
    lb_algo wrr
    quorum 0
    real_server $RS1 8080 {
        weight 1
        MISC_CHECK { misc_path "exit \$(cat $WORK/misc.rc)"  misc_timeout 2  misc_dynamic }
    }
    real_server $RS2 8080 {
        weight 10
        AGENT_CHECK { connect_port 9999  connect_timeout 1 }
    }
}
CONF

# (f) SSL_GET: HTTPS health check through OpenSSL.
cat > "$WORK/conf.d/50-ssl.conf" <<CONF
virtual_server $LAB_VIP 84 {
    delay_loop 1
    lb_algo rr
    real_server $RS1 8443 { SSL_GET { url { path /  status_code 200 }  connect_timeout 1  retry 0 } }
}
CONF

out=$("$BIN/lvsd" --check -f "$WORK/keepalived.conf" 2>&1)
if echo "$out" | grep -q "configuration OK (5 services, 10 health checkers)" && echo "$out" | grep -q "keepalived.conf:3: warning: global_defs router_id ignored"; then
    ok "lvsd --check reads the keepalived.conf with its includes: $(echo "$out" | grep OK)"
else
    bad "lvsd --check keepalived.conf" "$out"
fi

ip netns exec $P-d "$BIN/lvsd" -f "$WORK/keepalived.conf" 2> "$WORK/lvsd.log" &
LVSD_PID=$!
disown
if ! wait_for test -S "$LVSD_SOCKET"; then
    echo "lvsd did not start:"; cat "$WORK/lvsd.log"; echo "0 passed, 1 failed"; exit 1
fi
for i in 1 2 3; do wait_for ip netns exec $P-r$i bash -c "exec 3<>/dev/tcp/127.0.0.1/8080"; done
wait_for present 80 $RS3:8080

echo "== tests"
# 1. (a) Stop rs2's HTTP server under load: removal time, failures before/after removal; restart.
inc python3 "$HERE/support/load.py" $LAB_VIP 80 9 3000 "$WORK/load.out" &
LOAD=$!
sleep 2
t_stop=$(now_ms)
kill ${PID[2-8080]}
if wait_ms 5000 absent 80 $RS2:8080; then
    t_detect=$(now_ms)
    detect=$((t_detect - t_stop))
    sleep 3
    restart_at=$(now_ms)
    PID[2-8080]=$(serve 2 8080)
    wait_ms 5000 present 80 $RS2:8080 && t_back=$(now_ms) || t_back=0
    wait $LOAD
    total=$(wc -l < "$WORK/load.out")
    before=$(awk -v a=$t_stop -v b=$t_detect '$1 >= a && $1 < b && $2 == "fail"' "$WORK/load.out" | wc -l)
    after=$(awk -v b=$t_detect -v c=$restart_at '$1 >= b && $1 < c && $2 == "fail"' "$WORK/load.out" | wc -l)
    after_n=$(awk -v b=$t_detect -v c=$restart_at '$1 >= b && $1 < c' "$WORK/load.out" | wc -l)
    rest=$(awk -v c=$restart_at '$1 >= c && $2 == "fail"' "$WORK/load.out" | wc -l)
    echo "measure - detection ${detect} ms (delay_loop 1 s + connect_timeout 1 s = 2000 ms); $total requests;" \
         "$before failed between stop and removal, $after of $after_n failed after removal"
    if [ "$detect" -le 2300 ] && [ "$after" -eq 0 ] && [ "$after_n" -gt 20 ] && [ "$rest" -eq 0 ]; then
        ok "HTTP_GET: rs2 removed ${detect} ms after its server stopped; 0 of $after_n requests failed after removal"
    else
        bad "HTTP_GET failure detection" "detect $detect ms, failed after removal $after/$after_n, after restart $rest" \
            "$(grep health "$WORK/lvsd.log" | tail -5)"
    fi
    if [ "$t_back" -gt 0 ] && grep -qE "health: real server $RS2:8080 of TCP $LAB_VIP:80 DOWN \(removed\): HTTP_GET: GET /: connect to $RS2:8080: Connection refused" "$WORK/lvsd.log" \
        && grep -qE "health: real server $RS2:8080 of TCP $LAB_VIP:80 UP: HTTP_GET succeeded" "$WORK/lvsd.log"; then
        ok "rs2 returned $((t_back - restart_at)) ms after its server restarted; both transitions logged with the reason"
    else
        bad "rs2 return / log" "t_back $t_back" "$(grep health "$WORK/lvsd.log" | tail -5)"
    fi
else
    wait $LOAD
    bad "HTTP_GET: rs2 not removed within 5 s" "$(lvsadm -L -n)" "$(tail -5 "$WORK/lvsd.log")"
fi

# 2. (b) inhibit_on_failure: the failed server stays listed with weight 0, then gets weight 2 back.
kill ${PID[2-8081]}
if wait_ms 4000 weight_is 81 $RS2:8081 0 && weight_is 81 $RS1:8081 3; then
    h=$(lvsadm -L -n --health | grep -F "$RS2:8081")
    PID[2-8081]=$(serve 2 8081)
    if echo "$h" | grep -q "DOWN (TCP_CHECK: connect to $RS2:8081: Connection refused)" && wait_ms 4000 weight_is 81 $RS2:8081 2; then
        ok "inhibit_on_failure: weight 0 while down ('$(echo $h)'), weight 2 again once up"
    else
        bad "inhibit_on_failure: health column / return" "$h" "$(lvsadm -L -n)"
    fi
else
    bad "inhibit_on_failure: weight 0" "$(lvsadm -L -n)"
fi

# 3. (c) sorry_server: both real servers fail → rs3 (the sorry server) answers; back after.
kill ${PID[1-8082]} ${PID[2-8082]}
if wait_ms 4000 present 82 $RS3:8080 && absent 82 $RS1:8082 && absent 82 $RS2:8082; then
    answers=$(for i in 1 2 3 4 5 6; do inc curl -s -m 3 http://$LAB_VIP:82/ || echo ERR; done | sort | uniq -c | tr -s ' ')
    PID[1-8082]=$(serve 1 8082)
    PID[2-8082]=$(serve 2 8082)
    # Each server returns at its own next check: the first one back restores the quorum.
    if [ "$answers" = " 6 rs3" ] && wait_ms 4000 absent 82 $RS3:8080 && wait_ms 4000 present 82 $RS1:8082 \
        && wait_ms 4000 present 82 $RS2:8082 \
        && wait_ms 2000 grep -qx up "$WORK/quorum.log" && [ "$(head -1 "$WORK/quorum.log")" = down ]; then
        ok "sorry_server: 6/6 requests answered by the sorry server while both servers were down; quorum_down and quorum_up ran; servers back"
    else
        bad "sorry_server" "answers: $answers" "$(lvsadm -L -n | grep -A4 ':82')" "$(cat "$WORK/quorum.log" 2>/dev/null)"
    fi
else
    bad "sorry_server not installed" "$(lvsadm -L -n)"
fi

# 4. (d) MISC_CHECK misc_dynamic: exit 7 → weight 5; exit 4 → weight 2; exit 1 → removed.
if wait_ms 4000 weight_is 83 $RS1:8080 5; then
    echo 4 > "$WORK/misc.rc"
    w2=no; wait_ms 4000 weight_is 83 $RS1:8080 2 && w2=yes
    echo 1 > "$WORK/misc.rc"
    gone=no; wait_ms 4000 absent 83 $RS1:8080 && gone=yes
    echo 7 > "$WORK/misc.rc"
    if [ $w2 = yes ] && [ $gone = yes ] && wait_ms 4000 weight_is 83 $RS1:8080 5; then
        ok "MISC_CHECK misc_dynamic: exit 7 → weight 5, exit 4 → weight 2, exit 1 → removed, exit 7 → back with weight 5"
    else
        bad "MISC_CHECK" "weight 2: $w2, removed: $gone" "$(server_line 83 $RS1:8080)" "$(grep MISC "$WORK/lvsd.log" | tail -3)"
    fi
else
    bad "MISC_CHECK weight 5" "$(server_line 83 $RS1:8080)" "$(grep health "$WORK/lvsd.log" | tail -3)"
fi

# 5. (e) agent check: "up 50%" → 5 of 10; "drain" → 0; "ready 100%" → 10; "down" → removed.
if wait_ms 4000 weight_is 83 $RS2:8080 5; then
    drained() { weight_is 83 $RS2:8080 0 && lvsadm -L -n --health | grep -F "$RS2:8080" | grep -q "DRAIN weight 0/10"; }
    echo "drain" > "$WORK/agent.txt"; d=no; wait_ms 4000 drained && d=yes
    echo "ready 100%" > "$WORK/agent.txt"; r=no; wait_ms 4000 weight_is 83 $RS2:8080 10 && r=yes
    echo "down" > "$WORK/agent.txt"; g=no; wait_ms 4000 absent 83 $RS2:8080 && g=yes
    echo "up 50%" > "$WORK/agent.txt"
    if [ $d = yes ] && [ $r = yes ] && [ $g = yes ] && wait_ms 4000 weight_is 83 $RS2:8080 5; then
        ok "agent check: 'up 50%' → weight 5/10, 'drain' → 0 (--health shows DRAIN), 'ready 100%' → 10, 'down' → removed, 'up 50%' → 5"
    else
        bad "agent check" "drain $d, ready $r, down $g" "$(server_line 83 $RS2:8080)" "$(grep agent "$WORK/lvsd.log" | tail -3)"
    fi
else
    bad "agent check weight 5" "$(server_line 83 $RS2:8080)" "$(grep -i agent "$WORK/lvsd.log" | tail -3)"
fi

# 5b. (f) SSL_GET: up through TLS (traffic too), removed when the HTTPS server stops, back after.
if wait_ms 4000 present 84 $RS1:8443 && [ "$(inc curl -sk -m 3 https://$LAB_VIP:84/)" = rs1-tls ]; then
    kill ${PID[1-8443]}
    gone=no; wait_ms 4000 absent 84 $RS1:8443 && gone=yes
    PID[1-8443]=$(tls_serve)
    if [ $gone = yes ] && wait_ms 5000 present 84 $RS1:8443 \
        && grep -qE "health: real server $RS1:8443 of TCP $LAB_VIP:84 DOWN \(removed\): SSL_GET: GET /: " "$WORK/lvsd.log"; then
        ok "SSL_GET: HTTPS check passes (curl -k through the VIP answers rs1-tls), server removed when HTTPS stops, back after"
    else
        bad "SSL_GET down/up" "removed: $gone" "$(server_line 84 $RS1:8443)" "$(grep ':8443' "$WORK/lvsd.log" | tail -3)"
    fi
else
    bad "SSL_GET: server not up" "$(lvsadm -L -n --health | grep -A2 ':84')" "$(grep ':8443' "$WORK/lvsd.log" | tail -3)"
fi

# 6. Visibility: the default listing stays ipvsadm's; --health adds the column; metrics.
plain=$(lvsadm -L -n)
health=$(lvsadm -L -n --health)
m=$(ip netns exec $P-d curl -s -m 5 http://127.0.0.1:9127/metrics)
if ! echo "$plain" | grep -q "UP" && echo "$health" | grep -qE "^  -> RemoteAddress:Port .*Health$" \
    && echo "$health" | grep -qE "^  -> $RS1:8080 +Masq +1 .* UP$" \
    && echo "$m" | grep -qE "^lvs_real_server_up\{protocol=\"tcp\",local_address=\"$LAB_VIP\",local_port=\"80\",remote_address=\"$RS2\",remote_port=\"8080\"\} 1$" \
    && echo "$m" | grep -qE "^lvs_real_server_weight_effective\{.*local_port=\"83\".*remote_address=\"$RS2\".*\} 5$"; then
    ok "lvsadm -L -n unchanged, --health adds the Health column; metrics lvs_real_server_up / _weight_effective"
else
    bad "visibility" "$health" "$(echo "$m" | grep lvs_real_server | head -4)"
fi

# 7. SIGHUP keeps the health state of unchanged servers (an inhibited one stays at weight 0).
kill ${PID[2-8081]}
wait_ms 4000 weight_is 81 $RS2:8081 0
kill -HUP $LVSD_PID
sleep 0.5
if weight_is 81 $RS2:8081 0 && grep -q "reloaded" "$WORK/lvsd.log"; then
    ok "SIGHUP reload keeps a down server down (weight 0 with inhibit_on_failure)"
else
    bad "reload keeps health state" "$(server_line 81 $RS2:8081)" "$(tail -3 "$WORK/lvsd.log")"
fi

kill -TERM $LVSD_PID
wait_for bash -c "! kill -0 $LVSD_PID 2>/dev/null"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
