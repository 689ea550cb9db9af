#!/bin/sh
# check-sanitizers.sh - what CI runs after scripts/check.sh: the whole test suite again on an
# AddressSanitizer + UndefinedBehaviorSanitizer build (./build-sanitizers, configure
# --enable-sanitizers), where a report from any process (a test, the bc26d it starts, bc26ctl)
# fails the run, LeakSanitizer included; then valgrind memcheck of bc26d through a simulated DFOTA
# cycle (scripts/valgrind-dfota.sh, on the plain build in ./build). Installs valgrind if missing.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/bootstrap.sh"

if ! command -v valgrind >/dev/null; then
        if [ "$(id -u)" -ne 0 ]; then
                echo "check-sanitizers: valgrind is missing; run as root (or with sudo) to install it" >&2
                exit 1
        fi
        echo "check-sanitizers: installing valgrind"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends valgrind >/dev/null
fi

mkdir -p "$top/build-sanitizers"
cd "$top/build-sanitizers"
[ -f Makefile ] || ../configure --enable-silent-rules --enable-sanitizers >/dev/null
make -j"$(nproc)" >/dev/null

# Reports go to files (one per process), so that none is lost in a daemon log the tests delete.
logs="$PWD/sanitizer-reports"
rm -rf "$logs"
mkdir -p "$logs"
ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:log_path=$logs/asan"
UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$logs/ubsan"
export ASAN_OPTIONS UBSAN_OPTIONS
status=0
if ! make -j"$(nproc)" check; then
        status=1
        for f in tests/*.log; do
                grep -q ':test-result: \(FAIL\|ERROR\)' "${f%.log}.trs" 2>/dev/null && { echo "==== $f"; tail -n 60 "$f"; }
        done
fi
unset ASAN_OPTIONS UBSAN_OPTIONS
for f in "$logs"/*; do
        [ -e "$f" ] || continue
        echo "==== sanitizer report $f"
        cat "$f"
        status=1
done
pass=$(sed -n 's/^# PASS: *//p' test-suite.log)
fail=$(sed -n 's/^# FAIL: *//p' test-suite.log)
echo "sanitizers (ASan+UBSan+LSan): $pass passed, $fail failed, $(ls "$logs" | wc -l) sanitizer reports"
[ "$status" = 0 ] || exit 1

"$top/scripts/valgrind-dfota.sh" "$top/build"
