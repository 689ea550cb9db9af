#!/bin/bash
# valgrind-dfota.sh - run bc26d under valgrind memcheck through a whole simulated DFOTA cycle
# (registration, SendData, the guide's upgrade transcript, a SendData refused meanwhile,
# re-registration, SendData again, SIGTERM) on a private bus, against tests/bc26sim.py. Exits 0
# only if memcheck reports zero errors and zero definitely/indirectly/possibly lost bytes.
#
#   scripts/valgrind-dfota.sh [BUILD_DIR]     (default: ./build; needs bc26d built there, not
#                                              with --enable-sanitizers)
# Environment: VALGRIND (default valgrind), KEEP=1 keeps the work directory.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$top/build}" && pwd)
bc26d="$build/bc26d"
valgrind=${VALGRIND:-valgrind}

[ -x "$bc26d" ] || { echo "valgrind-dfota: no $bc26d; build first (scripts/bootstrap.sh)" >&2; exit 2; }
command -v "$valgrind" >/dev/null || { echo "valgrind-dfota: valgrind is not installed (apt-get install valgrind)" >&2; exit 2; }
if ldd "$bc26d" | grep -q libasan; then
        echo "valgrind-dfota: $bc26d is an AddressSanitizer build; valgrind needs a plain one" >&2
        exit 2
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/bc26d-valgrind.XXXXXX")
pids=()
cleanup() {
        for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
        wait 2>/dev/null || true
        if [ "${KEEP:-0}" = 1 ]; then echo "valgrind-dfota: kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

fail() {
        echo "valgrind-dfota: $*" >&2
        echo "---- daemon log (tail)" >&2; tail -n 30 "$work/daemon.log" >&2 || true
        echo "---- valgrind log (tail)" >&2; tail -n 30 "$work/valgrind.log" >&2 || true
        exit 1
}

sim() {         # one request to the simulator's control socket; fails unless it answers "ok"
        python3 - "$work/sim.sock" "$*" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall((sys.argv[2] + "\n").encode())
reply = s.makefile().readline().strip()
if not reply.startswith("ok"):
    sys.exit("simulator refused %r: %s" % (sys.argv[2], reply))
PY
}

bus() { timeout 60 busctl --address="$DBUS_SYSTEM_BUS_ADDRESS" "$@"; }
prop() { bus get-property org.bc26d /org/bc26d/Modem "org.bc26d.$1" "$2" 2>/dev/null || true; }

wait_prop() {   # wait_prop IFACE PROP 'busctl text' [seconds]
        local i
        for i in $(seq $((${4:-60} * 10))); do
                [ "$(prop "$1" "$2")" = "$3" ] && return 0
                kill -0 "$daemon_pid" 2>/dev/null || fail "bc26d stopped while waiting for $1.$2 = $3"
                sleep 0.1
        done
        fail "timed out waiting for $1.$2 = $3 (it is $(prop "$1" "$2"))"
}

send_data() {   # send_data HEXBYTE... ; prints the busctl result, returns its status
        bus call org.bc26d /org/bc26d/Modem org.bc26d.Lwm2m1 SendData uuuay 19 0 0 $# "$@" 2>&1
}

. "$top/scripts/private-bus.sh"
start_private_bus
start_simulator

# Timeouts generous enough for valgrind's slowdown.
cat >"$work/bc26d.conf" <<CONF
[serial]
device=$work/tty
[modem]
command_timeout_ms=3000
boot_timeout_s=10
probe_interval_s=0
[fota]
timeout_s=120
CONF
mkdir "$work/state"

start=$(date +%s)
"$valgrind" --tool=memcheck --leak-check=full --show-leak-kinds=definite,indirect,possible \
        --errors-for-leak-kinds=definite,indirect --error-exitcode=42 --track-origins=yes \
        --log-file="$work/valgrind.log" \
        "$bc26d" --config "$work/bc26d.conf" --state-dir "$work/state" --log-level debug >"$work/daemon.log" 2>&1 &
daemon_pid=$!
pids+=($daemon_pid)

echo "valgrind-dfota: bc26d under valgrind memcheck (work dir $work)"
wait_prop Modem1 State 's "ready"' 120
echo "valgrind-dfota: ready after $(($(date +%s) - start)) s"

out=$(send_data 01 02) || fail "SendData before the upgrade failed: $out"
echo "valgrind-dfota: SendData before the upgrade: ok"

sim play dfota 0.2
wait_prop Fota1 Phase 's "updating"' 60
if out=$(send_data 03); then fail "SendData during the upgrade succeeded"; fi
case "$out" in *UpgradeInProgress*|*"upgrade is in progress"*) ;; *) fail "SendData during the upgrade: $out" ;; esac
echo "valgrind-dfota: SendData during the upgrade: refused (UpgradeInProgress)"
wait_prop Fota1 LastResult 's "success"' 120
wait_prop Fota1 Phase 's "idle"' 120
wait_prop Modem1 State 's "ready"' 120
echo "valgrind-dfota: upgrade finished: success"

out=$(send_data 04 05 06) || fail "SendData after the upgrade failed: $out"
echo "valgrind-dfota: SendData after the upgrade: ok"
grep -q 'AT+QLWDATASEND=19,0,0,3,040506' "$work/sim.log" || fail "the module never got the last SendData"

kill -TERM "$daemon_pid"
status=0
wait "$daemon_pid" || status=$?
pids=("${pids[@]/$daemon_pid}")
echo "valgrind-dfota: bc26d exited with status $status after $(($(date +%s) - start)) s"

echo "---- valgrind summary"
sed -n 's/^==[0-9]*== //p' "$work/valgrind.log" | grep -E 'ERROR SUMMARY|definitely lost|indirectly lost|possibly lost|still reachable|suppressed:|All heap blocks' || true
errors=$(sed -n 's/.*ERROR SUMMARY: \([0-9]*\) errors.*/\1/p' "$work/valgrind.log" | tail -n 1)
lost() { sed -n "s/.*$1 lost: \([0-9,]*\) bytes.*/\1/p" "$work/valgrind.log" | tail -n 1 | tr -d ,; }
definite=$(lost definitely); indirect=$(lost indirectly); possible=$(lost possibly)
[ "$status" = 0 ] || fail "bc26d exited with $status (42: valgrind found errors or leaks)"
[ "${errors:-x}" = 0 ] || fail "memcheck reported ${errors:-no summary} errors"
for n in "${definite:-0}" "${indirect:-0}" "${possible:-0}"; do
        [ "$n" = 0 ] || fail "memcheck reported lost bytes (definitely ${definite:-0}, indirectly ${indirect:-0}, possibly ${possible:-0})"
done
echo "valgrind-dfota: OK: 0 errors, 0 bytes lost through a full DFOTA cycle"
