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
trap 'rm -f "$report"' EXIT

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

echo "== vitest"
vitest run --reporter=default --reporter=json --outputFile.json="$report"
vitest_status=$?

check "demo (short run, leaves nothing running)" demo_leaves_nothing

node -e '
const fs = require("node:fs");
const [report, vitestStatus, checksPassed, checksFailed] = process.argv.slice(1);
let passed = Number(checksPassed), failed = Number(checksFailed);
try {
  const r = JSON.parse(fs.readFileSync(report, "utf8"));
  passed += r.numPassedTests;
  failed += r.numFailedTests + (r.numRuntimeErrorTestSuites ?? 0);
  if (Number(vitestStatus) !== 0 && r.numFailedTests === 0) failed += 1; // setup or teardown failed
} catch {
  failed += 1; // no report: vitest did not run
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
' "$report" "$vitest_status" "$checks_passed" "$checks_failed"
