import * as vega from "vega";
import * as vl from "vega-lite";
import type { TopLevelSpec } from "vega-lite";
import { compareText } from "./format.js";
import { drillMarkers, poolSeries, timeExtent, type Marker, type SeriesRow } from "./series.js";
import type { RunRecord } from "./types.js";

/**
 * The report's charts as vega-lite specs, rendered to SVG by vega headless. Every chart is built
 * from the record alone (data sorted, no random ids, no clock), so the same record gives the same
 * bytes. Time charts share one x domain, so a moment sits at the same place in each, and carry the
 * drill's fault and heal as vertical rules.
 */
export interface ChartSpec {
  /** File name inside the report folder, also the Markdown link. */
  file: string;
  title: string;
  spec: TopLevelSpec;
}

export interface RenderedChart {
  file: string;
  title: string;
  svg: string;
}

/**
 * Axis titles, with units: the tests look for them in the SVG, so they live here once. Short on
 * purpose: a rotated y title longer than the panel is tall pushes the panels apart.
 */
export const AXIS_TITLES = {
  time: "time since start (s)",
  tps: "throughput (tx/s)",
  latency: "latency (ms, log scale)",
  clWaiting: "cl_waiting (clients, Σ hosts)",
  svActive: "sv_active (server conns, Σ hosts)",
  errorsPerTick: "errors per tick (count)",
  errorCount: "errors over the run (count)",
  errorCode: "error code",
  rss: "resident memory (MiB)",
} as const;

const WIDTH = 720;
const HEIGHT = 220;
const MARKER_COLOR = "#d62728";
/** A panel's only series is drawn in a neutral colour, never one a legend gives to a service. */
const SINGLE_SERIES_COLOR = "#333333";
/** Above ten series the default palette repeats colours: 14 pools need a 20-colour scheme. */
const MANY_SERIES = 10;
const LEGEND_COLUMNS = 7;

type VConcatSpec = Extract<TopLevelSpec, { vconcat: unknown }>;
type PanelSpec = VConcatSpec["vconcat"][number];
/** One panel of a chart, as `timePanel` builds it and `topLevel` stacks it. */
export type ChartPanel = PanelSpec;

export interface TimePanel {
  title: string;
  /** The x axis title; the run's own time (`AXIS_TITLES.time`) unless told otherwise. */
  xTitle?: string;
  yTitle: string;
  rows: SeriesRow[];
  /** Legend title; absent for a single unnamed series (no legend). */
  seriesTitle?: string;
  mark: "line" | "bar";
  yScale?: "linear" | "log";
}

/** Draws one panel on the run's shared time axis, with the drill's fault and heal marked. */
type Panel = (p: TimePanel) => PanelSpec;

/** The charts a record has data for, in the order the Markdown shows them. */
export function chartSpecs(record: RunRecord): ChartSpec[] {
  const xDomain: [number, number] = [0, timeExtent(record)];
  const markers = drillMarkers(record);
  const panel: Panel = (p) => timePanel(p, xDomain, markers);
  return [
    throughputChart(record, panel),
    latencyChart(record, panel),
    ...(record.pools.length > 0 ? [poolsChart(record, panel)] : []),
    errorsChart(record, panel),
    ...(record.memory.length > 0 ? [memoryChart(record, panel)] : []),
  ];
}

/** One chart: its file, and its panels stacked under its title. */
function chart(file: string, title: string, panels: PanelSpec[]): ChartSpec {
  return { file, title, spec: topLevel(title, panels) };
}

/** Transactions per second over the run, one line. */
function throughputChart(record: RunRecord, panel: Panel): ChartSpec {
  return chart("throughput.svg", "Throughput", [
    panel({
      title: "Transactions per second",
      yTitle: AXIS_TITLES.tps,
      rows: record.throughput.map((s) => ({ t: s.t, series: "tps", value: s.tps })),
      mark: "line",
    }),
  ]);
}

/** p50, p95 and p99 per tick on a log axis. */
function latencyChart(record: RunRecord, panel: Panel): ChartSpec {
  return chart("latency.svg", "Latency percentiles", [
    panel({
      title: "p50 / p95 / p99 per tick",
      yTitle: AXIS_TITLES.latency,
      rows: (["p50", "p95", "p99"] as const).flatMap((p) =>
        record.throughput.map((s) => ({ t: s.t, series: p, value: s[`${p}Ms`] })),
      ),
      seriesTitle: "percentile",
      mark: "line",
      // A failover's p99 is a thousand times the steady p50: a log axis keeps both readable.
      yScale: "log",
    }),
  ]);
}

/** From SHOW POOLS: clients waiting and server connections active, one line per pool. */
function poolsChart(record: RunRecord, panel: Panel): ChartSpec {
  const { clWaiting, svActive } = poolSeries(record);
  return chart("pools.svg", "PgBouncer pools (SHOW POOLS)", [
    panel({
      title: "cl_waiting per pool",
      yTitle: AXIS_TITLES.clWaiting,
      rows: clWaiting,
      seriesTitle: "pool",
      mark: "line",
    }),
    panel({
      title: "sv_active per pool",
      yTitle: AXIS_TITLES.svActive,
      rows: svActive,
      seriesTitle: "pool",
      mark: "line",
    }),
  ]);
}

/** Errors per tick as bars, always drawn (a flat zero says so); by code too when there were any. */
function errorsChart(record: RunRecord, panel: Panel): ChartSpec {
  const errorPanels: PanelSpec[] = [
    panel({
      title: "Errors per tick",
      yTitle: AXIS_TITLES.errorsPerTick,
      rows: record.throughput.map((s) => ({ t: s.t, series: "errors", value: s.errors })),
      mark: "bar",
    }),
  ];
  if (record.errors.length > 0) errorPanels.push(errorsByCodePanel(record));
  return chart("errors.svg", "Errors", errorPanels);
}

/** Each sampled process's resident set size: whether any of them grows over the run. */
function memoryChart(record: RunRecord, panel: Panel): ChartSpec {
  return chart("memory.svg", "Memory per process", [
    panel({
      title: "Resident set size",
      yTitle: AXIS_TITLES.rss,
      rows: record.memory.map((m) => ({ t: m.t, series: m.process, value: m.rssMiB })),
      seriesTitle: "process",
      mark: "line",
    }),
  ]);
}

/** vega-lite → vega → SVG, headless. The view is finalized so no timers outlive the render. */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: "none" });
  try {
    return (await view.toSVG()) + "\n";
  } finally {
    view.finalize();
  }
}

export async function renderCharts(record: RunRecord): Promise<RenderedChart[]> {
  const rendered: RenderedChart[] = [];
  // One after the other, in report order: nothing about the output depends on scheduling.
  for (const c of chartSpecs(record))
    rendered.push({ file: c.file, title: c.title, svg: await renderSvg(c.spec) });
  return rendered;
}

/** Panels stacked under one title, white background, one shared colour per series. */
export function topLevel(title: string, panels: PanelSpec[]): TopLevelSpec {
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: { text: title, anchor: "start", fontSize: 16 },
    background: "white",
    vconcat: panels,
    // Panels of one chart show the same series (pools in both pool panels): one legend, one colour each.
    resolve: { scale: { color: "shared" } },
    // Below the panels, in rows: 14 pools stacked on the right would be taller than a panel.
    config: {
      axis: { titleFontWeight: "normal" },
      legend: { orient: "bottom", direction: "horizontal", columns: LEGEND_COLUMNS },
    },
  };
}

/** A line or bar panel over time: one colour per series, rows sorted so output is stable. */
export function timePanel(p: TimePanel, xDomain: [number, number], markers: Marker[]): PanelSpec {
  const x = {
    field: "t",
    type: "quantitative" as const,
    title: p.xTitle ?? AXIS_TITLES.time,
    scale: { domain: xDomain, nice: false },
  };
  const y = {
    field: "value",
    type: "quantitative" as const,
    title: p.yTitle,
    scale: p.yScale === "log" ? { type: "log" as const } : {},
  };
  const seriesCount = new Set(p.rows.map((r) => r.series)).size;
  const color =
    p.seriesTitle === undefined
      ? {}
      : {
          color: {
            field: "series",
            type: "nominal" as const,
            title: p.seriesTitle,
            scale: seriesCount > MANY_SERIES ? { scheme: "tableau20" } : {},
          },
        };
  const rows = [...p.rows].sort((a, b) => compareText(a.series, b.series) || a.t - b.t);
  const markColor = p.seriesTitle === undefined ? { color: SINGLE_SERIES_COLOR } : {};
  const mark =
    p.mark === "bar"
      ? { type: "bar" as const, ...markColor }
      : { type: "line" as const, strokeWidth: 1.5, ...markColor };
  return {
    title: { text: p.title, anchor: "start", fontSize: 13 },
    width: WIDTH,
    height: HEIGHT,
    layer: [
      {
        data: { values: rows },
        // A log axis has no place for 0 (a tick without transactions has no latency to draw).
        transform: p.yScale === "log" ? [{ filter: "datum.value > 0" }] : [],
        mark,
        encoding: { x, y, ...color },
      },
      ...markerLayers(markers),
    ],
  };
}

/** A red rule and its label per drill event; nothing when the run was not a drill. */
function markerLayers(markers: Marker[]) {
  if (markers.length === 0) return [];
  const x = { field: "t", type: "quantitative" as const };
  return [
    {
      data: { values: markers },
      mark: { type: "rule" as const, color: MARKER_COLOR, strokeDash: [4, 3] },
      encoding: { x },
    },
    {
      data: { values: markers },
      mark: {
        type: "text" as const,
        color: MARKER_COLOR,
        align: "left" as const,
        baseline: "top" as const,
        dx: 3,
        dy: 2,
      },
      encoding: {
        x,
        y: { field: "labelY", type: "quantitative" as const, scale: null },
        text: { field: "label", type: "nominal" as const },
      },
    },
  ];
}

function errorsByCodePanel(record: RunRecord): PanelSpec {
  const rows = record.errors
    .map((e) => ({ code: e.code, service: e.service, count: e.count }))
    .sort((a, b) => compareText(a.code, b.code) || compareText(a.service, b.service));
  return {
    title: { text: "Errors by code and service", anchor: "start", fontSize: 13 },
    width: WIDTH,
    data: { values: rows },
    mark: { type: "bar" },
    encoding: {
      y: { field: "code", type: "nominal", title: AXIS_TITLES.errorCode, sort: "-x" },
      x: { field: "count", type: "quantitative", title: AXIS_TITLES.errorCount, aggregate: "sum" },
      color: { field: "service", type: "nominal", title: "service" },
    },
  };
}
