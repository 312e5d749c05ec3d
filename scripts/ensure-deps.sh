#!/usr/bin/env bash
# Installs what `npm run demo` and `npm test` need, only when it is missing: the npm packages
# (which bring the pinned Node 22 through the `node` devDependency), the Debian 12 packages (the
# oldest PgBouncer line supported, HAProxy, mmdebstrap, and the checkers the tests call:
# systemd-analyze, logrotate, cloud-init schema), and the production-line root with the PgBouncer,
# PostgreSQL, exporters and Prometheus production runs (scripts/production-root.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x node_modules/.bin/node ] || [ ! -f node_modules/.package-lock.json ] ||
  [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "ensure-deps: installing npm packages (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
fi

missing=()
# Debian 12's PgBouncer 1.18 (the oldest line supported; its package creates the postgres user).
command -v pgbouncer >/dev/null 2>&1 || [ -x /usr/sbin/pgbouncer ] || missing+=(pgbouncer)
command -v mmdebstrap >/dev/null 2>&1 || missing+=(mmdebstrap)
command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
command -v logrotate >/dev/null 2>&1 || [ -x /usr/sbin/logrotate ] || missing+=(logrotate)
command -v runuser >/dev/null 2>&1 || missing+=(util-linux)
command -v cloud-init >/dev/null 2>&1 || missing+=(cloud-init)
command -v gpg >/dev/null 2>&1 || missing+=(gpg)
[ -f /usr/share/postgresql-common/pgdg/apt.postgresql.org.asc ] || missing+=(postgresql-common)
# The local load balancer (the NLB's stand-in) and the clients the integration tests drive:
# Debian's Python with psycopg2 and psycopg 3, and PostgreSQL JDBC on a JDK.
command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || missing+=(haproxy)
/usr/bin/python3 -c 'import psycopg2' 2>/dev/null || missing+=(python3-psycopg2)
/usr/bin/python3 -c 'import psycopg' 2>/dev/null || missing+=(python3-psycopg)
[ -f /usr/share/java/postgresql.jar ] || missing+=(libpostgresql-jdbc-java)
command -v javac >/dev/null 2>&1 || missing+=(default-jdk-headless) # java Jdbc.java compiles in memory

if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  echo "ensure-deps: installing Debian packages: ${missing[*]}"
  $sudo apt-get update -q >/dev/null
  # Package services stay stopped (policy-rc.d on build machines); the local stack starts its own.
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi

# The production line's runtime, cached outside the repository; built only when it is missing.
bash scripts/production-root.sh >/dev/null
