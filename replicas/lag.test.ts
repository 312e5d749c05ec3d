import { describe, expect, test } from "vitest";
import { buildPlan } from "../platform/plan.js";
import { rawStack } from "../platform/fixtures.js";
import { validateStackConfig } from "../platform/validate.js";
import { LAG_PROBE_SQL, parseLagSeconds, REPLICA_LAG_EXPRESSION } from "./lag.js";
import { replicaTolerance } from "./tolerance.js";

describe("parseLagSeconds", () => {
  test.each([
    ["0", 0],
    ["12.503", 12.503],
    ["Infinity", Infinity],
  ])("%s", (text, seconds) => expect(parseLagSeconds(text)).toBe(seconds));

  test.each([[null], ["-1"], ["NaN"], ["soon"], [3]])("refuses %j, naming it", (text) => {
    expect(() => parseLagSeconds(text)).toThrow(
      `replica lag must be a number ≥ 0, got ${JSON.stringify(text)}`,
    );
  });
});

test("the probe reads the one lag expression, as text so +Infinity survives", () => {
  expect(LAG_PROBE_SQL).toBe(
    `SELECT (${REPLICA_LAG_EXPRESSION})::text AS lag_seconds /* pg-pooling lag probe */`,
  );
  // No window of samples, no primary sampling: the expression is evaluated on the replica alone.
  expect(REPLICA_LAG_EXPRESSION).not.toMatch(/pg_current_wal_lsn/);
});

describe("replicaTolerance", () => {
  const plan = (raw: Record<string, unknown>) => buildPlan(validateStackConfig(raw));

  test("the smallest tolerance of the services reading from replicas, naming them", () => {
    const p = plan(rawStack("prod"));
    const readers = p.services.filter((s) => s.entries.some((e) => e.role === "ro"));
    const smallest = Math.min(...readers.map((s) => s.maxReplicaLagSeconds));
    const t = replicaTolerance(p)!;
    expect(t.seconds).toBe(smallest);
    expect(t.strictest.length).toBeGreaterThan(0);
    for (const name of t.strictest)
      expect(p.services.find((s) => s.name === name)!.maxReplicaLagSeconds).toBe(smallest);
    expect(t.replicas).toEqual(
      Array.from({ length: p.config.database.replicas }, (_, i) => `replica${i + 1}`),
    );
  });

  test("none when no service reads from replicas", () => {
    const p = plan(rawStack("prod"));
    const writersOnly = {
      ...p,
      services: p.services.map((s) => ({
        ...s,
        entries: s.entries.filter((e) => e.role === "rw"),
      })),
    };
    expect(replicaTolerance(writersOnly)).toBeUndefined();
  });
});
