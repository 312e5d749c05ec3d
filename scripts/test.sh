#!/usr/bin/env bash
# npm test: type check, format check, every vitest suite (unit, and integration against the real
# local stack, which the integration setup brings up and takes down), then a short run of the demo.
# Ends with "N passed, N failed": vitest's tests plus one per other check.
set -uo pipefail
cd "$(dirname "$0")/.."
# 1000+ client connections in one process need more descriptors than the usual 1024.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
# Outside .stack: the integration teardown removes that folder.
report=$(mktemp -t pg-pooling-vitest.XXXXXX.json)
report118=$(mktemp -t pg-pooling-vitest-118.XXXXXX.json)
trap 'rm -f "$report" "$report118"' EXIT

checks_passed=0
checks_failed=0
check() {
  local name=$1
  shift
  echo "== $name"
  if "$@"; then
    checks_passed=$((checks_passed + 1))
    echo "$name: passed"
  else
    checks_failed=$((checks_failed + 1))
    echo "$name: FAILED"
  fi
}

demo_leaves_nothing() {
  DEMO_SECONDS=3 tsx cli/demo.ts || return 1
  # nothing of the stack may survive the demo: no server process, no state folder
  ! pgrep -af 'pgbouncer.*/pgbouncer-[0-9]+/pgbouncer.ini|postgres -D .*/postgres/(primary|replica)'
}

check "typecheck (tsc --noEmit)" tsc --noEmit
check "format (prettier --check)" prettier --check --log-level warn .

echo "== vitest (unit, and integration on the production line: PgBouncer 1.26, PostgreSQL 18)"
vitest run --reporter=default --reporter=json --outputFile.json="$report"
vitest_status=$?

# The oldest line supported, Debian 12's PgBouncer 1.18: the tests of what differs per line.
echo "== vitest (integration, line-specific, on Debian 12's PgBouncer 1.18)"
PG_POOLING_PGBOUNCER=1.18 vitest run --project integration --reporter=default --reporter=json \
  --outputFile.json="$report118" test/integration/pgbouncer-line.test.ts test/integration/capabilities.live.test.ts
vitest118_status=$?

check "demo (short run, leaves nothing running)" demo_leaves_nothing

node -e '
const fs = require("node:fs");
const [checksPassed, checksFailed, ...runs] = process.argv.slice(1);
let passed = Number(checksPassed), failed = Number(checksFailed);
for (let i = 0; i < runs.length; i += 2) {
  const [report, status] = [runs[i], Number(runs[i + 1])];
  try {
    const r = JSON.parse(fs.readFileSync(report, "utf8"));
    passed += r.numPassedTests;
    failed += r.numFailedTests + (r.numRuntimeErrorTestSuites ?? 0);
    if (status !== 0 && r.numFailedTests === 0) failed += 1; // setup or teardown failed
  } catch {
    failed += 1; // no report: vitest did not run
  }
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
' "$checks_passed" "$checks_failed" "$report" "$vitest_status" "$report118" "$vitest118_status"
