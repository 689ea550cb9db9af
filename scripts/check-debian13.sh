#!/bin/sh
# check-debian13.sh - what CI runs for the gateways' platform, Raspberry Pi OS = Debian 13 (trixie):
#   Debian 13 amd64 root:  the README's test command (scripts/check.sh), the amd64 .deb and lintian;
#                          then the booted-systemd test (tests/booted-systemd.sh) with that .deb;
#   Debian 13 amd64 root cross-building for armhf: the armhf .deb and lintian;
#   Debian 13 arm64 root:  under qemu-user, the arm64 .deb built with the whole suite run inside
#                          the package build (integration tests with the daemon, simulator and
#                          dbus-daemon included): one build instead of two under emulation.
# Roots come from scripts/debian-root.sh (cached between runs, rebuilt when missing). The tree
# built is the committed one (git archive HEAD). Every stage names its distribution and
# architecture. Packages are copied to ./build/deb/debian13/. Run as root.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
# Emulated arm64 runs several times slower: every test wait is stretched (never loosened).
ARM64_TIME_SCALE=${BC26D_ARM64_TIME_SCALE:-6}
out="$top/build/deb/debian13"
mkdir -p "$out"

stage() { printf '\n=== [%s] %s\n' "$1" "$2"; }
elapsed() { echo "$(( $(date +%s) - $1 )) s"; }

# export_tree ROOT: the committed tree in ROOT:/root/bc26d, fresh.
export_tree() {
        rm -rf "$1/root/bc26d"
        mkdir -p "$1/root/bc26d"
        git archive --format=tar HEAD | tar -x -C "$1/root/bc26d"
}

if [ "${BC26D_SKIP_BOOTED:-0}" != 1 ] || [ "${BC26D_SKIP_AMD64:-0}" != 1 ]; then
        t=$(date +%s)
        stage "Debian 13 amd64" "root file system"
        amd64=$("$top/scripts/debian-root.sh" trixie amd64)
        echo "root: $amd64 ($(elapsed "$t"))"
fi

if [ "${BC26D_SKIP_AMD64:-0}" != 1 ]; then
        export_tree "$amd64"
        t=$(date +%s)
        stage "Debian 13 amd64" "test suite (scripts/check.sh)"
        "$top/scripts/in-root.sh" "$amd64" "cd /root/bc26d && ./scripts/check.sh"
        echo "($(elapsed "$t"))"
        stage "Debian 13 amd64" "demo (scripts/demo.sh; its output in build/demo-debian13.log)"
        "$top/scripts/in-root.sh" "$amd64" "cd /root/bc26d && ./scripts/demo.sh" >"$top/build/demo-debian13.log" 2>&1 ||
                { tail -n 40 "$top/build/demo-debian13.log"; echo "demo [Debian 13 amd64]: failed" >&2; exit 1; }
        grep -q '^Demo finished\.' "$top/build/demo-debian13.log" ||
                { tail -n 40 "$top/build/demo-debian13.log"; echo "demo [Debian 13 amd64]: did not finish" >&2; exit 1; }
        echo "demo [Debian 13 amd64]: $(grep -c '' "$top/build/demo-debian13.log") lines, Demo finished."
        t=$(date +%s)
        stage "Debian 13 amd64" "package (scripts/package.sh)"
        "$top/scripts/in-root.sh" "$amd64" "cd /root/bc26d && ./scripts/package.sh"
        cp "$amd64"/root/bc26d/build/deb/*.deb "$out/"
        echo "($(elapsed "$t"))"
        t=$(date +%s)
        stage "Debian 13 armhf" "package, cross-built on amd64 (scripts/package.sh armhf)"
        cross=$("$top/scripts/debian-root.sh" trixie amd64 armhf)
        export_tree "$cross"
        "$top/scripts/in-root.sh" "$cross" "cd /root/bc26d && ./scripts/package.sh armhf"
        cp "$cross"/root/bc26d/build/deb/*.deb "$out/"
        echo "($(elapsed "$t"))"
fi

if [ "${BC26D_SKIP_BOOTED:-0}" != 1 ]; then
        t=$(date +%s)
        stage "Debian 13 amd64" "booted systemd in a container (tests/booted-systemd.sh)"
        command -v systemd-nspawn >/dev/null || {
                DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends systemd-container >/dev/null; }
        deb=$(ls "$out"/bc26d_*_amd64.deb)
        status=0
        "$top/tests/booted-systemd.sh" "$amd64" "$deb" || status=$?
        case $status in
        0) ;;
        77) echo "booted systemd: SKIPPED (the reason is above)" ;;
        *) exit 1 ;;
        esac
        echo "($(elapsed "$t"))"
fi

if [ "${BC26D_SKIP_ARM64:-0}" != 1 ]; then
        t=$(date +%s)
        stage "Debian 13 arm64" "root file system (qemu-user)"
        arm64=$("$top/scripts/debian-root.sh" trixie arm64)
        echo "root: $arm64 ($(elapsed "$t"))"
        export_tree "$arm64"
        # One build under emulation, not two (about 8 minutes each): the package build runs the
        # whole suite (dh_auto_test = make check) before it packages.
        t=$(date +%s)
        stage "Debian 13 arm64" "test suite and package under qemu-user (BC26D_PACKAGE_CHECK=1 scripts/package.sh, waits x$ARM64_TIME_SCALE)"
        BC26D_TEST_TIME_SCALE=$ARM64_TIME_SCALE "$top/scripts/in-root.sh" "$arm64" \
                "uname -m && cd /root/bc26d && BC26D_PACKAGE_CHECK=1 ./scripts/package.sh"
        cp "$arm64"/root/bc26d/build/deb/*.deb "$out/"
        echo "($(elapsed "$t"))"
fi

stage "Debian 13" "packages"
ls -1 "$out"
