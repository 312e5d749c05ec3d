#!/usr/bin/env bash
# npm test: type check, then every vitest suite (unit and integration against the real local stack,
# which the integration setup brings up and takes down). Ends with "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
# 1000+ client connections in one process need more descriptors than the usual 1024.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
# Outside .stack: the integration teardown removes that folder.
report=$(mktemp -t pg-pooling-vitest.XXXXXX.json)
trap 'rm -f "$report"' EXIT

typecheck=0
echo "== tsc --noEmit"
if tsc --noEmit; then echo "typecheck passed"; else typecheck=1; echo "typecheck FAILED"; fi

echo "== vitest"
vitest run --reporter=default --reporter=json --outputFile.json="$report"
status=$?

node -e '
const fs = require("node:fs");
const [report, typecheck] = process.argv.slice(1);
let passed = 0, failed = Number(typecheck);
try {
  const r = JSON.parse(fs.readFileSync(report, "utf8"));
  passed = r.numPassedTests; failed += r.numFailedTests + (r.numRuntimeErrorTestSuites ?? 0);
  if (!r.success && failed === 0) failed = 1;
} catch { failed += 1; }
console.log(`${passed + (Number(typecheck) ? 0 : 1)} passed, ${failed} failed`);
' "$report" "$typecheck"
[ "$status" -eq 0 ] && [ "$typecheck" -eq 0 ]
