#!/bin/bash
# demo.sh - README command 1: build bc26d if needed and run it against the simulated BC26 on a
# pseudo-terminal, with no hardware. Plays a short story and exits by itself.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/bootstrap.sh"

work=$(mktemp -d /tmp/bc26d-demo.XXXXXX)
sim_pid=""; daemon_pid=""
cleanup() {
        [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null || true
        [ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null && wait "$sim_pid" 2>/dev/null || true
        rm -rf "$work"
}
trap cleanup EXIT

sim() {         # one request to the simulator's control socket
        python3 - "$work/sim.sock" "$*" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall((sys.argv[2] + "\n").encode())
print("  [simulator] " + sys.argv[2] + " -> " + s.makefile().readline().strip())
PY
}

wait_log() {    # wait_log TEXT COUNT: until the daemon has logged TEXT COUNT times (30 s at most)
        for _ in $(seq 300); do
                [ "$(grep -c -- "$1" "$work/daemon.log" || true)" -ge "$2" ] && return 0
                sleep 0.1
        done
        echo "demo: timed out waiting for '$1'" >&2; exit 1
}

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

python3 "$top/tests/bc26sim.py" --link "$work/tty" --control "$work/sim.sock" --log "$work/sim.log" \
        --line-delay 0.02 >"$work/sim.out" 2>&1 &
sim_pid=$!
for _ in $(seq 100); do [ -S "$work/sim.sock" ] && break; sleep 0.1; done

cat >"$work/bc26d.conf" <<CONF
[serial]
device=$work/tty
[modem]
boot_timeout_s=3
probe_interval_s=0
CONF

say "Starting bc26d against a simulated BC26 ($work/tty)"
"$top/build/bc26d" --config "$work/bc26d.conf" --state-dir "$work" --log-level info \
        > >(tee "$work/daemon.log") 2>&1 &
daemon_pid=$!
wait_log "Module initialised" 1

say "The module reboots on its own: bc26d notices once and initialises it again"
sim play reboot
wait_log "Module initialised" 2

say "The USB-serial adapter is unplugged for 2 s: bc26d reopens the tty when it is back"
sim unplug 2
wait_log "Module initialised" 3

say "What the module received (simulator's log):"
sed 's/^/  /' "$work/sim.log" | tail -n 20

say "Stopping bc26d (SIGTERM)"
kill "$daemon_pid"; wait "$daemon_pid" || true; daemon_pid=""
echo "Demo finished."
