#!/bin/sh
# package.sh - build the Debian package from the committed tree (dpkg-buildpackage -us -uc -b) in a
# scratch directory and check it with lintian (errors fail). Tests are run by check.sh, so the
# package build itself skips them (DEB_BUILD_OPTIONS=nocheck). Output: ./build/deb/.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/bootstrap.sh" >/dev/null

missing=""
for p in debhelper dpkg-dev lintian fakeroot; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
        [ "$(id -u)" -eq 0 ] || { echo "package: missing packages:$missing; run as root" >&2; exit 1; }
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

version=$(dpkg-parsechangelog -l "$top/debian/changelog" -S Version)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git -C "$top" archive --format=tar --prefix="bc26d-$version/" HEAD | tar -x -C "$work"
(cd "$work/bc26d-$version" && dpkg-checkbuilddeps && DEB_BUILD_OPTIONS=nocheck dpkg-buildpackage -us -uc -b >"$work/build.log" 2>&1) ||
        { tail -n 40 "$work/build.log"; exit 1; }
mkdir -p "$top/build/deb"
cp "$work"/*.deb "$work"/*.changes "$top/build/deb/"
lintian --fail-on error "$work"/*.changes
echo "package: built $(ls "$top"/build/deb/*.deb | tr '\n' ' ')and lintian found no errors"
