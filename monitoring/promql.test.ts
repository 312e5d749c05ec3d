import { describe, expect, test } from "vitest";
import { checkExpression, expressionParts, tokenize } from "./promql.js";

describe("expressionParts", () => {
  test("finds selectors with their matchers, grouping labels, and skips ranges and strings", () => {
    const parts = expressionParts(
      'sum by (host, process) (rate(pgbouncer_stats_totals_client_wait_seconds_total{database=~"a|b", host!="x"}[5m] offset 1m)) / on (host) group_left (node) max without (instance) (pg_up)',
    );
    expect(parts.selectors).toEqual([
      { metric: "pgbouncer_stats_totals_client_wait_seconds_total", labels: ["database", "host"] },
      { metric: "pg_up", labels: [] },
    ]);
    expect(parts.groupingLabels).toEqual(["host", "process", "host", "node", "instance"]);
    expect(parts.unknownFunctions).toEqual([]);
  });

  test("grouping after the argument and keywords between vectors", () => {
    const parts = expressionParts(
      "sum(up) by (job) > bool 0 and on () pgbouncer_up unless pg_up == 1e3",
    );
    expect(parts.selectors.map((s) => s.metric)).toEqual(["up", "pgbouncer_up", "pg_up"]);
    expect(parts.groupingLabels).toEqual(["job"]);
  });

  test("tokens: durations, numbers, strings with escapes", () => {
    expect(tokenize('x{a="q\\"}"}[1h30m] > 0.5').map((t) => [t.kind, t.text])).toEqual([
      ["ident", "x"],
      ["punct", "{"],
      ["ident", "a"],
      ["op", "="],
      ["string", 'q\\"}'],
      ["punct", "}"],
      ["punct", "["],
      ["duration", "1h30m"],
      ["punct", "]"],
      ["op", ">"],
      ["number", "0.5"],
    ]);
  });
});

describe("checkExpression", () => {
  test.each([
    'sum by (host, process, database) (pgbouncer_pools_server_active_connections{database="orders"}) / 14 >= 0.9',
    'max by (node) (pgpooling_replication_lag_seconds{node=~"replica1|replica2"}) > 1',
    'max by (job, instance, host, process, node) (up{job=~"pgbouncer|postgres"}) == 0',
    "sum by (service, target) (rate(pgpooling_client_reads_total[5m]))",
    'sum by (node) (pgpooling_role_connections{usename=~"orders"})',
    'count(ALERTS{alertstate="firing", severity="critical"})',
    'sum by (host, exported_host) (pgbouncer_databases_pool_size{name="orders"})',
  ])("accepts %s", (expr) => {
    expect(checkExpression(expr)).toEqual([]);
  });

  test.each([
    [
      'pgbouncer_pools_server_active{database="orders"}',
      /metric pgbouncer_pools_server_active is not in the catalogue/,
    ],
    ['pgbouncer_pools_client_waiting_connections{datname="orders"}', /has no label datname/],
    [
      "sum by (datname) (pgbouncer_pools_client_waiting_connections)",
      /grouping label datname is on none/,
    ],
    ['pgbouncer_stats_queries_pooled_total{database="a"}', /not in the catalogue/],
    ["pg_replication_lag", /not in the catalogue/],
    ['pgbouncer_pools_server_active_connections{exported_host="x"}', /has no label exported_host/],
    ["rates(pg_up[1m])", /unknown function rates/],
    ['{__name__="pg_up"}', /without a metric name/],
    ["1 + 1", /selects no metric/],
    ['pg_up{node="a}', /unterminated string/],
  ])("rejects %s", (expr, problem) => {
    const problems = checkExpression(expr);
    expect(problems.join("\n")).toMatch(problem);
  });
});
