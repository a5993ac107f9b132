#!/usr/bin/env bash
# End-to-end tests of the README's main job (`lvs-demo`, the network-namespace demo): it prints the
# lvsadm stats table and an exact rr split, and it tears its lab down on success and on Ctrl-C.
#   Tests/EndToEnd/demo.sh BIN_DIR
set -uo pipefail
BIN=${1:?usage: demo.sh BIN_DIR}
passed=0
failed=0
ok() { echo "ok   - $1"; passed=$((passed + 1)); }
bad() { echo "FAIL - $1"; shift; for l in "$@"; do echo "       $l"; done; failed=$((failed + 1)); }
leftovers() { ip netns list 2>/dev/null | awk '{print $1}' | grep -c '^lvsdemo-' ; }

out=$("$BIN/lvs-demo" 300 2>&1)
rc=$?
if [ $rc -eq 0 ] && echo "$out" | grep -q '^IP Virtual Server version 1.2.1' \
    && echo "$out" | grep -qE '^TCP  10\.0\.1\.100:80 +300 ' \
    && [ "$(echo "$out" | grep -cE '^  rs[123] 100$')" = 3 ] && echo "$out" | grep -q 'failures 0'; then
    ok "lvs-demo 300: stats table and an exact 100/100/100 split"
else
    bad "lvs-demo 300 (exit $rc)" "$(echo "$out" | tail -15)"
fi
[ "$(leftovers)" = 0 ] && ok "no namespace left after the demo" || bad "namespaces left" "$(ip netns list)"

# Ctrl-C: SIGINT (at its default disposition, as a terminal delivers it) to the demo's process group.
# Leftovers are looked for by this binary's own path, so other labs on the machine do not count.
python3 - "$BIN/lvs-demo" <<'PY'
import os, signal, subprocess, sys, time
p = subprocess.Popen([sys.argv[1], "200000"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                     start_new_session=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
for _ in range(100):
    if b"lvsdemo-c" in subprocess.run(["ip", "netns", "list"], capture_output=True).stdout: break
    time.sleep(0.1)
time.sleep(2)
os.killpg(p.pid, signal.SIGINT)
try:
    p.wait(timeout=30)
except subprocess.TimeoutExpired:
    os.killpg(p.pid, signal.SIGKILL)
    sys.exit(1)
sys.exit(0 if p.returncode == 130 else 1)
PY
rc=$?
if [ $rc -eq 0 ] && [ "$(leftovers)" = 0 ] && ! pgrep -f "^$BIN/lvs-demo (serve|lvsd|client)" >/dev/null; then
    ok "Ctrl-C during the demo tears the lab down (exit 130, no namespace or process left)"
else
    bad "Ctrl-C teardown" "rc=$rc namespaces: $(ip netns list | tr '\n' ' ')"
    . "$(dirname "$0")/../../scripts/lab/netns.sh"; lab_down lvsdemo
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
