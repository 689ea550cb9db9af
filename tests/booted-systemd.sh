#!/bin/bash
# booted-systemd.sh ROOT DEB - boots the Debian root file system ROOT (debian-root.sh: systemd,
# dbus, logind, polkitd) with systemd as PID 1 in a container (systemd-nspawn --boot, the root
# mounted read-only under a tmpfs overlay, so the cached root stays clean), installs the bc26d
# package DEB, runs the simulated BC26 on a pty inside and checks the service as an operator
# would: READY=1 before `systemctl start` returns, a meaningful StatusText, the watchdog over
# 2 minutes of idle, sysusers, the hardened unit's access to its tty, the D-Bus policy for an
# unprivileged user, logind inhibitor locks during an upgrade, the journal catalog, the upgrade
# history and the metrics timer's file, a SIGKILL mid-upgrade (an enqueued message survives it)
# and a clean stop. One line per assertion: "ok - ..." or "FAIL - ... (why)".
# Exit 0: all passed; 1: some failed; 77: the container could not boot here (the reason is
# printed; reported as skipped, never as passed). Needs root and systemd-nspawn.
set -uo pipefail

root=${1:?usage: booted-systemd.sh ROOT DEB}
deb=${2:?usage: booted-systemd.sh ROOT DEB}
top=$(cd "$(dirname "$0")/.." && pwd)
scale=${BC26D_TEST_TIME_SCALE:-1}
idle_s=${BC26D_WATCHDOG_IDLE_S:-130}
work=$(mktemp -d /tmp/bc26d-booted.XXXXXX)
passed=0
failed=0
nspawn_pid=""
leader=""

skip() { echo "SKIP - booted systemd: $*"; cleanup; exit 77; }
ok() { echo "ok - $1"; passed=$((passed + 1)); }
fail() { echo "FAIL - $1 ($2)"; failed=$((failed + 1)); }
# check DESCRIPTION COMMAND...: one assertion; on failure its output says why.
check() {
        local what=$1 out
        shift
        if out=$("$@" 2>&1); then ok "$what"; else fail "$what" "$(echo "$out" | tail -n 5 | tr '\n' ' ')"; fi
}
in_c() { nsenter -t "$leader" -a "$@"; }
# The container's shell, with a PATH: nsenter keeps the host's environment.
sh_c() { in_c /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 /bin/sh -c "$1"; }
# wait_for SECONDS SHELL-CONDITION: poll a condition inside the container (scaled).
wait_for() {
        local limit=$(( $1 * scale * 10 )) i
        for ((i = 0; i < limit; i++)); do
                sh_c "$2" >/dev/null 2>&1 && return 0
                sleep 0.1
        done
        return 1
}
# Helpers run inside: "prop IFACE PROP" prints a property (Modem1 State), "simctl REQUEST" talks
# to the simulator's control socket.
prop() { sh_c "/srv/bc26d-test/prop $1 $2"; }
show() { sh_c "systemctl show -P $1 bc26d"; }
sim() { sh_c "/srv/bc26d-test/simctl '$1'"; }

cleanup() {
        if [ -n "$leader" ] && kill -0 "$leader" 2>/dev/null; then
                in_c systemctl poweroff >/dev/null 2>&1 || kill "$nspawn_pid" 2>/dev/null
                for _ in $(seq 100); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 0.2; done
        fi
        [ -n "$nspawn_pid" ] && kill -9 "$nspawn_pid" 2>/dev/null
        wait 2>/dev/null
        rm -rf "$work"
}
trap cleanup EXIT

[ "$(id -u)" -eq 0 ] || skip "needs root (systemd-nspawn, nsenter)"
command -v systemd-nspawn >/dev/null || skip "systemd-nspawn is not installed (package systemd-container)"
[ -x "$root/usr/lib/systemd/systemd" ] || skip "$root has no systemd to boot"

mkdir -p "$work/share"
cp "$deb" "$work/share/bc26d.deb"
cp "$top/tests/bc26sim.py" "$work/share/"
cat >"$work/share/prop" <<'EOF2'
#!/bin/sh
bc26ctl --json status | python3 -c "import json,sys; print(json.load(sys.stdin)['$1']['$2'])"
EOF2
cat >"$work/share/simctl" <<'EOF2'
#!/usr/bin/python3
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect("/run/bc26sim/ctl")
s.sendall(sys.argv[1].encode() + b"\n")
print(s.makefile().readline().strip())
EOF2
chmod 0755 "$work/share/prop" "$work/share/simctl"

# --register=no --keep-unit: the host need not run systemd (CI machines do not).
systemd-nspawn -q -D "$root" -b --console=passive --register=no --keep-unit --volatile=overlay \
        --bind-ro="$work/share:/srv/bc26d-test" --machine=bc26d-booted >"$work/console.log" 2>&1 &
nspawn_pid=$!
for _ in $(seq $((300 * scale))); do
        leader=$(pgrep -P "$nspawn_pid" 2>/dev/null | head -n 1)
        [ -n "$leader" ] && break
        kill -0 "$nspawn_pid" 2>/dev/null || break
        sleep 0.1
done
[ -n "$leader" ] || skip "systemd-nspawn exited before starting PID 1: $(tail -n 5 "$work/console.log" | tr '\n' ' ')"
state=""
for _ in $(seq $((600 * scale))); do
        state=$(in_c systemctl is-system-running 2>/dev/null)
        case $state in running|degraded) break ;; esac
        kill -0 "$nspawn_pid" 2>/dev/null || break
        sleep 0.1
done
case $state in
running|degraded) echo "booted: $(sh_c '. /etc/os-release; echo "$PRETTY_NAME"'), systemd $(sh_c 'systemctl --version | head -n 1 | cut -d" " -f2'), state $state" ;;
*) skip "the container's systemd did not reach running within $((60 * scale)) s (state '${state:-none}'): $(tail -n 5 "$work/console.log" | tr '\n' ' ')" ;;
esac

# ---- install -------------------------------------------------------------------------------
check "the package installs (dpkg -i)" sh_c "DEBIAN_FRONTEND=noninteractive dpkg -i /srv/bc26d-test/bc26d.deb"
# The postinst starts bc26d (no module yet: it waits for its tty); the D-Bus policy the package
# just installed must already be in force then.
check "the service the package started is active, first time (NRestarts=0)" \
        wait_for 10 "systemctl is-active -q bc26d && test \$(systemctl show -P NRestarts bc26d) = 0"
check "the package's first start owned org.bc26d (the bus had loaded its policy)" \
        sh_c "! journalctl -u bc26d --no-pager | grep -q 'refused to let user bc26d own'"
check "sysusers created user bc26d" sh_c "getent passwd bc26d"
check "sysusers created group bc26" sh_c "getent group bc26"

# The simulator on a pty, as a socat/ser2net bridge gives one: a symlink to /dev/pts/N, group
# dialout, mode 0660 (socat's pty,link=...,group=dialout,mode=660).
sh_c "mkdir -p /run/bc26sim && systemd-run --unit=bc26sim --quiet /usr/bin/python3 /srv/bc26d-test/bc26sim.py \
        --link /run/bc26sim/tty --control /run/bc26sim/ctl --log /run/bc26sim/log"
wait_for 10 "test -S /run/bc26sim/ctl && test -L /run/bc26sim/tty" || fail "the simulator started" "no pty link"
sh_c 'p=$(readlink -f /run/bc26sim/tty) && chgrp dialout "$p" && chmod 0660 "$p"'
cat >"$work/share/bc26d.conf" <<'CONF'
[serial]
device = /run/bc26sim/tty

[modem]
command_timeout_ms = 2000
boot_timeout_s = 5

[fota]
timeout_s = 60
CONF
sh_c "cp /srv/bc26d-test/bc26d.conf /etc/bc26d/bc26d.conf"

# ---- start, READY=1, status ------------------------------------------------------------------
sh_c "systemctl stop bc26d" >/dev/null 2>&1
check "systemctl start bc26d succeeds" sh_c "systemctl start bc26d"
# Type=notify: start returned, so READY=1 came; the unit is active/running, not activating.
check "systemctl start returned only after READY=1 (active/running)" \
        sh_c "test \"\$(systemctl show -P ActiveState bc26d)/\$(systemctl show -P SubState bc26d)\" = active/running"
status=$(show StatusText)
check "StatusText is meaningful right after start ('$status')" \
        sh_c "systemctl show -P StatusText bc26d | grep -Eq '^(initializing|registering|ready|waiting)'"
wait_for 30 "systemctl show -P StatusText bc26d | grep -q '^ready, registered to'"
check "StatusText reaches 'ready, registered to ...' ('$(show StatusText)')" \
        sh_c "systemctl show -P StatusText bc26d | grep -q '^ready, registered to'"
check "the hardened unit opened its tty (Modem1.State=ready)" test "$(prop Modem1 State)" = ready
check "the state directory exists, owned by bc26d, mode 0700" \
        sh_c "test \"\$(stat -c %U:%a /var/lib/bc26d)\" = bc26d:700"
wd=$(show WatchdogUSec)
check "WatchdogUSec is set ($wd)" sh_c "test \"\$(systemctl show -P WatchdogUSec bc26d)\" != 0 && test -n \"\$(systemctl show -P WatchdogUSec bc26d)\""

# ---- watchdog over idle --------------------------------------------------------------------
pid0=$(show MainPID)
echo "idle for ${idle_s} s (WatchdogSec is $wd): the pings must come from the loop"
sleep "$idle_s"
check "not killed by the watchdog over ${idle_s} s of idle (same MainPID, NRestarts=0)" \
        sh_c "test \"\$(systemctl show -P MainPID bc26d)\" = $pid0 && test \"\$(systemctl show -P NRestarts bc26d)\" = 0"
check "no watchdog timeout in the journal" sh_c "! journalctl -u bc26d --no-pager | grep -qi 'watchdog timeout'"

# ---- D-Bus policy for an unprivileged user ------------------------------------------------------
sh_c "useradd -M -s /bin/sh bc26test" >/dev/null 2>&1
ctl_as() { sh_c "runuser -u bc26test -- bc26ctl $1 >/dev/null 2>&1; echo \$?"; }
check "an unprivileged user can run 'bc26ctl status'" test "$(ctl_as status)" = 0
check "'bc26ctl send' by a user not in group bc26 is refused (exit 77)" test "$(ctl_as 'send 19/0/0 01')" = 77
check "'bc26ctl reset' by a user not in group bc26 is refused (exit 77)" test "$(ctl_as reset)" = 77
sh_c "usermod -a -G bc26 bc26test"
check "a member of group bc26 may send (exit 0)" test "$(ctl_as 'send 19/0/0 0102')" = 0

# ---- DFOTA: inhibitor locks, journal catalog -----------------------------------------------------
# One lock per what (logind: "shutdown" and "sleep" rows, mode block, taken by bc26d).
lock='l=$(systemd-inhibit --list --no-pager --no-legend | grep bc26d) &&
      echo "$l" | grep -q "shutdown .*block" && echo "$l" | grep -q "sleep .*block"'
echo "simulator: play dfota -> $(sim "play dfota 0.15")"
wait_for 20 "/srv/bc26d-test/prop Fota1 Phase | grep -qv idle"
check "during an upgrade logind lists bc26d's block locks for shutdown and sleep" wait_for 10 "$lock"
wait_for 90 "test \$(/srv/bc26d-test/prop Fota1 LastResult) = success"
check "the upgrade finished (LastResult=success)" test "$(prop Fota1 LastResult)" = success
check "the locks are released after the upgrade" wait_for 10 "! ($lock)"
check "journalctl -x shows the catalog text of the upgrade's messages" \
        sh_c "journalctl -u bc26d -x --no-pager | grep -q 'The IoT platform started a firmware-over-the-air upgrade'"

# ---- the upgrade's record and the metrics timer (node-exporter's textfile collector) -------------
prom=/var/lib/prometheus/node-exporter/bc26d.prom
check "bc26ctl history lists the upgrade (success)" sh_c "bc26ctl history | grep -q ' success '"
check "the package enabled bc26d-metrics.timer" sh_c "systemctl is-enabled -q bc26d-metrics.timer"
check "without the collector directory the metrics service writes nothing" \
        sh_c "systemctl start bc26d-metrics.service && ! test -e $prom"
sh_c "mkdir -p ${prom%/*}"
check "the hardened metrics service writes $prom (bc26_up 1, mode 644)" \
        sh_c "systemctl start bc26d-metrics.service && grep -qFx 'bc26_up 1' $prom && test \$(stat -c %a $prom) = 644"
check "$prom counts the upgrade and shows the radio" \
        sh_c "grep -qFx 'bc26_upgrades_total{result=\"success\"} 1' $prom && grep -q '^bc26_rsrp_dbm ' $prom"

# ---- SIGKILL mid-upgrade, then a clean stop ----------------------------------------------------------
wait_for 30 "test \$(/srv/bc26d-test/prop Modem1 State) = ready"
for _ in $(seq $((50 * scale))); do     # the last lines of the previous playback may still come
        reply=$(sim "play stall-downloaded 0.05")
        case $reply in "err busy"*) sleep 0.2 ;; *) break ;; esac
done
echo "simulator: play stall-downloaded -> $reply"
wait_for 20 "test \$(/srv/bc26d-test/prop Fota1 Phase) = downloaded"
check "during the upgrade 'bc26ctl send --queue' is accepted (an id)" \
        sh_c "bc26ctl send --queue 19/0/0 0a0b | grep -qx '[0-9][0-9]*'"
sh_c "systemctl kill -s KILL bc26d"
check "systemd restarts bc26d after SIGKILL (NRestarts=1, active)" \
        wait_for 30 "test \"\$(systemctl show -P NRestarts bc26d)\" = 1 && systemctl is-active -q bc26d"
check "after the restart it is still gated (Phase=downloaded)" wait_for 10 "test \$(/srv/bc26d-test/prop Fota1 Phase) = downloaded"
check "after the restart SendData is refused with UpgradeInProgress" \
        sh_c "bc26ctl send 19/0/0 01 2>&1 | grep -q -i 'upgrade'"
check "after the SIGKILL the enqueued message still waits (bc26ctl queue)" \
        sh_c "bc26ctl queue | grep -q '19/0/0'"
check "systemctl stop bc26d exits cleanly (Result=success, status 0)" \
        sh_c "systemctl stop bc26d && test \"\$(systemctl show -P Result bc26d)\" = success && test \"\$(systemctl show -P ExecMainStatus bc26d)\" = 0"

if [ "$failed" -gt 0 ]; then
        echo "--- diagnostics: bc26d's journal (last 80 lines), inhibitors, the simulator's log (last 30)"
        sh_c "journalctl -u bc26d --no-pager -n 80; systemd-inhibit --list --no-pager; tail -n 30 /run/bc26sim/log" 2>&1 | sed 's/^/    /'
fi
echo "booted systemd: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
