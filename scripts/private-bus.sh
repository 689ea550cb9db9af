# private-bus.sh - sourced by the demo and the valgrind script: a private dbus-daemon acting as
# the system bus (never the real one), and the BC26 simulator on a pty. Callers define $work
# (a temp dir), $top (the source tree) and the array pids (processes to stop at exit).

# start_private_bus: start the bus in $work and export DBUS_SYSTEM_BUS_ADDRESS.
start_private_bus() {
        cat >"$work/bus.conf" <<CONF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=$work/bus.sock</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/><allow own="*"/>
    <allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/>
  </policy>
</busconfig>
CONF
        # The address is printed once the bus listens (the socket file exists from bind(), earlier).
        dbus-daemon --config-file="$work/bus.conf" --nofork --nopidfile --nosyslog --print-address=1 \
                >"$work/bus.out" 2>&1 &
        pids+=($!)
        for _ in $(seq 300); do grep -q 'unix:' "$work/bus.out" 2>/dev/null && break; sleep 0.1; done
        export DBUS_SYSTEM_BUS_ADDRESS="unix:path=$work/bus.sock"
}

# start_simulator [ARGS...]: the simulated BC26 on $work/tty, controlled through $work/sim.sock.
start_simulator() {
        python3 "$top/tests/bc26sim.py" --link "$work/tty" --control "$work/sim.sock" --log "$work/sim.log" \
                "$@" >"$work/sim.out" 2>&1 &
        pids+=($!)
        for _ in $(seq 100); do [ -S "$work/sim.sock" ] && break; sleep 0.1; done
}
