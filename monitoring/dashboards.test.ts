import { describe, expect, test } from "vitest";
import { loadStack } from "../platform/config.js";
import { buildPlan } from "../platform/plan.js";
import { ALERT_SHARES } from "./alerts.js";
import { RATE, type DashboardSpec } from "./dashboard-model.js";
import {
  dashboardPanels,
  dashboardQueries,
  dashboards,
  DATASOURCE_VARIABLE,
  fillVariables,
  rateWindowSeconds,
} from "./dashboards.js";
import { checkExpression } from "./promql.js";

interface Panel {
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: { uid: string };
  targets?: { expr: string; refId: string; datasource: { uid: string } }[];
  fieldConfig?: { defaults: { thresholds: { steps: { value: number | null }[] } } };
}
interface Json {
  uid: string;
  panels: Panel[];
  templating: { list: { name: string; type: string; query?: string }[] };
}

describe.each(["local", "prod"])("the %s dashboards", (stack) => {
  const plan = buildPlan(loadStack(stack));
  const built = dashboards(plan);
  const json = (uid: string) => built.find((d) => d.uid === uid)!.json as Json;

  test("have stable uids, the same on every build", () => {
    expect(built.map((d) => d.uid)).toEqual([
      "pgpooling-fleet",
      "pgpooling-service-pools",
      "pgpooling-replicas",
      "pgpooling-resilience",
    ]);
    expect(JSON.stringify(dashboards(plan))).toBe(JSON.stringify(built));
    for (const d of built) expect((d.json as Json).uid).toBe(d.uid);
  });

  test("every query names only catalogued metrics and labels, variables filled in", () => {
    const queries = dashboardQueries(plan);
    const targets = built.flatMap((d) => (d.json as Json).panels.flatMap((p) => p.targets ?? []));
    expect(queries.length).toBe(targets.length);
    for (const q of queries) {
      expect(q.expr).not.toContain("$");
      expect([q.panel, q.expr, checkExpression(q.expr)]).toEqual([q.panel, q.expr, []]);
    }
  });

  test("read Prometheus through the datasource variable", () => {
    for (const d of built) {
      const j = d.json as Json;
      expect(j.templating.list[0]).toMatchObject({
        name: DATASOURCE_VARIABLE,
        type: "datasource",
        query: "prometheus",
      });
      for (const p of j.panels.filter((p) => p.type !== "row")) {
        expect(p.datasource!.uid).toBe(`\${${DATASOURCE_VARIABLE}}`);
        for (const t of p.targets!) expect(t.datasource.uid).toBe(`\${${DATASOURCE_VARIABLE}}`);
      }
    }
  });

  test("have the expected panels, without overlaps", () => {
    const titles = (uid: string) =>
      json(uid)
        .panels.filter((p) => p.type !== "row")
        .map((p) => p.title);
    expect(titles("pgpooling-fleet")).toEqual(
      expect.arrayContaining([
        "Server pool utilization by host",
        "Clients waiting by host",
        "Failed statement attempts per second by service",
        "Client connections by host",
        "Server connections by host",
      ]),
    );
    expect(titles("pgpooling-replicas")).toEqual(
      expect.arrayContaining(["Replica lag", "Reads routed per second"]),
    );
    expect(titles("pgpooling-resilience")).toEqual(
      expect.arrayContaining([
        "Retries per second by class",
        "Circuit breaker state",
        "Fallbacks per second",
      ]),
    );
    for (const d of built) {
      const cells = new Set<string>();
      for (const p of (d.json as Json).panels) {
        const { x, y, w, h } = p.gridPos;
        expect(x + w).toBeLessThanOrEqual(24);
        for (let i = x; i < x + w; i++)
          for (let j = y; j < y + h; j++) {
            expect(cells.has(`${i},${j}`)).toBe(false);
            cells.add(`${i},${j}`);
          }
      }
    }
  });

  test("offer the plan's services and show the plan's thresholds", () => {
    const variable = json("pgpooling-service-pools").templating.list.find(
      (v) => v.name === "service",
    )!;
    expect(variable.query).toBe(plan.services.map((s) => s.name).join(","));
    const wait = json("pgpooling-fleet").panels.find((p) => p.title === "Longest client wait")!;
    const queryWait = plan.config.pgbouncer.timeouts.queryWaitSeconds;
    expect(wait.fieldConfig!.defaults.thresholds.steps.map((s) => s.value)).toEqual([
      null,
      queryWait * ALERT_SHARES.maxWaitOfQueryWait,
      queryWait,
    ]);
    const service = plan.services[0]!.name;
    const pattern = `${service}(_ro_replica[1-9][0-9]*)?`;
    expect(dashboardQueries(plan).some((q) => q.expr.includes(`database=~"${pattern}"`))).toBe(
      true,
    );
    // the pattern takes exactly the service's entries, one per replica included
    const re = new RegExp(`^(?:${pattern})$`);
    expect(plan.entries.filter((e) => re.test(e.name)).map((e) => e.name)).toEqual(
      plan.entries.filter((e) => e.service === service).map((e) => e.name),
    );
  });
});

describe("filling a dashboard's variables for a plain Prometheus query", () => {
  const spec: DashboardSpec = {
    uid: "u",
    title: "t",
    description: "",
    variables: [
      { name: "service", label: "Service", values: ["orders", "catalog"], includeAll: false },
    ],
    rows: [],
  };

  test("takes each variable's first value and the given rate window, everywhere in the text", () => {
    expect(
      fillVariables(spec, `rate(x{s="$service"}[${RATE}]) / rate(y{s="$service"}[${RATE}])`, 60),
    ).toBe('rate(x{s="orders"}[60s]) / rate(y{s="orders"}[60s])');
    expect(fillVariables(spec, "{{target}} of $service", 60)).toBe("{{target}} of orders");
  });

  test("the rate window is four scrapes, never under a minute", () => {
    const local = buildPlan(loadStack("local"));
    const interval = local.config.monitoring.scrapeIntervalSeconds;
    expect(rateWindowSeconds(local)).toBe(Math.max(60, 4 * interval));
    expect(rateWindowSeconds(local)).toBeGreaterThanOrEqual(4 * interval);
  });

  test("every panel comes once, legends filled as well as expressions", () => {
    const panels = dashboardPanels(buildPlan(loadStack("local")));
    const keys = panels.map((p) => `${p.dashboard} ${p.title}`);
    expect(new Set(keys).size).toBe(keys.length);
    for (const p of panels)
      for (const q of p.queries) expect(`${q.expr} ${q.legend}`).not.toContain("$");
  });
});
