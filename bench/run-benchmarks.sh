#!/bin/sh
# run-benchmarks.sh - bc26d's benchmarks, side by side with their floors in one run, as ratios;
# prints a table and writes bench/RESULTS.md (BENCH_RESULTS=FILE to write elsewhere).
# Run it through `make bench` (which builds bc26d and bench/*), or by hand from a build tree:
#   BC26D_BIN=build/bc26d BENCH_DIR=build/bench BC26_SIM=tests/bc26sim.py sh bench/run-benchmarks.sh
# Knobs: BENCH_IDLE_S (60), BENCH_SAMPLES (500), BENCH_STARTS (20), BENCH_PARSER_MB (64),
# BENCH_PHASE_SAMPLES (100), BENCH_NOTES (bench/NOTES.md: the hand-written analysis appended to
# RESULTS), BENCH_KEEP=1, BENCH_TMPFS_DIR (/dev/shm: where the tmpfs state dir goes).
# BENCH_ONLY=urc: only the URC -> PropertiesChanged part (+CEREG registration, progress and phase
# change) and the Enqueue -> reply part (while gated), each next to its floor, state dir on the
# temp dir's file system and on tmpfs; prints its table and raw data and leaves RESULTS.md alone.
# BC26D_BASELINE_BIN=OTHER-bc26d: in either mode, also run those parts on the temp dir's file
# system with that binary (e.g. a build from before a change; one without org.bc26d.Network1 gets
# no +CEREG row, one without Lwm2m1.Enqueue no Enqueue row).
# Needs strace (installed with apt-get when missing and run as root), busctl, dbus-daemon, python3.
# Everything runs on private dbus-daemons and pseudo-terminals in a temp dir; nothing touches the
# system bus. Benchmarks are measurements, never assertions: the exit status only says whether
# every measurement could be taken.
set -eu

SRC_BENCH=$(cd "$(dirname "$0")" && pwd)
: "${BC26D_BIN:?set BC26D_BIN to the bc26d binary}"
: "${BENCH_DIR:?set BENCH_DIR to the directory holding bench-parser, bare-daemon, bench-latency}"
BC26_SIM=${BC26_SIM:-$SRC_BENCH/../tests/bc26sim.py}
PYTHON3=${PYTHON3:-python3}
DBUS_DAEMON=${DBUS_DAEMON:-dbus-daemon}
IDLE_S=${BENCH_IDLE_S:-60}
SAMPLES=${BENCH_SAMPLES:-500}
STARTS=${BENCH_STARTS:-20}
PARSER_MB=${BENCH_PARSER_MB:-64}
PHASE_SAMPLES=${BENCH_PHASE_SAMPLES:-100}
ONLY=${BENCH_ONLY:-}
TMPFS_DIR=${BENCH_TMPFS_DIR:-/dev/shm}
BASELINE_BIN=${BC26D_BASELINE_BIN:-}
case "$ONLY" in ""|urc) ;; *) echo "run-benchmarks: BENCH_ONLY must be empty or urc" >&2; exit 1 ;; esac
RESULTS=${BENCH_RESULTS:-$SRC_BENCH/RESULTS.md}
BENCH_NOTES=${BENCH_NOTES:-$SRC_BENCH/NOTES.md}   # hand-written analysis, appended to RESULTS

if [ -z "$ONLY" ] && ! command -v strace >/dev/null 2>&1; then
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
                echo "strace is missing: installing it (apt-get install -y strace)"
                apt-get install -y strace >/dev/null || { apt-get update >/dev/null && apt-get install -y strace >/dev/null; }
        else
                echo "run-benchmarks: strace is missing (apt-get install strace)" >&2
                exit 1
        fi
fi
for tool in busctl "$DBUS_DAEMON" "$PYTHON3"; do
        command -v "$tool" >/dev/null 2>&1 || { echo "run-benchmarks: $tool is missing" >&2; exit 1; }
done

W=$(mktemp -d "${TMPDIR:-/tmp}/bc26d-bench-XXXXXX")
PIDS=""
cleanup() {
        for p in $PIDS; do
                kill "$p" 2>/dev/null || true
        done
        for p in $PIDS; do
                wait "$p" 2>/dev/null || true
        done
        if [ -n "${BENCH_KEEP:-}" ]; then echo "kept $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

exec 4>&2       # progress and errors, also from inside wait_for's silenced commands
say() { printf '%s\n' "$*" >&4; }
now_ms() { date +%s%3N; }

# wait_for TIMEOUT_S DESCRIPTION COMMAND...: poll until the command succeeds.
wait_for() {
        t=$1; what=$2; shift 2
        end=$(( $(now_ms) + t * 1000 ))
        until "$@" >/dev/null 2>&1; do
                if [ "$(now_ms)" -gt "$end" ]; then say "run-benchmarks: timed out waiting for $what"; exit 1; fi
                sleep 0.05
        done
}

start_bus() {   # NAME -> $W/NAME.sock, pid in PIDS
        cat >"$W/$1.conf" <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=$W/$1.sock</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
  </policy>
</busconfig>
EOF
        "$DBUS_DAEMON" --nofork --nopidfile --nosyslog --config-file="$W/$1.conf" >"$W/$1.out" 2>&1 &
        PIDS="$PIDS $!"
        wait_for 10 "dbus-daemon $1" test -S "$W/$1.sock"
}

start_sim() {   # NAME
        "$PYTHON3" "$BC26_SIM" --link "$W/$1.tty" --control "$W/$1.ctl" --log "$W/$1.simlog" >"$W/$1.simout" 2>&1 &
        PIDS="$PIDS $!"
        wait_for 10 "simulator $1" test -S "$W/$1.ctl"
}

sim() {         # NAME REQUEST...
        "$PYTHON3" - "$W/$1.ctl" "$2" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(sys.argv[2].encode() + b"\n")
r = s.makefile().readline().strip()
sys.exit(0 if r.startswith("ok") else "simulator: " + r)
EOF
}

write_conf() {  # NAME DEVICE EXTRA-MODEM-LINES
        mkdir -p "$W/$1.state"
        printf '[serial]\ndevice=%s\n\n[modem]\n%s\n' "$2" "$3" >"$W/$1.ini"
}

# start_bc26d NAME BUS: writes the pid to $W/NAME.pid
start_bc26d() {
        DBUS_SYSTEM_BUS_ADDRESS="unix:path=$W/$2.sock" \
                "$BC26D_BIN" --config "$W/$1.ini" --state-dir "$W/$1.state" --log-level info >"$W/$1.log" 2>&1 &
        echo $! >"$W/$1.pid"
        PIDS="$PIDS $!"
}

prop() {        # BUS IFACE PROP -> value
        busctl --address="unix:path=$W/$1.sock" get-property org.bc26d /org/bc26d/Modem "$2" "$3" 2>/dev/null |
                sed 's/^[a-z] //; s/"//g'
}
prop_is() { [ "$(prop "$1" "$2" "$3")" = "$4" ]; }
# ready PID BUS: bc26d reads State=ready; fails the run at once if the daemon died.
ready() {
        kill -0 "$1" 2>/dev/null || { say "run-benchmarks: bc26d (pid $1) died; its log:"; cat "$W"/*.log >&4; exit 1; }
        prop_is "$2" org.bc26d.Modem1 State ready
}

# mem PID -> "VmRSS VmHWM Private_Dirty" in KiB
mem() {
        rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$1/status")
        hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$1/status")
        pd=$(awk '/^Private_Dirty:/ {print $2}' "/proc/$1/smaps_rollup")
        echo "$rss $hwm $pd"
}

# strace_total FILE -> total syscalls; strace_count FILE SYSCALL -> calls of one syscall
strace_total() { awk '$NF == "total" { print $4; found = 1 } END { if (!found) print 0 }' "$1"; }
strace_count() { awk -v s="$2" '$NF == s { print $4; found = 1 } END { if (!found) print 0 }' "$1"; }

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "inf"; else printf "%.2f", a / b }'; }
verdict() { if awk -v v="$1" -v t="$2" 'BEGIN { exit !(v + 0 <= t + 0) }'; then echo met; else echo MISSED; fi; }
ends_at_least() { [ "$(grep -c '^# urc +QIND: "FOTA","END",0' "$W/simA.simlog")" -ge "$1" ]; }
kv() { awk -F= -v k="$2" '$1 == k { print $2 }' "$1"; }

# ---- the machine ---------------------------------------------------------------------------
CPU=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
[ -n "$CPU" ] || CPU=$(awk -F': ' '/^(Hardware|Model)/ { print $2; exit }' /proc/cpuinfo)
NPROC=$(nproc)
KERNEL=$(uname -srm)
DEBIAN=$(cat /etc/debian_version 2>/dev/null || echo "not Debian")
LIBSYSTEMD=$(pkg-config --modversion libsystemd 2>/dev/null || echo "?")
LIBEVENT=$(pkg-config --modversion libevent 2>/dev/null || echo "?")
CC_VERSION=$(${CC:-cc} --version 2>/dev/null | head -n 1)
DBUS_VERSION=$("$DBUS_DAEMON" --version | head -n 1)
STRACE_VERSION=$(strace -V 2>/dev/null | head -n 1 || echo "strace ?")
REVISION=$(git -C "$SRC_BENCH/.." describe --always --dirty 2>/dev/null || echo "?")
HEAD_COMMIT=$(git -C "$SRC_BENCH/.." log -1 --format='%H %s' 2>/dev/null || echo "?")
# Tracked files that differ from HEAD (what "-dirty" means for this run); untracked ones are left out.
CHANGED=$(git -C "$SRC_BENCH/.." status --porcelain --untracked-files=no 2>/dev/null | awk '{ print $NF }' | tr '\n' ' ' | sed 's/ $//')
FS=$(df -PT "$W" | awk 'NR == 2 { print $2 }')
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
RUN_COMMAND="BC26D_BIN=$BC26D_BIN BENCH_DIR=$BENCH_DIR BC26_SIM=$BC26_SIM${BASELINE_BIN:+ BC26D_BASELINE_BIN=$BASELINE_BIN}"
[ -z "${BENCH_RESULTS:-}" ] || RUN_COMMAND="$RUN_COMMAND BENCH_RESULTS=$BENCH_RESULTS"
RUN_COMMAND="$RUN_COMMAND sh $0"
say "machine: $CPU, $NPROC CPUs, $KERNEL, Debian $DEBIAN"

if [ -z "$ONLY" ]; then # sections 1 and 2 (BENCH_ONLY=urc skips them)
# ---- 1. idle: bc26d (probe off), bc26d (default 60 s probe), the bare daemon ---------------
say "starting: bus A (bc26d probe off + bare daemon), bus B (bc26d default probe), two simulators"
start_bus busA
start_bus busB
start_sim simA
start_sim simB
write_conf idle0 "$W/simA.tty" "probe_interval_s=0"
write_conf idle60 "$W/simB.tty" "# probe_interval_s: default (60)"
start_bc26d idle0 busA
start_bc26d idle60 busB
DBUS_SYSTEM_BUS_ADDRESS="unix:path=$W/busA.sock" "$BENCH_DIR/bare-daemon" org.bc26d.Bare >"$W/bare.log" 2>&1 &
BARE_PID=$!
PIDS="$PIDS $BARE_PID"
IDLE0_PID=$(cat "$W/idle0.pid")
IDLE60_PID=$(cat "$W/idle60.pid")
wait_for 30 "bc26d (probe off) ready" ready "$IDLE0_PID" busA
wait_for 30 "bc26d (probe 60 s) ready" ready "$IDLE60_PID" busB
wait_for 10 "the bare daemon" busctl --address="unix:path=$W/busA.sock" status org.bc26d.Bare
sleep 2         # let the observe URCs and the last property signals go by

set -- $(mem "$IDLE0_PID"); RSS0=$1; HWM0=$2; PD0=$3
set -- $(mem "$IDLE60_PID"); RSS60=$1; HWM60=$2; PD60=$3
set -- $(mem "$BARE_PID"); RSSB=$1; HWMB=$2; PDB=$3

say "idle: strace -c -f over $IDLE_S s on all three at once"
# Probes are the bare "AT" lines; the radio readings that ride on each answered probe
# (AT+CEREG?, AT+CESQ, AT+CSQ, AT+QENG=0) are counted apart: they share its wake-up.
probe_lines() { grep -c '^[0-9.]* AT$' "$1" || true; }
CMDS60_BEFORE=$(probe_lines "$W/simB.simlog")
ALL60_BEFORE=$(grep -c '^[0-9]' "$W/simB.simlog" || true)
for who in idle0:$IDLE0_PID idle60:$IDLE60_PID bare:$BARE_PID; do
        timeout -s INT "$IDLE_S" strace -c -f -o "$W/strace.${who%%:*}" -p "${who#*:}" 2>"$W/strace.${who%%:*}.err" &
        eval "ST_${who%%:*}=\$!"
done
wait "$ST_idle0" "$ST_idle60" "$ST_bare" || true
CMDS60_AFTER=$(probe_lines "$W/simB.simlog")
PROBES60=$(( CMDS60_AFTER - CMDS60_BEFORE ))
RIDERS60=$(( $(grep -c '^[0-9]' "$W/simB.simlog" || true) - ALL60_BEFORE - PROBES60 ))
for who in idle0 idle60 bare; do
        # strace -c prints nothing at all when the process made no system call.
        grep -q 'detached' "$W/strace.$who.err" || { say "strace failed for $who:"; cat "$W/strace.$who.err" >&2; exit 1; }
        [ -s "$W/strace.$who" ] || echo "(no system calls at all)" >"$W/strace.$who"
done
SYS0=$(strace_total "$W/strace.idle0"); WAKE0=$(strace_count "$W/strace.idle0" epoll_wait)
SYS60=$(strace_total "$W/strace.idle60"); WAKE60=$(strace_count "$W/strace.idle60" epoll_wait)
SYSB=$(strace_total "$W/strace.bare"); WAKEB=$(strace_count "$W/strace.bare" epoll_wait)

# ---- 2. one full DFOTA cycle (the guide's transcript) on the probe-off daemon ---------------
say "DFOTA: simulator 'play dfota' on bc26d (probe off)"
sim simA "play dfota"
wait_for 60 "UpgradeFinished (LastResult success)" prop_is busA org.bc26d.Fota1 LastResult success
wait_for 60 "phase idle after the upgrade" prop_is busA org.bc26d.Fota1 Phase idle
wait_for 60 "ready after the upgrade" prop_is busA org.bc26d.Modem1 State ready
sleep 2
set -- $(mem "$IDLE0_PID"); RSS0D=$1; HWM0D=$2; PD0D=$3
say "DFOTA: a second cycle, to tell one-time growth from a leak"
sim simA "play dfota"
wait_for 60 "the second END,0" ends_at_least 2
wait_for 60 "phase idle after the second upgrade" prop_is busA org.bc26d.Fota1 Phase idle
wait_for 60 "ready after the second upgrade" prop_is busA org.bc26d.Modem1 State ready
sleep 2
set -- $(mem "$IDLE0_PID"); RSS0D2=$1; HWM0D2=$2; PD0D2=$3
set -- $(mem "$BARE_PID"); RSSBD=$1; HWMBD=$2; PDBD=$3

# The latency bench brings its own bc26d and bare daemon (same names) on bus A.
for p in "$IDLE0_PID" "$IDLE60_PID" "$BARE_PID"; do kill "$p"; done
wait "$IDLE0_PID" "$IDLE60_PID" "$BARE_PID" || { say "a daemon did not exit cleanly"; exit 1; }

fi # sections 1 and 2

# ---- 3. start-up, SendData -> AT, URC -> signal ---------------------------------------------
# urc_run NAME BC26D STATE-DIR KEY-PREFIX: the URC and Enqueue parts alone (bench-latency
# --urc-only) on their own state dir, their keys renamed PREFIX_urc_... / PREFIX_radio_... /
# PREFIX_phase_... / PREFIX_enqueue_... into $W/latency.kv.
urc_run() {
        write_conf "$1" "$W/$1.tty" ""
        DBUS_SYSTEM_BUS_ADDRESS="unix:path=$W/busA.sock" "$BENCH_DIR/bench-latency" --link "$W/$1.tty" \
                --daemon "$2" --conf "$W/$1.ini" --state-dir "$3" --bare "$BENCH_DIR/bare-daemon" \
                --daemon-log "$W/$1.log" --samples "$SAMPLES" --phase-samples "$PHASE_SAMPLES" --urc-only \
                >"$W/$1.kv" || return 1
        sed -n "s/^\(urc\|radio\|phase\|enqueue\)_/${4}_\1_/p" "$W/$1.kv" >>"$W/latency.kv"
}
: >"$W/latency.kv"
if [ -z "$ONLY" ]; then
        say "latency: $STARTS starts each, $SAMPLES samples, $PHASE_SAMPLES phase changes (bench-latency)"
        write_conf lat "$W/lat.tty" ""
        DBUS_SYSTEM_BUS_ADDRESS="unix:path=$W/busA.sock" "$BENCH_DIR/bench-latency" --link "$W/lat.tty" \
                --daemon "$BC26D_BIN" --conf "$W/lat.ini" --state-dir "$W/lat.state" --bare "$BENCH_DIR/bare-daemon" \
                --daemon-log "$W/lat.log" --samples "$SAMPLES" --phase-samples "$PHASE_SAMPLES" \
                --starts "$STARTS" >"$W/latency.kv"
else
        say "BENCH_ONLY=urc: URC -> signal, $SAMPLES +CEREG URCs, $SAMPLES progress lines, $PHASE_SAMPLES phase changes, $SAMPLES Enqueue calls"
        start_bus busA
        mkdir -p "$W/lat.state"
        urc_run lat "$BC26D_BIN" "$W/lat.state" x
        sed -i 's/^x_//' "$W/latency.kv"
fi

# The same URC -> signal path with the state dir on tmpfs: what the state file's fsync costs
# (progress lines persist nothing; phase changes persist before they are announced).
if [ -d "$TMPFS_DIR" ] && [ -w "$TMPFS_DIR" ] && [ "$(df -PT "$TMPFS_DIR" | awk 'NR == 2 { print $2 }')" = tmpfs ]; then
        SHM_STATE=$(mktemp -d "$TMPFS_DIR/bc26d-bench-XXXXXX")
        say "latency: URC -> signal again with the state dir on tmpfs ($SHM_STATE)"
        urc_run lattmpfs "$BC26D_BIN" "$SHM_STATE" tmpfs || { rm -rf "$SHM_STATE"; exit 1; }
        rm -rf "$SHM_STATE"
else
        say "latency: $TMPFS_DIR is not a writable tmpfs: no tmpfs row"
fi
if [ -n "$BASELINE_BIN" ]; then
        say "latency: URC -> signal with the baseline $BASELINE_BIN (state dir on $FS)"
        mkdir -p "$W/latbase.state"
        urc_run latbase "$BASELINE_BIN" "$W/latbase.state" base
fi

URC_ROWS=$(L=$W/latency.kv; for pre in "" tmpfs_ base_; do
        case "$pre" in
        "") where="state dir on $FS" ;;
        tmpfs_) where="state dir on tmpfs" ;;
        base_) where="baseline $BASELINE_BIN, state dir on $FS" ;;
        esac
        [ -n "$(kv "$L" "${pre}urc_signal_p99_us")" ] || continue
        up99=$(kv "$L" "${pre}urc_signal_p99_us")
        printf '| URC on the tty -> PropertiesChanged(Progress), p50 / p99 (us), %s | %s / %s | bare daemon pty -> Line signal: %s / %s | p99: %s | p99 < 1000 us | %s |\n' \
                "$where" "$(kv "$L" "${pre}urc_signal_p50_us")" "$up99" \
                "$(kv "$L" "${pre}urc_floor_p50_us")" "$(kv "$L" "${pre}urc_floor_p99_us")" \
                "$(ratio "$up99" "$(kv "$L" "${pre}urc_floor_p99_us")")" "$(verdict "$up99" 999.9)"
        rp99=$(kv "$L" "${pre}radio_signal_p99_us")
        [ -z "$rp99" ] || printf '| +CEREG URC on the tty -> PropertiesChanged(Network1 Registration home/roaming), p50 / p99 (us), %s | %s / %s | bare daemon pty -> Line signal: %s / %s | p99: %s | p99 < 1000 us | %s |\n' \
                "$where" "$(kv "$L" "${pre}radio_signal_p50_us")" "$rp99" \
                "$(kv "$L" "${pre}radio_floor_p50_us")" "$(kv "$L" "${pre}radio_floor_p99_us")" \
                "$(ratio "$rp99" "$(kv "$L" "${pre}radio_floor_p99_us")")" "$(verdict "$rp99" 999.9)"
        pp99=$(kv "$L" "${pre}phase_signal_p99_us")
        printf '| phase change on the tty -> PropertiesChanged(Phase), persisted first, p50 / p99 (us), %s | %s / %s | bare daemon pty -> Line signal: %s / %s | p99: %s | none (durable before announced) | - |\n' \
                "$where" "$(kv "$L" "${pre}phase_signal_p50_us")" "$pp99" \
                "$(kv "$L" "${pre}phase_floor_p50_us")" "$(kv "$L" "${pre}phase_floor_p99_us")" \
                "$(ratio "$pp99" "$(kv "$L" "${pre}phase_floor_p99_us")")"
done)

# Enqueue -> reply while a download holds the gate (nothing is sent), next to its floor: per
# sample, a bare Echo round trip plus a 48-byte append + fdatasync() in the same state dir.
ENQ_ROWS=$(L=$W/latency.kv; for pre in "" tmpfs_ base_; do
        case "$pre" in
        "") where="state dir on $FS" ;;
        tmpfs_) where="state dir on tmpfs" ;;
        base_) where="baseline, state dir on $FS" ;;
        esac
        ep99=$(kv "$L" "${pre}enqueue_reply_p99_us")
        [ -n "$ep99" ] || continue
        printf '| Enqueue(19,0,0,[01 02],{}) call -> reply (fdatasync'"'"'d), gated (held download), p50 / p99 (us), %s | %s / %s | Echo round trip + 48-byte append and fdatasync in the same dir, per sample: %s / %s (fdatasync alone: %s / %s; Echo alone: %s / %s) | p99: %s | p99 < 5000 us | %s |\n' \
                "$where" "$(kv "$L" "${pre}enqueue_reply_p50_us")" "$ep99" \
                "$(kv "$L" "${pre}enqueue_floor_p50_us")" "$(kv "$L" "${pre}enqueue_floor_p99_us")" \
                "$(kv "$L" "${pre}enqueue_fdatasync_p50_us")" "$(kv "$L" "${pre}enqueue_fdatasync_p99_us")" \
                "$(kv "$L" "${pre}enqueue_echo_p50_us")" "$(kv "$L" "${pre}enqueue_echo_p99_us")" \
                "$(ratio "$ep99" "$(kv "$L" "${pre}enqueue_floor_p99_us")")" "$(verdict "$ep99" 4999.9)"
done)

if [ -n "$ONLY" ]; then
        printf '\n| measurement | bc26d | floor | ratio | target | verdict |\n|---|---|---|---|---|---|\n%s\n%s\n\n' "$URC_ROWS" "$ENQ_ROWS"
        printf '```\n'; cat "$W/latency.kv"; printf '```\n'
        say "BENCH_ONLY=urc: $REVISION, $CPU, load at the start $LOAD_START, at the end $(cut -d' ' -f1-3 /proc/loadavg)"
        exit 0
fi

# ---- 4. parser --------------------------------------------------------------------------------
say "parser: ${PARSER_MB} MB, best of 5"
"$BENCH_DIR/bench-parser" "$PARSER_MB" 5 >"$W/parser.kv"

LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- results ---------------------------------------------------------------------------------
L=$W/latency.kv P=$W/parser.kv
verdict_ge() { if awk -v v="$1" -v t="$2" 'BEGIN { exit !(v + 0 >= t + 0) }'; then echo met; else echo MISSED; fi; }

R_RSS=$(ratio "$RSS0" "$RSSB")
R_SEND=$(kv "$L" send_at_p99_vs_bare_rtt_p99)
R_START=$(kv "$L" start_ratio)
R_UART=$(kv "$P" parser_full_vs_uart)
GROW1=$(( PD0D - PD0 ))
GROW2=$(( PD0D2 - PD0D ))
# Idle target: no wake-ups at all without the probe (no watchdog outside systemd); with the
# 60 s probe at most one probe per 30 s, i.e. IDLE_S / 30 of them.
MAXPROBES=$(( IDLE_S / 30 ))

TABLE=$(cat <<EOF
| measurement | bc26d | floor | ratio | target | verdict |
|---|---|---|---|---|---|
| idle syscalls over ${IDLE_S} s, probe off | $SYS0 ($WAKE0 epoll_wait) | bare daemon: $SYSB ($WAKEB epoll_wait) | - | 0 wake-ups (no watchdog here) | $(verdict "$WAKE0" 0) |
| idle syscalls over ${IDLE_S} s, default 60 s probe | $SYS60 ($WAKE60 epoll_wait, $PROBES60 probes (\`AT\`) + $RIDERS60 radio readings riding on them: \`AT+CEREG?\`, \`AT+CESQ\`, \`AT+CSQ\`, \`AT+QENG=0\` after each answered probe) | bare daemon: $SYSB | - | <= 1 probe per 30 s ($MAXPROBES) | $(verdict "$PROBES60" "$MAXPROBES") |
| VmRSS idle (KiB) | $RSS0 (probe 60 s: $RSS60) | bare daemon: $RSSB | $R_RSS | <= 1.3 | $(verdict "$R_RSS" 1.3) |
| VmHWM idle (KiB) | $HWM0 (probe 60 s: $HWM60) | bare daemon: $HWMB | $(ratio "$HWM0" "$HWMB") | - | - |
| Private_Dirty idle (KiB) | $PD0 (probe 60 s: $PD60) | bare daemon: $PDB | $(ratio "$PD0" "$PDB") | < 512 | $(verdict "$PD0" 511) |
| Private_Dirty after 1 DFOTA cycle (KiB) | $PD0D (+$GROW1) | bare daemon: $PDBD | - | growth <= 64 | $(verdict "$GROW1" 64) |
| Private_Dirty after 2 DFOTA cycles (KiB) | $PD0D2 (+$GROW2 over the 1st) | - | - | - | - |
| VmRSS / VmHWM after 2 DFOTA cycles (KiB) | $RSS0D2 / $HWM0D2 | bare daemon: $RSSBD / $HWMBD | $(ratio "$RSS0D2" "$RSSBD") | - | - |
| SendData call -> AT on the tty, p50 / p99 (us) | $(kv "$L" send_at_p50_us) / $(kv "$L" send_at_p99_us) | bare Echo round trip: $(kv "$L" bare_rtt_p50_us) / $(kv "$L" bare_rtt_p99_us) | p99: $R_SEND (p50: $(kv "$L" send_at_p50_vs_bare_rtt_p50)) | p99 <= 2 | $(verdict "$R_SEND" 2) |
$URC_ROWS
$ENQ_ROWS
| start -> bus name owned, median (ms) | $(kv "$L" start_bc26d_median_ms) (p90 $(kv "$L" start_bc26d_p90_ms)) | bare daemon: $(kv "$L" start_bare_median_ms) (p90 $(kv "$L" start_bare_p90_ms)) | $R_START | <= 2 | $(verdict "$R_START" 2) |
| parser: line_splitter_feed + at_classify (MB/s) | $(kv "$P" parser_full_mbps) ($(kv "$P" parser_ns_per_line) ns/line) | memchr split: $(kv "$P" parser_memchr_mbps); splitter alone: $(kv "$P" parser_split_only_mbps) | $(kv "$P" parser_full_vs_memchr) of memchr; $R_UART x 115200 baud | >= 1000 x 115200 baud | $(verdict_ge "$R_UART" 1000) |
EOF
)

printf '\n%s\n\n' "$TABLE"

{
        cat <<EOF
# bc26d benchmarks

Generated by \`bench/run-benchmarks.sh\` (\`make bench\`); every number below comes from one run,
each next to its floor measured in the same run. Benchmarks are never asserted in \`make check\`.

## Machine

- CPU: $CPU, $NPROC CPUs (\`nproc\`)
- Kernel: $KERNEL; Debian $DEBIAN
- libsystemd $LIBSYSTEMD, libevent $LIBEVENT, $DBUS_VERSION, $STRACE_VERSION
- Compiler: $CC_VERSION (the build's default CFLAGS)
- bc26d revision: $REVISION (HEAD $HEAD_COMMIT); files changed from HEAD: ${CHANGED:-none};
  temp files and the daemons' state dirs on $FS
- Load average (1/5/15 min) at the start: $LOAD_START; at the end: $LOAD_END
- Run: $(date -u '+%Y-%m-%d %H:%M UTC'); idle window ${IDLE_S} s, $SAMPLES latency samples, $STARTS starts each

## Commands

\`\`\`sh
./autogen.sh && mkdir -p build && cd build && ../configure && make bench
# which runs, with the programs built in build/bench/:
BC26D_BIN=\$PWD/bc26d BENCH_DIR=\$PWD/bench BC26_SIM=../tests/bc26sim.py sh ../bench/run-benchmarks.sh
# this run (from $(pwd)):
$RUN_COMMAND
\`\`\`

The script runs, in this order:

1. Two private dbus-daemons (\`type system\`, allow-all policy). Bus A: bc26d with
   \`probe_interval_s=0\` against \`tests/bc26sim.py\`, and \`bench/bare-daemon\` (sd-bus +
   libevent, one \`Echo\` method, owns \`org.bc26d.Bare\`). Bus B: bc26d with the default 60 s
   probe against a second simulator. Both bc26d run \`--log-level info\`, no watchdog (not under
   systemd), no GPIO.
2. Once both are \`ready\` (+2 s): VmRSS/VmHWM from \`/proc/PID/status\`, Private_Dirty from
   \`/proc/PID/smaps_rollup\`; then \`timeout -s INT ${IDLE_S} strace -c -f -p PID\` on the three at once.
   Wake-ups = \`epoll_wait\` returns; probes = \`AT\` lines in the simulator's log in that window;
   the radio readings that ride on each answered probe (issue 11: \`AT+CEREG?\`, \`AT+CESQ\`,
   \`AT+CSQ\`, \`AT+QENG=0\`, 4 commands, no timer of their own) are counted beside them. The
   probe-off daemon has the outbox enabled (the default) with an empty queue.
3. \`play dfota\` (the guide's transcript: COAPSTART ... 81 UPDATING lines, two boot preambles,
   END,0, re-registration) on bus A's bc26d, memory again; then a second cycle, memory again.
4. \`bench/bench-latency\` on bus A (bc26d with the default config against a C pty module in the
   bench process that timestamps the bytes as they arrive): $STARTS x (spawn -> NameOwnerChanged at
   the client) for the bare daemon and bc26d alternately; $SAMPLES x (bare \`Echo\` round trip, then
   \`SendData(19,0,0,[01 02])\` sent -> \`AT+QLWDATASEND\` read on the pty, the module answering
   \`OK\`/\`SEND OK\` and the reply awaited before the next); then $SAMPLES x (\`+CEREG: 5,...\` /
   \`+CEREG: 1,...\` in turn written -> \`PropertiesChanged\` on \`org.bc26d.Network1\` with
   \`Registration=roaming\`/\`home\` at the client; the status refresh each URC starts, \`AT+CEREG?\`
   (answering the URC's stat), \`AT+CESQ\`, \`AT+CSQ\`, \`AT+QENG=0\`, runs to its \`Updated\` change
   before the next sample); then COAPSTART, COAPEND,0, START and
   $SAMPLES x (\`+QIND: "FOTA","UPDATING",N%\` written -> \`PropertiesChanged\` with \`Progress=N\`
   dispatched at the client), then END,0 and re-registration; then $PHASE_SAMPLES phase changes
   (COAPSTART -> \`Phase=downloading\`, COAPEND,5 -> \`Phase=idle\` in turn, each persisted
   before it is announced); then COAPSTART again (a download holds the gate: \`State\`
   \`upgrading\`) and 1 + $SAMPLES x \`Enqueue(19,0,0,[01 02],{})\` call -> reply (the first one
   untimed), each right after its floors: a bare \`Echo\` round trip and a 48-byte
   \`write\` + \`fdatasync()\` of a file in the same state dir (48 bytes = one outbox record with a
   2-byte payload); nothing is sent while gated, and \`ClearQueue\` (untimed) empties the queue
   every 256 messages so that no \`[outbox]\` limit is reached (1024 messages, 50 % per user by
   default), then COAPEND,5. Each URC sample is taken right after its floor: the same line written
   on a second pty that \`bench/bare-daemon\` reads, to its \`Line\` signal at the client (tty ->
   daemon -> dbus-daemon -> client, no parsing, no file). Then the URC and Enqueue parts once
   more (\`--urc-only\`) with bc26d's state dir on tmpfs (\`$TMPFS_DIR\`), to show what the fsync
   costs${BASELINE_BIN:+, and once with the baseline binary \`$BASELINE_BIN\` on $FS}.
5. \`bench/bench-parser $PARSER_MB 5\`: the transcript's tty bytes (\`tests/transcript.c\`, with
   the NUL/0xFF garbage around reboots) repeated to $PARSER_MB MB, fed in 4096-byte chunks as
   \`serial.c\` reads them; every line's class is checked against the transcript; best of 5.

## Results

$TABLE

Targets (issue 6) are judged against the floor of the same run. The bare daemon is the floor
for memory, idle syscalls, start-up and the method round trip; 115200 baud 8N1 = 11520 bytes/s.

## Raw data

\`\`\`
$(cat "$W/latency.kv" "$W/parser.kv")
mem_idle0_kib(rss hwm private_dirty)=$RSS0 $HWM0 $PD0
mem_idle60_kib=$RSS60 $HWM60 $PD60
mem_bare_kib=$RSSB $HWMB $PDB
mem_idle0_after_dfota1_kib=$RSS0D $HWM0D $PD0D
mem_idle0_after_dfota2_kib=$RSS0D2 $HWM0D2 $PD0D2
mem_bare_end_kib=$RSSBD $HWMBD $PDBD
probes_in_idle_window_60s_probe=$PROBES60
\`\`\`

strace -c, bc26d, probe off:
\`\`\`
$(cat "$W/strace.idle0")
\`\`\`
strace -c, bc26d, default probe:
\`\`\`
$(cat "$W/strace.idle60")
\`\`\`
strace -c, bare daemon:
\`\`\`
$(cat "$W/strace.bare")
\`\`\`
EOF
        if [ -f "$BENCH_NOTES" ]; then
                printf '\n'
                cat "$BENCH_NOTES"
        fi
} >"$RESULTS"
say "wrote $RESULTS"
