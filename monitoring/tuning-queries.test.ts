import { expect, test } from "vitest";
import { loadStack } from "../platform/config.js";
import { buildPlan } from "../platform/plan.js";
import { checkExpression } from "./promql.js";
import { lagProbeTps, observationQueries } from "./tuning-queries.js";

const plan = buildPlan(loadStack("local"));
const service = (name: string) => plan.services.find((s) => s.name === name)!;

test("every tuning query names only catalogued metrics and labels, with ro entries and without", () => {
  const withoutRo = { ...service("orders"), entries: service("orders").entries.slice(0, 1) };
  for (const s of [service("orders"), withoutRo]) {
    const queries = observationQueries(s, { seconds: 3600, rateSeconds: 60, stepSeconds: 15 });
    for (const [field, expr] of Object.entries(queries))
      expect([field, checkExpression(expr)]).toEqual([field, []]);
  }
});

test("the library's lag probes are left out: every instance probes each of its replicas 4 times a second", () => {
  const orders = service("orders");
  expect(orders.entries.filter((e) => e.role === "ro")).toHaveLength(2);
  expect(lagProbeTps(orders)).toBe(orders.instances * 2 * 4);
  const q = observationQueries(orders, { seconds: 600, rateSeconds: 30, stepSeconds: 2 });
  const probes = orders.instances * 8;
  expect(q.peakTps).toBe(
    `max_over_time(clamp_min(sum(rate(pgbouncer_stats_totals_sql_transactions_pooled_total{database=~"orders(_ro_replica[1-9][0-9]*)?"}[30s])) - ${probes}, 0)[600s:2s])`,
  );
  expect(q.readShare).toContain(
    `{database=~"orders_ro_replica1|orders_ro_replica2"}[600s])) - ${probes * 600}`,
  );
});
