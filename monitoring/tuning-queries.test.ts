import { expect, test } from "vitest";
import { loadStack } from "../platform/config.js";
import { buildPlan } from "../platform/plan.js";
import { checkExpression } from "./promql.js";
import { observationQueries } from "./tuning-queries.js";

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

test("the library's lag probes, as pg_stat_statements counted them on the replicas, are left out", () => {
  const q = observationQueries(service("orders"), {
    seconds: 600,
    rateSeconds: 30,
    stepSeconds: 2,
  });
  expect(q.peakTps).toBe(
    'max_over_time(clamp_min(sum(rate(pgbouncer_stats_totals_sql_transactions_pooled_total{database=~"orders(_ro_replica[1-9][0-9]*)?"}[30s])) - ' +
      '(sum(rate(pgpooling_lag_probes_calls_total{datname="orders"}[30s])) or vector(0)), 0)[600s:2s])',
  );
  expect(q.readShare).toContain(
    'clamp_min(sum(increase(pgbouncer_stats_totals_sql_transactions_pooled_total{database=~"orders_ro_replica1|orders_ro_replica2"}[600s])) - (sum(increase(pgpooling_lag_probes_calls_total{datname="orders"}[600s])) or vector(0)), 0)',
  );
});
