#!/usr/bin/env bash
# The production line's runtime for the local stack: PgBouncer, PostgreSQL, pgbouncer_exporter,
# postgres_exporter and Prometheus (with promtool) from Debian's newest suite, which has the lines
# production runs while Debian 12 does not. mmdebstrap installs them into a root folder that the
# local stack's servers run in with chroot, on the machine's loopback like every other server.
#
# Built once per package set into a cache folder outside the repository, only when that folder
# does not already hold a finished root. The mirror is the one this machine's own apt sources name.
#   PG_POOLING_CACHE   where the root lives (default /var/cache/pg-pooling)
# Prints the root's path on its last line.
set -euo pipefail
suite=sid
# ca-certificates: PgBouncer loads the system CA bundle when its TLS is on, as on a cloud host.
packages=(pgbouncer postgresql-18 prometheus-pgbouncer-exporter prometheus-postgres-exporter prometheus ca-certificates)
cache=${PG_POOLING_CACHE:-/var/cache/pg-pooling}
key=$(printf '%s\n' "$suite" "${packages[@]}" | sha256sum | cut -c1-12)
root=$cache/root-$key

if [ -f "$root/etc/pg-pooling-root" ]; then
  echo "$root"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "production-root: building $root needs root (mmdebstrap --mode=root, chroot)" >&2
  exit 1
fi

# The Debian archive this machine installs from: the first deb source that is not the security one.
mirror() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i !~ /security/) { print $i; exit } }' "$f"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { if ($i !~ /security/) print $i; break } }' "$f"
  done
}
url=$(mirror | head -n 1)
if [ -z "$url" ]; then
  echo "production-root: no Debian mirror found in /etc/apt/sources.list.d/ or /etc/apt/sources.list" >&2
  exit 1
fi
if ! id -u postgres >/dev/null 2>&1; then
  echo "production-root: the OS user postgres is missing (Debian's postgresql-common creates it)" >&2
  exit 1
fi
uid=$(id -u postgres)
gid=$(id -g postgres)

command -v mmdebstrap >/dev/null 2>&1 || {
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends mmdebstrap >/dev/null
}

echo "production-root: building ${packages[*]} from $suite into $root" >&2
mkdir -p "$cache"
work=$root.partial
rm -rf "$work"
started=$(date +%s)
# The postgres user gets this machine's uid/gid before the packages create it, so files the local
# stack writes from outside the root belong to the same user inside it. The suite's Release file
# may be past its Valid-Until date on a mirror snapshot, hence that option.
mmdebstrap --variant=apt --mode=root --quiet \
  --aptopt='Acquire::Check-Valid-Until "false"' \
  --include="$(
    IFS=,
    echo "${packages[*]}"
  )" \
  --essential-hook="echo 'postgres:x:$gid:' >>\"\$1/etc/group\"" \
  --essential-hook="echo 'postgres:x:$uid:$gid:PostgreSQL administrator:/var/lib/postgresql:/bin/bash' >>\"\$1/etc/passwd\"" \
  --essential-hook="echo 'postgres:*:20000:0:99999:7:::' >>\"\$1/etc/shadow\"" \
  --customize-hook='rm -rf "$1/var/lib/postgresql/18/main" "$1/etc/postgresql/18"' \
  "$suite" "$work" "$url" >&2
# POSIX shared memory (Postgres's parallel workers) lives in the root's own /dev/shm.
chmod 1777 "$work/dev/shm"
versions=$(chroot "$work" dpkg-query -W -f='${Package} ${Version}\n' "${packages[@]}")
{
  echo "# pg-pooling production-line root: $suite, built $(date -u +%FT%TZ) in $(($(date +%s) - started)) s"
  echo "$versions"
} >"$work/etc/pg-pooling-root"
rm -rf "$root"
mv "$work" "$root"
# Roots of an earlier package set are stale: this one replaces them.
for old in "$cache"/root-*; do
  [ "$old" = "$root" ] || [ ! -d "$old" ] || rm -rf "$old"
done
echo "production-root: $(du -sh "$root" | cut -f1) in $(($(date +%s) - started)) s:" >&2
echo "$versions" | sed 's/^/  /' >&2
echo "$root"
