#!/usr/bin/env bash
# Provides PgBouncer 1.24.1, the production line's nearest packaged release, next to Debian 12's
# 1.18: the source package from Debian trixie (Debian's patches applied), built into a cache
# folder outside the repository, only when that folder does not already hold it.
#   PG_POOLING_CACHE   where builds live (default /var/cache/pg-pooling)
# Prints the binary's path on its last line.
set -euo pipefail
version=1.24.1
cache=${PG_POOLING_CACHE:-/var/cache/pg-pooling}
prefix=$cache/pgbouncer-$version
binary=$prefix/bin/pgbouncer

if [ -x "$binary" ] && "$binary" -V 2>/dev/null | grep -q "PgBouncer $version"; then
  echo "$binary"
  exit 0
fi

sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"
echo "pgbouncer-build: building PgBouncer $version from Debian trixie's source package into $prefix" >&2

# Build dependencies from Debian 12 (the parts configure needs; docs and tests are not built).
need=()
for pkg in build-essential dpkg-dev pkgconf libevent-dev libssl-dev libc-ares-dev libsystemd-dev; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  $sudo apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
fi

# trixie's deb-src for this download only: its own source list and package lists, so the
# machine's apt configuration is left as it was.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/src"
echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main" >"$work/sources.list"
apt_opts=(-o "Dir::Etc::sourcelist=$work/sources.list" -o Dir::Etc::sourceparts=- -o "Dir::State::Lists=$work/lists" -o APT::Get::List-Cleanup=0 -o APT::Sandbox::User=root)
apt-get "${apt_opts[@]}" update -q >/dev/null
(cd "$work/src" && apt-get "${apt_opts[@]}" --download-only source pgbouncer >/dev/null)
dsc=$(ls "$work"/src/pgbouncer_"$version"-*.dsc 2>/dev/null | head -n 1 || true)
if [ -z "$dsc" ]; then
  echo "pgbouncer-build: trixie no longer has PgBouncer $version: $(ls "$work"/src/*.dsc)" >&2
  exit 1
fi
# apt already checked every file against the hashes in trixie's signed Sources index; the .dsc's
# own signature needs debian-keyring, which would add nothing to that.
(cd "$work" && dpkg-source --no-check -x "$dsc" build >/dev/null)

cd "$work/build"
./configure --prefix="$prefix" --with-cares --with-systemd >"$work/configure.log" 2>&1 || {
  tail -n 30 "$work/configure.log" >&2
  exit 1
}
make -j"$(nproc)" >"$work/make.log" 2>&1 || {
  tail -n 30 "$work/make.log" >&2
  exit 1
}
$sudo mkdir -p "$prefix"
$sudo make install >/dev/null
"$binary" -V | head -n 1 >&2
echo "$binary"
