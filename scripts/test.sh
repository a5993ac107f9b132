#!/usr/bin/env bash
# Runs every test: unit and property tests (swift test), then the allocation check of the packet
# path (a release build that counts mallocs while 2M packets go through the engine).
# This is the README's test command; .ci/run calls it.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== swift test (unit, fixture and property tests)"
swift test 2>&1 | tee /tmp/swiftlvs-test.log | grep -vE '^(◇|↳|\[[0-9]+/[0-9]+\] (Compiling|Emitting|Write|Linking|Build))' || {
    echo "swift test failed (full log: /tmp/swiftlvs-test.log)"
    exit 1
}

echo "== packet path allocation check (release build)"
swift build -c release --product LVSBench >/dev/null
.build/release/LVSBench alloc-check

echo "== all tests passed"
