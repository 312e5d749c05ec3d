import { expect, test } from "vitest";
import { burst } from "../../loadtest/burst.js";
import { waitFor } from "../../local/daemons.js";
import { pgbouncerExporterAddress, promQuery, prometheusUrl } from "../../local/monitoring.js";
import { CATALOGUE } from "../../monitoring/catalogue.js";
import { rootPackages } from "../../local/runtime.js";
import { processIds } from "../../local/pgbouncer.js";
import { stackStatus } from "../../local/stack.js";
import { alertRuleGroups } from "../../monitoring/alerts.js";
import { dashboardQueries } from "../../monitoring/dashboards.js";
import { plan, secrets } from "./helpers.js";
import { monitoringLoad } from "./monitoring-load.js";

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

test("the real pgbouncer_exporter of every process serves every PgBouncer metric of the catalogue", async () => {
  // The root's exporter may be a patch behind production's pin: what it cannot serve yet is named.
  const local = /(\d+\.\d+\.\d+)/.exec(
    rootPackages().packages["prometheus-pgbouncer-exporter"]!,
  )![1]!;
  const parts = (v: string) => v.split(".").map(Number);
  const after = (a: string, b: string) => {
    const [x, y] = [parts(a), parts(b)];
    const i = x.findIndex((n, j) => n !== y[j]);
    return i >= 0 && x[i]! > y[i]!;
  };
  const newer = (m: (typeof CATALOGUE)[number]) =>
    m.exporterSince !== undefined && after(m.exporterSince, local);
  expect(CATALOGUE.filter(newer).map((m) => `${m.name} (${m.exporterSince})`)).toEqual(
    local === "0.12.0" ? ["pgbouncer_databases_reserve_pool (0.12.1)"] : [],
  );
  const catalogued = CATALOGUE.filter((m) => m.source === "pgbouncer_exporter" && !newer(m)).map(
    (m) => m.name,
  );
  for (const host of plan.hosts) {
    for (const k of processIds(host)) {
      const text = await (
        await fetch(`http://${pgbouncerExporterAddress(host.index, k)}/metrics`)
      ).text();
      const served = new Set(
        text
          .split("\n")
          .filter((l) => l && !l.startsWith("#"))
          .map((l) => /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(l)![0]),
      );
      expect(
        catalogued.filter((n) => !served.has(n)),
        `${host.name} process ${k}`,
      ).toEqual([]);
      expect(text).toMatch(/^pgbouncer_up 1$/m);
    }
  }
});

test("every dashboard query and every alert's input returns series while the services run", async () => {
  const empty: string[] = [];
  await monitoringLoad("test/integration/monitoring.test.ts", [
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
        // A rarely used pool (reporting's rw entry: a few writes a minute) appears again only
        // after its next client since the restart, and in Prometheus at the next scrape: ask
        // again for up to 4 s before calling a query empty.
        let pending = queries;
        for (let round = 0; round < 9 && pending.length > 0; round++) {
          if (round > 0) await new Promise((r) => setTimeout(r, 500));
          const answers = await Promise.all(pending.map((q) => promQuery(q.expr)));
          pending = pending.filter((_, i) => answers[i]!.length === 0);
        }
        for (const q of pending) empty.push(`${q.what}: ${q.expr}`);
      },
    },
  ]);
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
