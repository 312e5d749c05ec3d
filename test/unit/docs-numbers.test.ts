import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { REPO_ROOT } from "../../platform/config.js";
import { DEFAULTS } from "../../platform/defaults.js";
import { LAG_PROBE } from "../../replicas/lag.js";
import { DEFAULTS as LIBRARY } from "../../resilience/defaults.js";

/**
 * Where the docs quote a default, the quote is written from DEFAULTS here: change a default and
 * this test names every sentence that must change with it.
 */
const seconds = (ms: number) => `${ms / 1000} s`;
const percent = (share: number) => `${share * 100} %`;
const r = DEFAULTS.reserveFraction;

const QUOTES: Record<string, string[]> = {
  "docs/architecture.md": [
    `\`superuserReservedConnections\` (default ${DEFAULTS.superuserReservedConnections})`,
    `\`max_prepared_statements = ${DEFAULTS.pgbouncer.maxPreparedStatements}\``,
    `transaction time × ${DEFAULTS.headroom})\``,
    `+ ${percent(DEFAULTS.headroom - 1)} headroom), at least ${DEFAULTS.minPoolSize},`,
    `pool_size × ${r.critical} / ${r.high} / ${r.normal} / ${r.low})\``,
    `probability ≤ ${DEFAULTS.sessionSpreadTail}`,
    `plus ${DEFAULTS.adminClientConnections} for admin consoles`,
    `Σ max_db_connections + ${DEFAULTS.openFilesSlack}\``,
    `idle timeout ${seconds(DEFAULTS.client.idleTimeoutMs)}`,
    `each entry gets ${DEFAULTS.roleLoginOverlapPerEntry} login more per process`,
  ],
  "docs/resilience.md": [
    `${LIBRARY.breaker.consecutiveFailures} consecutive failures _and_ ≥ ${percent(LIBRARY.breaker.failureRate)} failing over ${seconds(LIBRARY.breaker.failureWindowMs)}`,
    `needs ${LIBRARY.breaker.halfOpenProbes} good probes to close`,
    `every ${LAG_PROBE.intervalMs} ms with a ${seconds(LAG_PROBE.timeoutMs)} timeout`,
  ],
};

/** Prettier may wrap a quote over lines: compare with every run of whitespace as one space. */
const flat = (text: string) => text.replace(/\s+/g, " ");

describe.each(Object.entries(QUOTES))("%s quotes the defaults as they are", (file, quotes) => {
  const text = flat(readFileSync(join(REPO_ROOT, file), "utf8"));
  test.each(quotes)("%s", (quote) => expect(text).toContain(flat(quote)));
});

test("connect timeout is quoted as the share of query_wait_timeout it is", () => {
  expect(DEFAULTS.client.connectTimeoutShareOfQueryWait).toBe(0.5);
  expect(flat(readFileSync(join(REPO_ROOT, "docs/architecture.md"), "utf8"))).toContain(
    "connect timeout = half of `query_wait_timeout`",
  );
});
