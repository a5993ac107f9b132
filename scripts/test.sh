#!/usr/bin/env bash
# Runs every test: unit, fixture and property tests (swift test); the allocation check of the
# packet path (release build, mallocs counted while 2M packets go through the engine); and, as
# root, the end-to-end tests in network namespaces (Tests/EndToEnd). This is the README's test
# command; .ci/run calls it.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== swift test (unit, fixture and property tests)"
swift test 2>&1 | tee /tmp/swiftlvs-test.log | grep -vE '^(◇|↳|\[[0-9]+/[0-9]+\] (Compiling|Emitting|Write|Linking|Build))' || {
    echo "swift test failed (full log: /tmp/swiftlvs-test.log)"
    exit 1
}

echo "== release build"
swift build -c release >/dev/null
BIN=$(swift build -c release --show-bin-path)

echo "== packet path allocation check"
"$BIN/LVSBench" alloc-check

if [ "$(id -u)" = 0 ]; then
    echo "== end-to-end tests in network namespaces"
    for t in Tests/EndToEnd/*.sh; do
        echo "-- $t"
        bash "$t" "$BIN"
    done
else
    echo "== end-to-end tests skipped: they need root (network namespaces, AF_PACKET)"
fi

echo "== all tests passed"
