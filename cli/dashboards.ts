import { join } from "node:path";
import type { Plan } from "../platform/plan.js";
import { monitoringRunning, prometheusUrl } from "../local/monitoring.js";
import {
  dashboardWindow,
  panelsWithoutData,
  renderDashboards,
  writeDashboards,
} from "../loadtest/dashboards.js";
import { DEFAULT_REPORTS_ROOT, utcStamp } from "../loadtest/report/write.js";
import { parseDuration } from "../loadtest/stats.js";
import { UsageError } from "./args.js";

/**
 * npm run local -- dashboards [--since 10m] [--out <dir>] [--require-data]
 * Every panel of every generated dashboard from the local Prometheus over the last `--since`, one
 * SVG per panel and an index.md, into reports/dashboards-<utc stamp>/ unless `--out` says where.
 * A panel without data is printed and listed; with --require-data it makes the exit code 1.
 */
export const DASHBOARDS_OPTIONS = ["since", "out"];
export const DASHBOARDS_SWITCHES = ["require-data"];
const DEFAULT_SINCE = "10m";

export async function dashboardsCommand(plan: Plan, args: Record<string, string>): Promise<void> {
  const sinceMs = since(args.since ?? DEFAULT_SINCE);
  if (!(await monitoringRunning()))
    throw new Error(`Prometheus is not running at ${prometheusUrl()}: npm run local -- up first`);
  const end = Date.now() / 1000;
  const window = dashboardWindow(plan, end - sinceMs / 1000, end);
  const rendered = await renderDashboards(plan, window);
  const dir =
    args.out ?? join(DEFAULT_REPORTS_ROOT, `dashboards-${utcStamp(new Date(window.end * 1000))}`);
  const index = await writeDashboards(dir, rendered);
  const empty = panelsWithoutData(rendered);
  for (const panel of empty) console.log(`no data: ${panel}`);
  console.log(
    `${rendered.pictures.length} panels, ${empty.length} without data, over the last ${args.since ?? DEFAULT_SINCE}`,
  );
  console.log(`dashboards: ${index}`);
  if (empty.length > 0 && args["require-data"] === "true") process.exitCode = 1;
}

/** `--since` as parseDuration reads it; a bad value is a usage error naming the option. */
function since(text: string): number {
  try {
    return parseDuration("--since", text);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}
