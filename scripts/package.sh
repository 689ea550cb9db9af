#!/bin/sh
# package.sh [HOST_ARCH] - build the Debian package (dpkg-buildpackage -us -uc -b) in a scratch
# directory and check it with lintian (errors fail). Without HOST_ARCH: a native build. With one
# (e.g. armhf on amd64): a cross build with Debian's multiarch cross profile; its build
# dependencies for HOST_ARCH must be installed (debian-root.sh does it for armhf).
# The tree packaged is the committed one (git archive HEAD) in a git checkout, else the tree as it
# is (a copy without build directories: the CI roots get an exported tree). Tests are run by
# check.sh, so the package build skips them unless BC26D_PACKAGE_CHECK=1 (then the package build
# runs the whole suite: one build instead of two under emulation). Output: ./build/deb/.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
native=$(dpkg --print-architecture)
host_arch=${1:-$native}
. /etc/os-release
where="Debian ${VERSION_ID:-$VERSION_CODENAME} $host_arch"
[ "$host_arch" = "$native" ] || where="$where (cross-built on $native)"

[ "$host_arch" = "$native" ] && "$top/scripts/bootstrap.sh" --deps-only

missing=""
for p in debhelper dpkg-dev lintian fakeroot; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
        [ "$(id -u)" -eq 0 ] || { echo "package [$where]: missing packages:$missing; run as root" >&2; exit 1; }
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

version=$(dpkg-parsechangelog -l "$top/debian/changelog" -S Version)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
src="$work/bc26d-$version"
if git -C "$top" rev-parse --git-dir >/dev/null 2>&1; then
        git -C "$top" archive --format=tar --prefix="bc26d-$version/" HEAD | tar -x -C "$work"
else
        mkdir "$src"
        tar -C "$top" --exclude=./build --exclude=./build-sanitizers --exclude=./autom4te.cache --exclude=./.git -cf - . | tar -x -C "$src"
fi

opts="nocheck"
[ "${BC26D_PACKAGE_CHECK:-0}" = 1 ] && opts=""
profiles=""
archflag=""
if [ "$host_arch" != "$native" ]; then
        profiles="-Pcross,nocheck"
        archflag="-a$host_arch"
        opts="nocheck"
fi
# shellcheck disable=SC2086 # profiles and archflag are empty or one word each
if ! (cd "$src" && dpkg-checkbuilddeps $archflag $profiles &&
      DEB_BUILD_OPTIONS="$opts parallel=$(nproc)" dpkg-buildpackage -us -uc -b $archflag $profiles >"$work/build.log" 2>&1); then
        tail -n 60 "$work/build.log"
        grep -E '^(FAIL|ERROR): |:[FE]:' "$work/build.log" || true
        echo "package [$where]: dpkg-buildpackage failed (above: the end of its log and any failed test)" >&2
        exit 1
fi
if [ -z "$opts" ]; then
        # The suite ran inside the package build (dh_auto_test): its result line, as check.sh's.
        pass=$(sed -n 's/^# PASS: *//p' "$work/build.log" | tail -n 1)
        fail=$(sed -n 's/^# FAIL: *//p' "$work/build.log" | tail -n 1)
        echo "test suite [$where] in the package build: ${pass:-?} passed, ${fail:-?} failed"
fi
mkdir -p "$top/build/deb"
cp "$work"/*.deb "$work"/*.changes "$top/build/deb/"
lintian --fail-on error "$work"/*.changes
debs=$(cd "$work" && ls ./*.deb | sed 's|^\./||' | tr '\n' ' ')
echo "package [$where]: built ${debs}in $top/build/deb and lintian found no errors"
