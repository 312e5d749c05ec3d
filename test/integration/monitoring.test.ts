import { expect, test } from "vitest";
import { LOADTEST_DEFAULTS } from "../../loadtest/defaults.js";
import { burst } from "../../loadtest/burst.js";
import { runHarness } from "../../loadtest/harness.js";
import { waitFor } from "../../local/exec.js";
import { promQuery, prometheusUrl } from "../../local/monitoring.js";
import { processIds, startProcess, stopProcess } from "../../local/pgbouncer.js";
import { stackStatus } from "../../local/stack.js";
import { alertRuleGroups } from "../../monitoring/alerts.js";
import { dashboardQueries } from "../../monitoring/dashboards.js";
import { plan, secrets } from "./helpers.js";

/**
 * The generated monitoring against the live local Prometheus: the rules it loaded are the plan's,
 * every dashboard query and every alert's input has series while the services run, and exhausting
 * one service's pool fires that service's alerts (the ALERTS series) and only those, which resolve
 * once the load is gone.
 */
const rules = alertRuleGroups(plan).flatMap((g) => g.rules);
/** An alert's expression without its threshold: the series it compares. */
const input = (expr: string) => expr.replace(/\s*(>=|<=|==|!=|>|<)\s*[-+0-9.e]+\s*$/, "");

test("status says where Prometheus is, and Prometheus runs the plan's rules", async () => {
  expect((await stackStatus(plan)).prometheus).toBe(prometheusUrl());
  const loaded = (await (await fetch(`${prometheusUrl()}/api/v1/rules`)).json()) as {
    data: { groups: { rules: { name: string; query: string }[] }[] };
  };
  // Prometheus prints queries in its own spacing: compare them without whitespace.
  const bare = (name: string, expr: string) => `${name} ${expr.replace(/\s+/g, "")}`;
  const live = loaded.data.groups.flatMap((g) => g.rules.map((r) => bare(r.name, r.query)));
  expect(live.sort()).toEqual(rules.map((r) => bare(r.alert, r.expr)).sort());
});

test("every dashboard query and every alert's input returns series while the services run", async () => {
  const host = plan.hosts[1]!;
  const processes = processIds(host);
  const empty: string[] = [];
  await runHarness({
    plan,
    secrets,
    clients: 400,
    durationMs: 18_000,
    rate: LOADTEST_DEFAULTS.rate,
    workers: LOADTEST_DEFAULTS.workers,
    direct: false,
    memory: false,
    command: "test/integration/monitoring.test.ts",
    hooks: [
      // A short host outage gives the library something to count: retries, failed attempts.
      {
        atMs: 3_000,
        label: "kill pgbouncer-2",
        run: async () => {
          await Promise.all(processes.map((k) => stopProcess(host, k, ["SIGKILL"])));
        },
      },
      {
        atMs: 6_000,
        label: "start pgbouncer-2",
        run: async () => {
          for (const k of processes) await startProcess(plan, host, k);
        },
      },
      {
        atMs: 13_000,
        label: "query Prometheus",
        run: async () => {
          const queries = [
            ...dashboardQueries(plan).map((q) => ({
              what: `${q.dashboard} / ${q.panel}`,
              expr: q.expr,
            })),
            ...[...new Set(rules.map((r) => input(r.expr)))].map((expr) => ({
              what: "alert input",
              expr,
            })),
          ];
          for (const q of queries) {
            if ((await promQuery(q.expr)).length === 0) empty.push(`${q.what}: ${q.expr}`);
          }
        },
      },
    ],
  });
  expect(empty).toEqual([]);
}, 120_000);

const firing = async (alertname: string) =>
  (await promQuery(`ALERTS{alertname="${alertname}", alertstate="firing"}`)).map(
    (r) => r.metric.service,
  );

test("exhausting orders' pool fires orders' saturation and waiting alerts, only those, and they resolve", async () => {
  const job = await burst(plan, secrets, "orders");
  try {
    await waitFor(
      "PgBouncerPoolSaturated and PgBouncerClientsWaiting to fire for orders",
      async () =>
        (await firing("PgBouncerPoolSaturated")).includes("orders") &&
        (await firing("PgBouncerClientsWaiting")).includes("orders"),
      60_000,
      1_000,
    );
    for (const name of [
      "PgBouncerPoolSaturated",
      "PgBouncerClientsWaiting",
      "PgBouncerMaxWaitHigh",
    ])
      expect(
        (await firing(name)).filter((s) => s !== "orders"),
        name,
      ).toEqual([]);
  } finally {
    await job.stop();
  }
  await waitFor(
    "orders' alerts to resolve",
    async () =>
      (await firing("PgBouncerPoolSaturated")).length === 0 &&
      (await firing("PgBouncerClientsWaiting")).length === 0,
    60_000,
    1_000,
  );
}, 150_000);
