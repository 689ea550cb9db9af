#!/bin/sh
# debian-root.sh - a Debian root file system for the other-platform CI stages and the booted-systemd
# test: `debian-root.sh SUITE ARCH` creates (or reuses) a minbase debootstrap of SUITE for ARCH with
# bc26d's build dependencies, systemd, dbus, logind and polkitd, and prints its path. With
# CROSS_ARCH: a root that cross-builds for it instead (no test or boot packages). Foreign architectures
# run under qemu-user through binfmt_misc (set up here). Cached in $BC26D_ROOT_CACHE (default
# /var/cache/bc26d-ci) and rebuilt whenever this script's package list changes; a missing or
# half-made cache only costs time, never correctness (roots are built in a temporary directory and
# renamed into place when complete).
set -eu

suite=${1:?usage: debian-root.sh SUITE ARCH [CROSS_ARCH]}
arch=${2:?usage: debian-root.sh SUITE ARCH [CROSS_ARCH]}
cross=${3:-}
cache=${BC26D_ROOT_CACHE:-/var/cache/bc26d-ci}
mirror=${BC26D_DEBIAN_MIRROR:-http://deb.debian.org/debian}
root="$cache/$suite-$arch${cross:+-cross-$cross}"

TOOLS="build-essential autoconf automake autoconf-archive libtool pkg-config debhelper dpkg-dev \
fakeroot lintian git ca-certificates"
LIBS="libevent-dev libserialport-dev libsystemd-dev libinih-dev libgpiod-dev"
# The test suite's and a booted container's needs.
RUNTIME="check python3 dbus groff-base systemd systemd-sysv libpam-systemd polkitd python3-prometheus-client"
if [ -n "$cross" ]; then
        # A cross root (Debian's multiarch cross profile, nocheck): the -dev libraries for CROSS
        # only; several of them cannot be co-installed with the native ones (libevent-dev).
        PACKAGES="$TOOLS crossbuild-essential-$cross pkgconf:$cross $(for l in $LIBS; do printf '%s:%s ' "$l" "$cross"; done)"
else
        PACKAGES="$TOOLS $LIBS $RUNTIME"
fi
stamp="suite=$suite arch=$arch cross=$cross packages=$PACKAGES"

say() { echo "debian-root [$suite $arch${cross:+ -> $cross}]: $*" >&2; }
die() { say "$*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap, chroot, mounts)"

if [ -f "$root/.bc26d-root" ] && [ "$(cat "$root/.bc26d-root")" = "$stamp" ]; then
        say "reusing $root"
        echo "$root"
        exit 0
fi

need=""
command -v debootstrap >/dev/null || need="$need debootstrap"
host=$(dpkg --print-architecture)
if [ "$arch" != "$host" ] && [ "$arch" != i386 ]; then
        command -v qemu-aarch64-static >/dev/null || need="$need qemu-user-static"
        command -v update-binfmts >/dev/null || need="$need binfmt-support"
fi
if [ -n "$need" ]; then
        say "installing$need"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends $need >/dev/null
fi

if [ "$arch" != "$host" ]; then
        case $arch in
        arm64) qemu=qemu-aarch64 ;;
        armhf|armel) qemu=qemu-arm ;;
        *) die "no qemu-user mapping for architecture $arch" ;;
        esac
        [ -e /proc/sys/fs/binfmt_misc/register ] ||
                mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc ||
                die "cannot mount binfmt_misc: foreign-architecture binaries cannot run here"
        [ -e "/proc/sys/fs/binfmt_misc/$qemu" ] || update-binfmts --enable "$qemu" >/dev/null 2>&1 || true
        grep -q '^enabled' "/proc/sys/fs/binfmt_misc/$qemu" 2>/dev/null ||
                die "binfmt_misc has no enabled $qemu entry (update-binfmts --enable $qemu failed): $arch binaries cannot run here"
fi

mkdir -p "$cache"
tmp="$root.tmp"
rm -rf "$tmp" "$root"
say "debootstrap (minbase) from $mirror into $tmp"
start=$(date +%s)
log="$root.log"
if ! debootstrap --arch="$arch" --variant=minbase "$suite" "$tmp" "$mirror" >"$log" 2>&1; then
        tail -n 30 "$log" >&2
        die "debootstrap failed (full log: $log)"
fi
cp /etc/resolv.conf "$tmp/etc/resolv.conf" 2>/dev/null || true
# apt, not debootstrap's own resolver, installs the rest: it knows virtual packages
# (perl-openssl-abi-3, needed by lintian's dependencies, is one).
[ -n "$cross" ] && chroot "$tmp" dpkg --add-architecture "$cross"
say "installing the build dependencies, systemd, dbus, logind, polkitd"
mount -t proc proc "$tmp/proc"
trap 'umount "$tmp/proc" 2>/dev/null || true' EXIT
# shellcheck disable=SC2086 # word splitting of the package lists is intended
if ! chroot "$tmp" sh -c "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
                --no-install-recommends $PACKAGES" >>"$log" 2>&1; then
        tail -n 30 "$log" >&2
        die "installing packages failed (full log: $log)"
fi
umount "$tmp/proc"
trap - EXIT
chroot "$tmp" apt-get clean
echo "$stamp" >"$tmp/.bc26d-root"
mv "$tmp" "$root"
say "made $root in $(( $(date +%s) - start )) s"
echo "$root"
