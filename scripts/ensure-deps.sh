#!/usr/bin/env bash
# Installs what `npm run demo` and `npm test` need, only when it is missing: the npm packages
# (which bring the pinned Node 22 through the `node` devDependency) and the Debian packages the
# local stack runs (PostgreSQL server, PgBouncer, Prometheus, postgres_exporter) and the checkers the tests call (systemd-analyze,
# logrotate, cloud-init schema).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x node_modules/.bin/node ] || [ ! -f node_modules/.package-lock.json ] ||
  [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "ensure-deps: installing npm packages (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
fi

missing=()
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || missing+=(postgresql)
ls /usr/lib/postgresql/*/bin/pg_basebackup >/dev/null 2>&1 || missing+=(postgresql-client)
command -v pgbouncer >/dev/null 2>&1 || [ -x /usr/sbin/pgbouncer ] || missing+=(pgbouncer)
command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
command -v logrotate >/dev/null 2>&1 || [ -x /usr/sbin/logrotate ] || missing+=(logrotate)
command -v runuser >/dev/null 2>&1 || missing+=(util-linux)
command -v cloud-init >/dev/null 2>&1 || missing+=(cloud-init)
command -v gpg >/dev/null 2>&1 || missing+=(gpg)
[ -f /usr/share/postgresql-common/pgdg/apt.postgresql.org.asc ] || missing+=(postgresql-common)
# Monitoring: the local stack's Prometheus (promtool checks and unit-tests the generated rules) and
# postgres_exporter for each local Postgres node.
command -v prometheus >/dev/null 2>&1 || missing+=(prometheus)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v prometheus-postgres-exporter >/dev/null 2>&1 || missing+=(prometheus-postgres-exporter)

if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  echo "ensure-deps: installing Debian packages: ${missing[*]}"
  $sudo apt-get update -q >/dev/null
  # Package services stay stopped (policy-rc.d on build machines); the local stack starts its own.
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi

# The production PgBouncer line (1.24, built from Debian trixie's source package), cached outside
# the repository: the integration tests run against it as well as against Debian 12's 1.18.
bash scripts/pgbouncer-build.sh >/dev/null
