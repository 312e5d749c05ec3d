import type { TopLevelSpec } from "vega-lite";
import type { FilledPanel } from "../../monitoring/dashboards.js";
import { timePanel, topLevel } from "./charts.js";
import { compareText, formatCount, formatNumber } from "./format.js";
import { inline } from "./markdown.js";
import type { SeriesRow } from "./series.js";

/**
 * The generated dashboards as pictures: one vega-lite chart per panel from the series a range
 * query gave, and the index that lists them by dashboard. Pure: Prometheus is asked elsewhere
 * (loadtest/dashboards.ts), the specs are rendered by charts.ts's `renderSvg`.
 */

/** The time span the panels show; times in unix seconds, as Prometheus takes them. */
export interface DashboardWindow {
  start: number;
  end: number;
  step: number;
}

/** One series of one of a panel's queries: the query's legend, the labels, the points. */
export interface PanelSeries {
  legend: string;
  metric: Record<string, string>;
  values: [number, string][];
}

export interface PanelChart {
  file: string;
  spec: TopLevelSpec;
  /** Series with at least one finite point, and those points: a panel with 0 has no data. */
  series: number;
  points: number;
}

/** What the index lists of a rendered panel. */
export type PanelEntry = Pick<FilledPanel, "dashboard" | "dashboardTitle" | "title"> &
  Pick<PanelChart, "file" | "series" | "points">;

const LEGEND = { columns: 3, labelLimit: 300 } as const;

/** Grafana units in words, for the y axis. */
const UNIT_TITLES: Record<string, string> = {
  s: "seconds",
  percentunit: "share (1 = 100 %)",
  short: "count",
  ops: "per second",
  none: "value",
};

/** `pgpooling-fleet--clients-waiting-by-host.svg`: stable, from the dashboard uid and the title. */
export function panelFile(dashboard: string, title: string): string {
  const slug = title
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "");
  return `${dashboard}--${slug || "panel"}.svg`;
}

/**
 * A series' name as Grafana's legendFormat gives it: `{{label}}` is the label's value; an empty
 * legend (or `__auto`) names the series by its labels, or `value` when it has none.
 */
export function seriesName(legend: string, metric: Record<string, string>): string {
  if (legend !== "" && legend !== "__auto")
    return legend.replace(/\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}/g, (_, l) => metric[l] ?? "");
  const labels = Object.keys(metric)
    .sort(compareText)
    .map((k) => `${k}="${metric[k]}"`);
  return labels.length === 0 ? "value" : `{${labels.join(", ")}}`;
}

/**
 * Long-format rows, seconds since the window's start, non-finite points (NaN of 0/0) left out.
 * Series are ordered by their labels, and a name two series share gets ` (2)`, ` (3)`…, so the
 * same answer always gives the same lines whatever order Prometheus listed them in.
 */
export function panelRows(series: readonly PanelSeries[], start: number): SeriesRow[] {
  const named = series
    .map((s) => ({
      name: seriesName(s.legend, s.metric),
      key: JSON.stringify(sorted(s.metric)),
      points: s.values
        .map(([t, v]) => ({ t: t - start, value: Number(v) }))
        .filter((p) => Number.isFinite(p.value)),
    }))
    .filter((s) => s.points.length > 0)
    .sort((a, b) => compareText(a.name, b.name) || compareText(a.key, b.key));
  const seen = new Map<string, number>();
  return named.flatMap(({ name, points }) => {
    const n = (seen.get(name) ?? 0) + 1;
    seen.set(name, n);
    const label = n === 1 ? name : `${name} (${n})`;
    return points.map((p) => ({ t: p.t, series: label, value: p.value }));
  });
}

/**
 * One panel's chart: a line per series with its legend. A stat panel (Grafana shows its latest
 * value) is drawn the same way, its value over the window, with the latest value in its title.
 */
export function panelChart(
  panel: FilledPanel,
  series: readonly PanelSeries[],
  window: DashboardWindow,
): PanelChart {
  const rows = panelRows(series, window.start);
  const names = new Set(rows.map((r) => r.series));
  const last = rows.reduce<SeriesRow | undefined>((a, r) => (a && a.t >= r.t ? a : r), undefined);
  const title =
    panel.kind === "stat" && last !== undefined
      ? `${panel.title} (stat, latest ${formatNumber(last.value)})`
      : panel.title;
  // A lone series without a legend of its own (a stat's sum) needs no legend box.
  const unnamed = names.size === 1 && panel.queries.every((q) => q.legend === "");
  const chart = timePanel(
    {
      title,
      xTitle: `seconds since ${new Date(window.start * 1000).toISOString()}`,
      yTitle: UNIT_TITLES[panel.unit] ?? panel.unit,
      rows,
      ...(unnamed ? {} : { seriesTitle: "series" }),
      mark: "line",
    },
    [0, window.end - window.start],
    [],
  );
  const spec = topLevel(panel.dashboardTitle, [chart]);
  return {
    file: panelFile(panel.dashboard, panel.title),
    // A legend names a pool, host and process (`accounts_ro_replica1 pgbouncer2/2`): fewer,
    // wider columns than the report's, so no name is cut short.
    spec: { ...spec, config: { ...spec.config, legend: { ...spec.config?.legend, ...LEGEND } } },
    series: names.size,
    points: rows.length,
  };
}

/** index.md: every panel by dashboard, its picture, and `no data` for a panel without a series. */
export function dashboardsIndex(entries: readonly PanelEntry[], window: DashboardWindow): string {
  const iso = (t: number) => new Date(t * 1000).toISOString();
  const out = [
    `# Dashboards from ${iso(window.start)} to ${iso(window.end)}`,
    "",
    "<!-- generated from the live Prometheus by range queries; do not edit -->",
    "",
    `Every panel of the generated dashboards, one point every ${formatCount(window.step)} s, ` +
      "template variables at their first value.",
    "",
  ];
  const empty = entries.filter((e) => e.series === 0);
  out.push(
    empty.length === 0
      ? `All ${formatCount(entries.length)} panels have data.`
      : `${formatCount(empty.length)} of ${formatCount(entries.length)} panels have no data: ` +
          empty.map((e) => inline(`${e.dashboard} / ${e.title}`)).join(", ") +
          ".",
    "",
  );
  for (const uid of [...new Set(entries.map((e) => e.dashboard))]) {
    const panels = entries.filter((e) => e.dashboard === uid);
    out.push(`## ${inline(panels[0]!.dashboardTitle)} (${inline(uid)})`, "");
    out.push("| panel | series | points |", "| --- | --- | --- |");
    for (const p of panels)
      out.push(
        `| [${inline(p.title)}](${encodeURI(p.file)}) | ` +
          (p.series === 0 ? "no data | 0 |" : `${p.series} | ${formatCount(p.points)} |`),
      );
    out.push("");
    for (const p of panels) out.push(`![${inline(p.title)}](${encodeURI(p.file)})`, "");
  }
  return out.join("\n").trimEnd() + "\n";
}

function sorted(metric: Record<string, string>): [string, string][] {
  return Object.entries(metric).sort(([a], [b]) => compareText(a, b));
}
