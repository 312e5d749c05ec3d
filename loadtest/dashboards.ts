import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Plan } from "../platform/plan.js";
import { monitoringRunning, promRange, type RangeSeries } from "../local/monitoring.js";
import { dashboardPanels } from "../monitoring/dashboards.js";
import { renderSvg } from "./report/charts.js";
import type { RunRecord } from "./report/types.js";
import type { WriteReportOptions } from "./report/write.js";
import {
  dashboardsIndex,
  panelChart,
  type DashboardWindow,
  type PanelEntry,
  type PanelSeries,
} from "./report/dashboard-charts.js";

/**
 * Every panel of every generated dashboard, from the local Prometheus over a window, as SVG, and
 * the index.md that lists them. Used by `npm run local -- dashboards` and by the load test report.
 */

/** The index's file name in a dashboards folder; the pictures sit beside it. */
export const DASHBOARDS_INDEX = "index.md";

export interface DashboardPicture extends PanelEntry {
  svg: string;
}

export interface DashboardPictures {
  window: DashboardWindow;
  pictures: DashboardPicture[];
  index: string;
}

/** A range query: the local Prometheus unless a test hands another. */
export type RangeQuery = (
  expr: string,
  range: { start: number; end: number; step: number },
) => Promise<RangeSeries[]>;

/**
 * A window ending at `end` (unix seconds), one point per scrape, at most about 500 points a
 * series however long it is (Prometheus refuses more than 11,000).
 */
export function dashboardWindow(plan: Plan, start: number, end: number): DashboardWindow {
  const scrape = plan.config.monitoring.scrapeIntervalSeconds;
  const step = Math.max(scrape, Math.ceil((end - start) / 500));
  return { start: Math.floor(start), end: Math.ceil(end), step };
}

/** Ask for every panel's queries, then render the panels one after the other, in dashboard order. */
export async function renderDashboards(
  plan: Plan,
  window: DashboardWindow,
  query: RangeQuery = promRange,
): Promise<DashboardPictures> {
  const pictures: DashboardPicture[] = [];
  for (const panel of dashboardPanels(plan)) {
    const series: PanelSeries[] = [];
    for (const q of panel.queries) {
      const answer = await query(q.expr, window);
      series.push(...answer.map((s) => ({ legend: q.legend, ...s })));
    }
    const chart = panelChart(panel, series, window);
    pictures.push({
      dashboard: panel.dashboard,
      dashboardTitle: panel.dashboardTitle,
      title: panel.title,
      file: chart.file,
      series: chart.series,
      points: chart.points,
      svg: await renderSvg(chart.spec),
    });
  }
  return { window, pictures, index: dashboardsIndex(pictures, window) };
}

/** The folder's files, index first, names relative to the folder. */
export function dashboardFiles(rendered: DashboardPictures): { file: string; text: string }[] {
  return [
    { file: DASHBOARDS_INDEX, text: rendered.index },
    ...rendered.pictures.map((p) => ({ file: p.file, text: p.svg })),
  ];
}

/** `dashboard / panel` of every panel without a series: printed, and listed in the index. */
export function panelsWithoutData(rendered: DashboardPictures): string[] {
  return rendered.pictures.filter((p) => p.series === 0).map((p) => `${p.dashboard} / ${p.title}`);
}

/** Write the index and the pictures into `dir` (made if missing); the index's path. */
export async function writeDashboards(dir: string, rendered: DashboardPictures): Promise<string> {
  await mkdir(dir, { recursive: true });
  for (const f of dashboardFiles(rendered)) await writeFile(join(dir, f.file), f.text, "utf8");
  return join(dir, DASHBOARDS_INDEX);
}

/**
 * The dashboards over a run (its start to now) for its report, or undefined with a note in the
 * record saying why not: the report is written either way.
 */
export async function runDashboards(
  plan: Plan,
  record: RunRecord,
): Promise<WriteReportOptions["dashboards"]> {
  if (!(await monitoringRunning())) {
    record.notes.push("Prometheus was not running: no pictures of the dashboards.");
    return undefined;
  }
  try {
    const start = Date.parse(record.meta.startedAt) / 1000;
    const rendered = await renderDashboards(plan, dashboardWindow(plan, start, Date.now() / 1000));
    return {
      files: dashboardFiles(rendered),
      panels: rendered.pictures.length,
      withoutData: panelsWithoutData(rendered),
    };
  } catch (e) {
    record.notes.push(`the dashboards could not be drawn: ${(e as Error).message}`);
    return undefined;
  }
}
