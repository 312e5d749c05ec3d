import { chmod, mkdir, mkdtemp, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { REPO_ROOT } from "../../platform/config.js";
import { renderCharts } from "./charts.js";
import { renderMarkdown, type DashboardsLink } from "./markdown.js";
import { redactRecord } from "./redact.js";
import type { RunRecord } from "./types.js";
import { validateRunRecord } from "./validate.js";

/** Where reports go unless told otherwise; `reports/` is in .gitignore. */
export const DEFAULT_REPORTS_ROOT = join(REPO_ROOT, "reports");
export const REPORT_JSON = "report.json";
export const REPORT_MARKDOWN = "report.md";
/** The subfolder the dashboards' pictures of the run's window go in. */
export const DASHBOARDS_DIR = "dashboards";

export interface WriteReportOptions {
  /**
   * The folder the run's own folder is created in (tests pass a temporary one).
   * @default `reports/` at the repo root
   */
  dir?: string;
  /**
   * The generated dashboards over the run's window (loadtest/dashboards.ts), written into
   * `dashboards/` and linked from report.md: their files, the index first.
   */
  dashboards?: Omit<DashboardsLink, "index"> & { files: { file: string; text: string }[] };
}

export interface WrittenReport {
  /** The run's folder: `<root>/<yyyymmdd-hhmmss>-<drill name or mode>`. */
  dir: string;
  /**
   * Every file written, absolute: report.json, report.md, the charts in report order, then the
   * dashboards' files.
   */
  files: string[];
}

/**
 * Validate, redact, render everything in memory, then write it into a hidden temporary folder
 * that is renamed into place last: a refused record or a failed write leaves nothing behind, and
 * a reader never sees a half-written report.
 */
export async function writeReport(
  record: RunRecord,
  options: WriteReportOptions = {},
): Promise<WrittenReport> {
  validateRunRecord(record);
  const safe = redactRecord(record);
  const charts = await renderCharts(safe);
  const dashboards = options.dashboards;
  const dashboardFiles = (dashboards?.files ?? []).map((f): [string, string] => [
    join(DASHBOARDS_DIR, f.file),
    f.text,
  ]);
  const link = dashboards && { ...dashboards, index: dashboardFiles[0]![0] };
  const contents: [string, string][] = [
    [REPORT_JSON, JSON.stringify(safe, null, 2) + "\n"],
    [REPORT_MARKDOWN, renderMarkdown(safe, charts, link)],
    ...charts.map((c): [string, string] => [c.file, c.svg]),
    ...dashboardFiles,
  ];

  const root = options.dir ?? DEFAULT_REPORTS_ROOT;
  const name = reportFolderName(record);
  const dir = join(root, name);
  if (await exists(dir))
    throw new Error(`report folder ${dir} already exists: a run's report is never overwritten`);
  await mkdir(root, { recursive: true });
  const partial = await mkdtemp(join(root, `.${name}.partial-`));
  try {
    if (dashboardFiles.length > 0) await mkdir(join(partial, DASHBOARDS_DIR));
    for (const [file, text] of contents) await writeFile(join(partial, file), text, "utf8");
    // mkdtemp makes a private (0700) folder; a report is for anyone on the machine to read.
    await chmod(partial, 0o755);
    await rename(partial, dir);
  } catch (e) {
    await rm(partial, { recursive: true, force: true });
    throw e;
  }
  return { dir, files: contents.map(([file]) => join(dir, file)) };
}

/**
 * `20251127-064109-primary-failover`: the run's start (UTC, from the record, so the same record
 * always names the same folder) and what ran, made safe for a path.
 */
export function reportFolderName(record: RunRecord): string {
  const stamp = utcStamp(new Date(record.meta.startedAt));
  const what = record.drill?.name ?? record.meta.mode;
  const slug = what
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "");
  return `${stamp}-${slug || "run"}`;
}

/** `20251127-064109`: a moment in UTC as the reports' folder names start. */
export function utcStamp(moment: Date): string {
  const two = (n: number) => String(n).padStart(2, "0");
  return (
    `${moment.getUTCFullYear()}${two(moment.getUTCMonth() + 1)}${two(moment.getUTCDate())}-` +
    `${two(moment.getUTCHours())}${two(moment.getUTCMinutes())}${two(moment.getUTCSeconds())}`
  );
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw e;
  }
}
