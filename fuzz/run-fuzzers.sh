#!/bin/sh
# run-fuzzers.sh - build every libFuzzer target against the sources (clang, ASan+UBSan) and run
# each for SECONDS (default 60), starting from the committed seeds and regression inputs.
#
#   fuzz/run-fuzzers.sh [SECONDS [TARGET...]]      targets: line-classify urc config store fota at-channel outbox
#
# Environment: CLANG (default clang), FUZZ_OUT (default ./fuzz-out: binaries, the growing corpora,
# crash artifacts and logs; the committed fuzz/corpus is never written). Prints, per target, the
# executions, executions per second, corpus size and findings; exits 1 if anything was found.
# A finding is kept as FUZZ_OUT/<target>/artifacts/crash-* (or leak-, timeout-, oom-): reproduce
# with FUZZ_OUT/<target>/fuzz-<target> FILE, fix, and copy FILE to fuzz/regressions/<target>/.
set -eu

secs=${1:-60}
[ $# -gt 0 ] && shift
top=$(cd "$(dirname "$0")/.." && pwd)
out=${FUZZ_OUT:-$PWD/fuzz-out}
clang=${CLANG:-clang}
targets=${*:-line-classify urc config store fota at-channel outbox}

case $secs in
''|*[!0-9]*) echo "usage: $0 [SECONDS [TARGET...]]" >&2; exit 2 ;;
esac

cflags="-std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined
        -fno-sanitize-recover=undefined -Wall -Wextra -Wshadow -Wformat=2 -Wno-unused-parameter
        -Wno-missing-field-initializers -Werror -I$top/src -I$top/fuzz"

sources() {
        case $1 in
        line-classify) echo "line.c urc.c" ;;
        urc)           echo "urc.c" ;;
        config)        echo "config.c" ;;
        store)         echo "store.c durable.c fota.c" ;;
        fota)          echo "fota.c store.c durable.c at-cmd.c" ;;
        at-channel)    echo "at-channel.c at-cmd.c line.c urc.c reboot.c" ;;
        outbox)        echo "outbox.c outbox-store.c durable.c" ;;
        *)             echo "unknown target $1" >&2; return 1 ;;
        esac
}

extra() {
        case $1 in
        line-classify|urc|at-channel) echo "-dict=$top/fuzz/at.dict" ;;
        config) echo "-dict=$top/fuzz/config.dict" ;;
        store)  echo "-dict=$top/fuzz/store.dict" ;;
        outbox) echo "-dict=$top/fuzz/outbox.dict" ;;
        esac
        case $1 in
        line-classify) echo "-max_len=12000" ;;
        config) echo "-max_len=8192" ;;
        *) echo "-max_len=4096" ;;
        esac
}

mkdir -p "$out"
summary=$out/summary.txt
: >"$summary"
found=0
for t in $targets; do
        d=$out/$t
        mkdir -p "$d/corpus" "$d/artifacts"
        srcs=
        for s in $(sources "$t"); do srcs="$srcs $top/src/$s"; done
        libs=
        [ "$t" = config ] && libs=$(pkg-config --libs inih 2>/dev/null || echo -linih)
        # shellcheck disable=SC2086
        "$clang" $cflags -o "$d/fuzz-$t" "$top/fuzz/fuzz-$t.c" $srcs $libs
        seeds="$top/fuzz/corpus/$t"
        [ -d "$top/fuzz/regressions/$t" ] && seeds="$seeds $top/fuzz/regressions/$t"
        echo "== $t: $secs s" >&2
        rc=0
        # shellcheck disable=SC2086,SC2046
        "$d/fuzz-$t" -max_total_time="$secs" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
                -artifact_prefix="$d/artifacts/" $(extra "$t") "$d/corpus" $seeds >"$d/log" 2>&1 || rc=$?
        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$d/log" | tail -n 1)
        rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$d/log" | tail -n 1)
        cov=$(grep -o 'cov: [0-9]*' "$d/log" | tail -n 1 | cut -d' ' -f2)
        ncorp=$(find "$d/corpus" -type f | wc -l)
        nart=$(find "$d/artifacts" -type f | wc -l)
        line=$(printf '%-14s %4ss  execs %-10s %7s/s  cov %-5s corpus %-6s findings %s (exit %s)' \
                "$t" "$secs" "${execs:-?}" "${rate:-?}" "${cov:-?}" "$ncorp" "$nart" "$rc")
        echo "$line" | tee -a "$summary"
        if [ "$nart" -gt 0 ] || [ "$rc" -ne 0 ]; then
                found=1
                find "$d/artifacts" -type f | sed 's/^/    /'
                grep -m 3 -E 'ERROR|invariant failed|SUMMARY' "$d/log" | sed 's/^/    /' || true
        fi
done
exit $found
