#!/bin/sh
# bootstrap.sh [--deps-only] - install missing build dependencies (Debian 12 or 13, apt-get) and
# build bc26d out of tree in ./build. Idempotent: apt-get runs only when a package is missing;
# configure only once. The package names are the same on both releases.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)

DEPS="build-essential autoconf automake autoconf-archive libtool pkg-config \
libevent-dev libserialport-dev libsystemd-dev libinih-dev check libgpiod-dev \
python3 dbus groff-base systemd python3-prometheus-client"

missing=""
for p in $DEPS; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
        if [ "$(id -u)" -ne 0 ]; then
                echo "bootstrap: missing packages:$missing; run as root (or with sudo) to install them" >&2
                exit 1
        fi
        echo "bootstrap: installing$missing"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

[ "${1:-}" = --deps-only ] && exit 0

cd "$top"
[ -x configure ] || ./autogen.sh >/dev/null
mkdir -p build
cd build
[ -f Makefile ] || ../configure --enable-silent-rules ${BC26D_CONFIGURE_FLAGS:-} >/dev/null
make -j"$(nproc)" >/dev/null
echo "bootstrap: built $top/build/bc26d"
