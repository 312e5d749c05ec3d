import { expect, test } from "vitest";
import { checkExpression } from "./promql.js";
import { observationQueries } from "./tuning-queries.js";

test("every tuning query names only catalogued metrics and labels, with and without replicas", () => {
  for (const replicas of [0, 2]) {
    const queries = observationQueries(
      "orders",
      { seconds: 3600, rateSeconds: 60, stepSeconds: 15 },
      replicas,
    );
    for (const [field, expr] of Object.entries(queries))
      expect([field, checkExpression(expr)]).toEqual([field, []]);
  }
});

test("the ro share reads the service's ro entries only, the rest all of its entries", () => {
  const q = observationQueries("orders", { seconds: 600, rateSeconds: 30, stepSeconds: 2 }, 2);
  expect(q.readShare).toContain('database=~"orders_ro_replica1|orders_ro_replica2"');
  expect(q.peakTps).toBe(
    'max_over_time(sum(rate(pgbouncer_stats_totals_sql_transactions_pooled_total{database=~"orders(_ro_replica[1-9][0-9]*)?"}[30s]))[600s:2s])',
  );
});
