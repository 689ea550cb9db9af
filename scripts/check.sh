#!/bin/sh
# check.sh - README command 2: install what is missing, build, and run the whole test suite.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/bootstrap.sh"
cd "$top/build"
if ! make -j"$(nproc)" check; then
        for f in tests/*.log; do
                grep -q ':test-result: \(FAIL\|ERROR\)' "${f%.log}.trs" 2>/dev/null && { echo "==== $f"; tail -n 60 "$f"; }
        done
        exit 1
fi
pass=$(sed -n 's/^# PASS: *//p' test-suite.log)
fail=$(sed -n 's/^# FAIL: *//p' test-suite.log)
echo "$pass passed, $fail failed"

