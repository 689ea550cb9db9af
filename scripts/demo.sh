#!/bin/bash
# demo.sh - README command 1: build bc26d if needed and run it against the simulated BC26 on a
# pseudo-terminal and a private D-Bus (never the system's), with no hardware. Plays the whole
# story (register, send, a firmware upgrade, data refused meanwhile, data again) and exits.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/bootstrap.sh"
build="$top/build"

work=$(mktemp -d /tmp/bc26d-demo.XXXXXX)
pids=()
cleanup() {
        for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
        wait 2>/dev/null || true
        rm -rf "$work"
}
trap cleanup EXIT

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

sim() {         # one request to the simulator's control socket
        python3 - "$work/sim.sock" "$*" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall((sys.argv[2] + "\n").encode())
print("   [simulated module] " + sys.argv[2] + " -> " + s.makefile().readline().strip())
PY
}

prop() { timeout 10 "$build/bc26ctl" status --json | python3 -c "import json,sys; d=json.load(sys.stdin); print(d['$1']['$2'])"; }

wait_prop() {   # wait_prop IFACE PROP VALUE (30 s at most)
        for _ in $(seq 300); do
                [ "$(prop "$1" "$2" 2>/dev/null || true)" = "$3" ] && return 0
                kill -0 "$daemon_pid" 2>/dev/null || { echo "demo: bc26d stopped; its log:" >&2; cat "$work/daemon.log" >&2; exit 1; }
                sleep 0.1
        done
        echo "demo: timed out waiting for $1.$2 = $3" >&2; exit 1
}

. "$top/scripts/private-bus.sh"
start_private_bus
start_simulator --connect-delay 0.5 --send-delay 0.3

cat >"$work/bc26d.conf" <<CONF
[serial]
device=$work/tty
[modem]
boot_timeout_s=3
probe_interval_s=0
[fota]
timeout_s=60
CONF

say "Starting bc26d against a simulated BC26 on $work/tty (log: $work/daemon.log)"
"$build/bc26d" --config "$work/bc26d.conf" --state-dir "$work" --log-level info >"$work/daemon.log" 2>&1 &
daemon_pid=$!
pids+=($daemon_pid)
"$build/bc26ctl" monitor 2>/dev/null | sed 's/^/   [bc26ctl monitor] /' &
pids+=($!)
wait_prop Modem1 State ready

say "Registered to the platform; bc26ctl status:"
"$build/bc26ctl" status | sed 's/^/   /'

say "An application sends 2 bytes on 19/0/0 (bc26ctl send 19/0/0 0102): returns after SEND OK"
"$build/bc26ctl" send 19/0/0 0102 && echo "   -> sent"

say "The platform starts a firmware upgrade (the guide's transcript, sped up)"
sim play dfota 0.03
wait_prop Modem1 State upgrading

say "An application tries to send during the upgrade: refused, nothing reaches the module"
"$build/bc26ctl" send 19/0/0 0A0B || echo "   -> refused (exit $?)"

wait_prop Fota1 LastResult success
wait_prop Modem1 State ready
sleep 0.3
say "Upgrade finished and reported; data flows again"
"$build/bc26ctl" send 19/0/0 0C0D && echo "   -> sent"

say "What the module received (the simulator's log; nothing between COAPSTART and END):"
sed -n '/COAPSTART/,$p' "$work/sim.log" | grep -v '"UPDATING"' | sed 's/^/   /' | head -n 40

say "Upgrade history in the daemon's log (journal MESSAGE_IDs under systemd):"
grep -E "upgrade|phase" "$work/daemon.log" | sed 's/^/   /' | head -n 20
kill "$daemon_pid"; wait "$daemon_pid" 2>/dev/null || true
echo
echo "Demo finished."
