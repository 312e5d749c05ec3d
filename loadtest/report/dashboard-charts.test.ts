import { describe, expect, test } from "vitest";
import { loadStack } from "../../platform/config.js";
import { buildPlan } from "../../platform/plan.js";
import { dashboardPanels, type FilledPanel } from "../../monitoring/dashboards.js";
import { renderSvg } from "./charts.js";
import {
  dashboardsIndex,
  panelChart,
  panelFile,
  panelRows,
  seriesName,
  type PanelSeries,
} from "./dashboard-charts.js";
import { checkWellFormedXml } from "./__fixtures__/xml.js";

const window = { start: 1_000, end: 1_060, step: 2 };
const panel: FilledPanel = {
  dashboard: "pgpooling-fleet",
  dashboardTitle: "Pooling tier: fleet overview",
  title: "Clients waiting by host",
  kind: "timeseries",
  unit: "short",
  queries: [{ expr: "sum by (host) (x)", legend: "{{host}}" }],
};
const series = (host: string, values: [number, string][]): PanelSeries => ({
  legend: "{{host}}",
  metric: { host },
  values,
});
const lines = (svg: string) => svg.split('aria-roledescription="line mark"').length - 1;

describe("the dashboards' pictures", () => {
  test("every panel of every dashboard has its own stable file name", () => {
    const files = dashboardPanels(buildPlan(loadStack("local"))).map((p) =>
      panelFile(p.dashboard, p.title),
    );
    expect(new Set(files).size).toBe(files.length);
    expect(panelFile("pgpooling-fleet", "Services' connections per Postgres node")).toBe(
      "pgpooling-fleet--services-connections-per-postgres-node.svg",
    );
  });

  test("series are named as Grafana's legendFormat names them", () => {
    expect(
      seriesName("{{database}} {{host}}/{{process}}", {
        database: "orders",
        host: "h1",
        process: "2",
      }),
    ).toBe("orders h1/2");
    expect(seriesName("{{missing}} waiting", {})).toBe(" waiting");
    expect(seriesName("", { b: "2", a: "1" })).toBe('{a="1", b="2"}');
    expect(seriesName("__auto", {})).toBe("value");
  });

  test("rows are seconds since the window's start, NaN left out, names made distinct", () => {
    const rows = panelRows(
      [
        series("h2", [[1_004, "1"]]),
        series("h1", [
          [1_002, "NaN"],
          [1_004, "3"],
        ]),
        { legend: "{{host}}", metric: { host: "h1", process: "2" }, values: [[1_006, "+Inf"]] },
        { legend: "{{host}}", metric: { host: "h1", process: "1" }, values: [[1_006, "5"]] },
      ],
      window.start,
    );
    expect(rows).toEqual([
      // {host, process} sorts before {host}; the series without a finite point takes no name
      { t: 6, series: "h1", value: 5 },
      { t: 4, series: "h1 (2)", value: 3 },
      { t: 4, series: "h2", value: 1 },
    ]);
  });

  test("a panel renders to an SVG with its title and one line per series, the same bytes whatever the order", async () => {
    const a = series("pgbouncer1", [
      [1_000, "1"],
      [1_002, "2"],
    ]);
    const b = series("accounts_ro_replica1 pgbouncer2/2", [
      [1_000, "0"],
      [1_002, "4"],
    ]);
    const chart = panelChart(panel, [a, b], window);
    expect([chart.file, chart.series, chart.points]).toEqual([
      "pgpooling-fleet--clients-waiting-by-host.svg",
      2,
      4,
    ]);
    const svg = await renderSvg(chart.spec);
    checkWellFormedXml(svg);
    expect(svg).toContain(panel.title);
    expect(svg).toContain(panel.dashboardTitle);
    expect(svg).toContain("accounts_ro_replica1 pgbouncer2/2");
    // legend names are not cut short
    expect(svg).not.toContain("…");
    expect(lines(svg)).toBe(2);
    expect(await renderSvg(panelChart(panel, [b, a], window).spec)).toBe(svg);
  });

  test("a stat panel is its value over the window, its latest value in the title", async () => {
    const stat = { ...panel, kind: "stat" as const, title: "PgBouncer processes up" };
    const chart = panelChart(
      { ...stat, queries: [{ expr: "sum(pgbouncer_up)", legend: "" }] },
      [
        {
          legend: "",
          metric: {},
          values: [
            [1_000, "3"],
            [1_002, "4"],
          ],
        },
      ],
      window,
    );
    const svg = await renderSvg(chart.spec);
    expect(svg).toContain("PgBouncer processes up (stat, latest 4)");
    expect(lines(svg)).toBe(1);
  });

  test("a panel without a series has no data, and the index says so", () => {
    const empty = panelChart(panel, [series("h1", [[1_000, "NaN"]])], window);
    expect([empty.series, empty.points]).toEqual([0, 0]);
    const full = panelChart({ ...panel, title: "Other" }, [series("h1", [[1_000, "1"]])], window);
    const entries = [empty, full].map((c, i) => ({
      ...c,
      dashboard: panel.dashboard,
      dashboardTitle: panel.dashboardTitle,
      title: i === 0 ? panel.title : "Other",
    }));
    const index = dashboardsIndex(entries, window);
    expect(index).toContain(
      "1 of 2 panels have no data: pgpooling-fleet / Clients waiting by host.",
    );
    expect(index).toContain(
      "| [Clients waiting by host](pgpooling-fleet--clients-waiting-by-host.svg) | no data | 0 |",
    );
    expect(index).toContain("| [Other](pgpooling-fleet--other.svg) | 1 | 1 |");
    expect(index).toContain("## Pooling tier: fleet overview (pgpooling-fleet)");
    expect(
      index.startsWith("# Dashboards from 1970-01-01T00:16:40.000Z to 1970-01-01T00:17:40.000Z"),
    ).toBe(true);
  });
});
