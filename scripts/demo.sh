#!/usr/bin/env bash
# The README's main job (run by `swift run lvs-demo` as root): a network-namespace lab with a
# client, the director (lvsd, VS/NAT, rr) and three real servers; 3,000 requests from the client
# through the VIP; the `lvsadm -L -n --stats` table and the per-server counts. Everything the
# demo creates is removed on every exit path, Ctrl-C included.
set -euo pipefail
BIN=${1:?usage: demo.sh LVS_DEMO_BINARY [REQUESTS]}
REQUESTS=${2:-3000}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lab/netns.sh"

P=lvsdemo
WORK=$(mktemp -d /tmp/lvsdemo.XXXXXX)
SOCK=$WORK/lvsd.sock
cleanup() {
    lab_down $P
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'echo; echo "interrupted: tearing the lab down"; exit 130' INT TERM

echo "== building the lab (namespaces $P-*)"
lab_up $P 3
for i in 1 2 3; do
    ip netns exec "$P-r$i" "$BIN" serve "rs$i" 8080 & disown
done
lab_config $P "$SOCK" rr "1 1 1" > "$WORK/lvsd.yaml"
echo "== lvsd configuration"
sed 's/^/   /' "$WORK/lvsd.yaml"
ip netns exec "$P-d" "$BIN" lvsd -f "$WORK/lvsd.yaml" 2> "$WORK/lvsd.log" & disown
if ! wait_for test -S "$SOCK"; then
    echo "lvsd did not start:"; cat "$WORK/lvsd.log"; exit 1
fi
for i in 1 2 3; do
    wait_for ip netns exec "$P-r$i" bash -c "exec 3<>/dev/tcp/127.0.0.1/8080" || { echo "server rs$i did not start"; exit 1; }
done

echo "== $REQUESTS HTTP requests from the client ($LAB_CLIENT) to http://$LAB_VIP/, one connection each"
start=$(date +%s.%N)
set +e
ip netns exec "$P-c" "$BIN" client $LAB_VIP 80 "$REQUESTS" > "$WORK/client.out"
rc=$?
set -e
end=$(date +%s.%N)
echo
LVSD_SOCKET=$SOCK "$BIN" lvsadm -L -n --stats
echo
echo "Answers by real server:"
sed -n 's/^answers /  /p' "$WORK/client.out"
grep '^failures' "$WORK/client.out" | sed 's/^/  /'
awk -v s="$start" -v e="$end" -v n="$REQUESTS" 'BEGIN { printf "  %d requests in %.2f s (%.0f connections/s)\n", n, e - s, n / (e - s) }'
if [ $rc -ne 0 ]; then
    echo "some requests failed; lvsd log:"; tail -20 "$WORK/lvsd.log"; exit 1
fi
