#!/bin/sh
# in-root.sh - run a shell command inside a root file system made by debian-root.sh, with /proc,
# /sys and /dev (ptys included: the tests' simulator needs them) mounted for the command's
# duration and unmounted afterwards, whatever the command's outcome: `in-root.sh ROOT COMMAND`.
set -eu
root=${1:?usage: in-root.sh ROOT COMMAND}
cmd=${2:?usage: in-root.sh ROOT COMMAND}

mounted=""
cleanup() {
        for m in $mounted; do umount -R -l "$m" 2>/dev/null || true; done
}
trap cleanup EXIT INT TERM

bind() {        # bind SRC DEST: a recursive bind whose unmount cannot reach the host's own mounts
        mount --rbind "$1" "$2"
        mount --make-rslave "$2"
        mounted="$2 $mounted"
}

mount -t proc proc "$root/proc"
mounted="$root/proc"
bind /sys "$root/sys"
bind /dev "$root/dev"
cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
status=0
chroot "$root" /usr/bin/env -i HOME=/root TERM="${TERM:-dumb}" LANG=C.UTF-8 \
        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        BC26D_TEST_TIME_SCALE="${BC26D_TEST_TIME_SCALE:-}" /bin/sh -c "$cmd" || status=$?
exit $status
