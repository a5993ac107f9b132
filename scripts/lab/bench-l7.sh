#!/usr/bin/env bash
# scripts/bench.sh l7: keep-alive HTTP through three layer-7 proxies on loopback, same run, same
# machine, same upstream servers and the same wrk invocation:
#   swiftlvs  lvsd with an l7 section (this build, release), rr over the servers
#   haproxy   mode http, roundrobin, http-reuse always, option forwardfor
#   nginx     proxy_pass to an upstream block with keepalive, X-Forwarded-For
#   direct    wrk straight at one upstream server (shows the servers are not the bound)
# Upstreams: one nginx serving three ports (return 200 "rsN"). Prints `name value unit` lines:
# req/s and p99 (ms) per target, then SwiftLVS's ratios to haproxy and nginx. Knobs:
# L7_BENCH_SECONDS (10), L7_BENCH_CONNECTIONS (64), L7_BENCH_THREADS (2, wrk and every proxy),
# L7_BENCH_REPS (1; runs alternate proxies, and the best run of each is reported). Also the
# proxies' CPU time (user+system, from /proc, nginx's workers included) per request, the lowest
# of the runs: steadier than req/s on a shared machine.
# Every process it starts is killed on exit (by PID); each load is bounded by wrk -d.
set -euo pipefail
cd "$(dirname "$0")/../.."
SECS=${L7_BENCH_SECONDS:-10}
CONNS=${L7_BENCH_CONNECTIONS:-64}
THREADS=${L7_BENCH_THREADS:-2}
REPS=${L7_BENCH_REPS:-1}
for tool in wrk haproxy nginx python3; do
    command -v $tool >/dev/null || [ -x /usr/sbin/$tool ] || { echo "bench l7: $tool is missing" >&2; exit 1; }
done
HAPROXY=$(command -v haproxy || echo /usr/sbin/haproxy)
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

swift build -c release --product lvsd >&2
BIN=$(swift build -c release --show-bin-path)

W=$(mktemp -d /tmp/lvsl7bench.XXXXXX)
chmod 755 "$W"
mkdir -p "$W/run"
[ "$(id -u)" = 0 ] && chown 65534:65534 "$W/run"  # lvsd runs as nobody then
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    [ -n "${L7_BENCH_KEEP:-}" ] || rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

read -r U1 U2 U3 SP HP NP < <(python3 -c '
import socket
ss=[socket.socket() for _ in range(6)]
for s in ss: s.bind(("127.0.0.1",0))
print(*[s.getsockname()[1] for s in ss])')

nginx_common="daemon off; pid $W/PID.pid; error_log $W/PID.err warn;"
temp_paths() { for t in client_body proxy fastcgi uwsgi scgi; do echo "${t}_temp_path $W/$1-$t;"; done; }

# Upstreams.
mkdir -p "$W/up"
cat > "$W/up.conf" <<EOF2
${nginx_common//PID/up}
worker_processes 1;
events { worker_connections 4096; }
http {
  access_log off;
  $(temp_paths up)
  keepalive_requests 1000000;
  server { listen 127.0.0.1:$U1; location / { return 200 "rs1\n"; } }
  server { listen 127.0.0.1:$U2; location / { return 200 "rs2\n"; } }
  server { listen 127.0.0.1:$U3; location / { return 200 "rs3\n"; } }
}
EOF2
"$NGINX" -p "$W/up" -e "$W/up.err" -c "$W/up.conf" &
pids+=($!)

# SwiftLVS L7.
cat > "$W/l7.yaml" <<EOF2
control_socket: $W/run/lvsd.sock
l7:
  listen: [127.0.0.1:$SP]
  threads: $THREADS
  pools:
    - name: web
      scheduler: rr
      servers:
        - {address: 127.0.0.1, port: $U1}
        - {address: 127.0.0.1, port: $U2}
        - {address: 127.0.0.1, port: $U3}
EOF2
run_as=()
if [ "$(id -u)" = 0 ]; then run_as=(setpriv --reuid=65534 --regid=65534 --clear-groups); fi
"${run_as[@]}" "$BIN/lvsd" -f "$W/l7.yaml" 2>"$W/lvsd.log" &
pids+=($!)
LVSD_PID=$!

# haproxy.
cat > "$W/haproxy.cfg" <<EOF2
global
  nbthread $THREADS
  maxconn 8000
defaults
  mode http
  option http-keep-alive
  option forwardfor
  timeout connect 3s
  timeout client 60s
  timeout server 60s
frontend fe
  bind 127.0.0.1:$HP
  default_backend be
backend be
  balance roundrobin
  http-reuse always
  server s1 127.0.0.1:$U1
  server s2 127.0.0.1:$U2
  server s3 127.0.0.1:$U3
EOF2
"$HAPROXY" -db -f "$W/haproxy.cfg" >"$W/haproxy.log" 2>&1 &
pids+=($!)
HAPROXY_PID=$!

# nginx proxy.
mkdir -p "$W/px"
cat > "$W/px.conf" <<EOF2
${nginx_common//PID/px}
worker_processes $THREADS;
events { worker_connections 8192; }
http {
  access_log off;
  $(temp_paths px)
  keepalive_requests 1000000;
  upstream be {
    server 127.0.0.1:$U1; server 127.0.0.1:$U2; server 127.0.0.1:$U3;
    keepalive 128;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:$NP;
    location / {
      proxy_pass http://be;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
    }
  }
}
EOF2
"$NGINX" -p "$W/px" -e "$W/px.err" -c "$W/px.conf" &
pids+=($!)
NGINX_PID=$!

for port in $U1 $SP $HP $NP; do
    for _ in $(seq 100); do
        curl -s -o /dev/null -m 1 "http://127.0.0.1:$port/" && break
        sleep 0.1
    done
    curl -sf -o /dev/null -m 2 "http://127.0.0.1:$port/" || { echo "bench l7: nothing answers on port $port" >&2; cat "$W"/*.log "$W"/*.err >&2 2>/dev/null; exit 1; }
done

# CPU ticks (user+system, 1/100 s) of a process and its children threads/workers: PIDS...
ticks() {
    local t=0 p
    for p in "$@" $(pgrep -P "$1" 2>/dev/null || true); do
        [ -r /proc/$p/stat ] || continue
        t=$((t + $(awk '{sub(/^.*\) /, ""); print $12 + $13}' /proc/$p/stat)))
    done
    echo $t
}

# wrk PORT PID -> "RPS P99MS US_PER_REQ" (p99 from --latency, converted to ms; CPU time of the
# proxy process per request in microseconds, "-" when there is no process to read)
measure() {
    local out t0 t1
    t0=$([ -n "$2" ] && ticks "$2" || echo -)
    out=$(wrk -t"$THREADS" -c"$CONNS" -d"${SECS}s" --latency "http://127.0.0.1:$1/" 2>&1)
    t1=$([ -n "$2" ] && ticks "$2" || echo -)
    if echo "$out" | grep -qE "Non-2xx|Socket errors"; then echo "bench l7: errors on port $1:" >&2; echo "$out" >&2; fi
    local rps p99 n cpu
    rps=$(echo "$out" | awk '/^Requests\/sec:/ {print $2}')
    p99=$(echo "$out" | awk '$1 == "99%" {v = $2; if (v ~ /us$/) {sub(/us$/, "", v); v /= 1000} else if (v ~ /ms$/) {sub(/ms$/, "", v)} else if (v ~ /s$/) {sub(/s$/, "", v); v *= 1000}; print v}')
    n=$(echo "$out" | awk '/requests in/ {print $1}')
    cpu=-
    [ "$t0" != - ] && [ -n "$n" ] && [ "$n" -gt 0 ] && cpu=$(awk -v a="$t0" -v b="$t1" -v n="$n" 'BEGIN {printf "%.1f", (b - a) * 10000 / n}')
    echo "$rps $p99 $cpu"
}

declare -A best_rps best_p99 best_cpu
for rep in $(seq "$REPS"); do
    for target in direct:$U1: swiftlvs:$SP:$LVSD_PID haproxy:$HP:$HAPROXY_PID nginx:$NP:$NGINX_PID; do
        IFS=: read -r name port pid <<<"$target"
        read -r rps p99 cpu < <(measure "$port" "$pid")
        echo "# rep $rep $name $rps req/s p99 $p99 ms cpu $cpu us/req" >&2
        if [ "$cpu" != - ] && { [ -z "${best_cpu[$name]:-}" ] || awk -v a="$cpu" -v b="${best_cpu[$name]}" 'BEGIN {exit !(a < b)}'; }; then
            best_cpu[$name]=$cpu
        fi
        if [ -z "${best_rps[$name]:-}" ] || awk -v a="$rps" -v b="${best_rps[$name]}" 'BEGIN {exit !(a > b)}'; then
            best_rps[$name]=$rps
            best_p99[$name]=$p99
        fi
    done
done

for name in direct swiftlvs haproxy nginx; do
    echo "l7_${name}_keepalive ${best_rps[$name]} req/s"
    echo "l7_${name}_p99 ${best_p99[$name]} ms"
    [ -z "${best_cpu[$name]:-}" ] || echo "l7_${name}_cpu_per_request ${best_cpu[$name]} us"
done
for other in haproxy nginx; do
    awk -v a="${best_rps[swiftlvs]}" -v b="${best_rps[$other]}" -v o=$other 'BEGIN {printf "l7_swiftlvs_vs_%s_rps %.2f x\n", o, a / b}'
    awk -v a="${best_p99[swiftlvs]}" -v b="${best_p99[$other]}" -v o=$other 'BEGIN {printf "l7_swiftlvs_vs_%s_p99 %.2f x\n", o, a / b}'
done
echo "# machine: $(nproc) cores (shared), wrk -t$THREADS -c$CONNS -d${SECS}s, proxies with $THREADS threads/workers" >&2
