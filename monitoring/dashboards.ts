import {
  CustomVariableBuilder,
  DashboardBuilder,
  DatasourceVariableBuilder,
  MappingType,
  RowBuilder,
  ThresholdsConfigBuilder,
  ThresholdsMode,
  type ValueMapping,
} from "@grafana/grafana-foundation-sdk/dashboard";
import { ReduceDataOptionsBuilder } from "@grafana/grafana-foundation-sdk/common";
import { DataqueryBuilder } from "@grafana/grafana-foundation-sdk/prometheus";
import { PanelBuilder as StatPanelBuilder } from "@grafana/grafana-foundation-sdk/stat";
import { PanelBuilder as TimeseriesPanelBuilder } from "@grafana/grafana-foundation-sdk/timeseries";
import type { Plan } from "../platform/plan.js";
import { RATE, type DashboardSpec, type PanelSpec, type QuerySpec } from "./dashboard-model.js";
import { dashboardSpecs } from "./dashboard-specs.js";

/**
 * Grafana dashboards built with the foundation SDK from dashboard-specs.ts. Every dashboard reads
 * its Prometheus from a `datasource` variable, so the same JSON works in any Grafana.
 */

export const DATASOURCE_VARIABLE = "datasource";
const DATASOURCE = { type: "prometheus", uid: `\${${DATASOURCE_VARIABLE}}` };
const WIDTH = 24;

function thresholds(steps: PanelSpec["thresholds"] = []) {
  return new ThresholdsConfigBuilder()
    .mode(ThresholdsMode.Absolute)
    .steps([{ value: null, color: "green" }, ...steps.map(([value, color]) => ({ value, color }))]);
}

function mappings(valueText: PanelSpec["valueText"]): ValueMapping[] {
  if (!valueText) return [];
  const options = Object.fromEntries(
    Object.entries(valueText).map(([value, text], index) => [value, { text, index }]),
  );
  return [{ type: MappingType.ValueToText, options }];
}

function panel(spec: PanelSpec, id: number, x: number, y: number, w: number, h: number) {
  const builder =
    spec.kind === "stat"
      ? // A stat shows the latest value, not the range's mean.
        new StatPanelBuilder().reduceOptions(new ReduceDataOptionsBuilder().calcs(["lastNotNull"]))
      : new TimeseriesPanelBuilder();
  builder
    .id(id)
    .title(spec.title)
    .datasource(DATASOURCE)
    .unit(spec.unit)
    .thresholds(thresholds(spec.thresholds))
    .mappings(mappings(spec.valueText))
    .gridPos({ x, y, w, h });
  if (spec.description) builder.description(spec.description);
  spec.queries.forEach((query, i) =>
    builder.withTarget(
      new DataqueryBuilder()
        .datasource(DATASOURCE)
        .refId(String.fromCharCode(65 + i))
        .expr(query.expr)
        .legendFormat(query.legend || "__auto"),
    ),
  );
  return builder;
}

function build(spec: DashboardSpec): object {
  const dashboard = new DashboardBuilder(spec.title)
    .uid(spec.uid)
    .description(spec.description)
    .tags(["pg-pooling"])
    .editable()
    .time({ from: "now-1h", to: "now" })
    .refresh("30s")
    .withVariable(
      new DatasourceVariableBuilder(DATASOURCE_VARIABLE).label("Prometheus").type("prometheus"),
    );
  for (const v of spec.variables) {
    dashboard.withVariable(
      new CustomVariableBuilder(v.name)
        .label(v.label)
        .values(v.values.join(","))
        .includeAll(v.includeAll)
        .allValue(".*")
        .current({ text: v.values[0]!, value: v.values[0]! }),
    );
  }
  let id = 1;
  let y = 0;
  for (const row of spec.rows) {
    dashboard.withRow(new RowBuilder(row.title).id(id++).gridPos({ x: 0, y: y++, w: WIDTH, h: 1 }));
    const stats = row.panels.every((p) => p.kind === "stat");
    const w = stats ? WIDTH / row.panels.length : WIDTH / 2;
    const h = stats ? 4 : 8;
    row.panels.forEach((p, i) => {
      const x = (i * w) % WIDTH;
      const rowY = y + Math.floor((i * w) / WIDTH) * h;
      dashboard.withPanel(panel(p, id++, x, rowY, w, h));
    });
    y += Math.ceil((row.panels.length * w) / WIDTH) * h;
  }
  return dashboard.build();
}

/** The dashboards of the plan, each with a stable uid (the same for every build and stack). */
export function dashboards(plan: Plan): { uid: string; title: string; json: object }[] {
  return dashboardSpecs(plan).map((spec) => ({
    uid: spec.uid,
    title: spec.title,
    json: build(spec),
  }));
}

/** A panel as a live Prometheus sees it: its queries and legends with the variables filled in. */
export interface FilledPanel {
  dashboard: string;
  dashboardTitle: string;
  title: string;
  kind: PanelSpec["kind"];
  unit: string;
  queries: QuerySpec[];
}

/** The rate window Grafana's $__rate_interval stands for here: four scrapes, at least a minute. */
export function rateWindowSeconds(plan: Plan): number {
  return Math.max(60, 4 * plan.config.monitoring.scrapeIntervalSeconds);
}

/**
 * A dashboard's text (expression or legend) as a plain Prometheus query: each variable takes its
 * first value and the rate window is `rateWindowSeconds`.
 */
export function fillVariables(spec: DashboardSpec, text: string, windowSeconds: number): string {
  return spec.variables.reduce(
    (filled, v) => filled.split(`$${v.name}`).join(v.values[0]!),
    text.split(RATE).join(`${windowSeconds}s`),
  );
}

/** Every panel of every dashboard, in dashboard order, its queries filled in (`fillVariables`). */
export function dashboardPanels(plan: Plan): FilledPanel[] {
  const window = rateWindowSeconds(plan);
  return dashboardSpecs(plan).flatMap((d) => {
    const fill = (text: string) => fillVariables(d, text, window);
    return d.rows.flatMap((row) =>
      row.panels.map((p) => ({
        dashboard: d.uid,
        dashboardTitle: d.title,
        title: p.title,
        kind: p.kind,
        unit: p.unit,
        queries: p.queries.map((query) => ({ expr: fill(query.expr), legend: fill(query.legend) })),
      })),
    );
  });
}

/** Every panel query with its template variables filled in, one row per query. */
export function dashboardQueries(plan: Plan): { dashboard: string; panel: string; expr: string }[] {
  return dashboardPanels(plan).flatMap((p) =>
    p.queries.map((query) => ({ dashboard: p.dashboard, panel: p.title, expr: query.expr })),
  );
}
