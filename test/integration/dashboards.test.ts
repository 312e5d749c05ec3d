import { execFile } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, expect, test } from "vitest";
import {
  DASHBOARDS_INDEX,
  dashboardWindow,
  renderDashboards,
  runDashboards,
  type DashboardPictures,
} from "../../loadtest/dashboards.js";
import { checkWellFormedXml } from "../../loadtest/report/__fixtures__/xml.js";
import { DASHBOARDS_DIR, REPORT_MARKDOWN, writeReport } from "../../loadtest/report/write.js";
import { REPO_ROOT } from "../../platform/config.js";
import { dashboardPanels } from "../../monitoring/dashboards.js";
import { plan } from "./helpers.js";
import { monitoringLoad } from "./monitoring-load.js";

/**
 * The dashboards as pictures from the live local Prometheus: after the short load that exercises
 * every panel, every panel of every dashboard has a series with points over the load's window and
 * its SVG is well formed and carries its title; `npm run local -- dashboards --require-data`
 * writes one SVG per panel and an index; the load test report links the pictures of its run.
 */
const dir = await mkdtemp(join(tmpdir(), "pg-pooling-dashboards-"));
afterAll(() => rm(dir, { recursive: true, force: true }));
const panels = dashboardPanels(plan);
/** Text as vega writes it into an SVG. */
const svgText = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

let rendered: DashboardPictures;
let record: Awaited<ReturnType<typeof monitoringLoad>>["record"];

test("after a short load every panel of every dashboard has data, drawn as an SVG with its title", async () => {
  const start = Date.now() / 1000;
  record = (await monitoringLoad("test/integration/dashboards.test.ts")).record;
  rendered = await renderDashboards(plan, dashboardWindow(plan, start, Date.now() / 1000));
  expect(rendered.pictures.map((p) => `${p.dashboard} / ${p.title}`)).toEqual(
    panels.map((p) => `${p.dashboard} / ${p.title}`),
  );
  const withoutData = rendered.pictures.filter((p) => p.series === 0 || p.points === 0);
  expect(withoutData.map((p) => `${p.dashboard} / ${p.title}`)).toEqual([]);
  for (const p of rendered.pictures) {
    expect(p.svg, p.file).toMatch(/^<svg[\s\S]*<\/svg>\s*$/);
    checkWellFormedXml(p.svg);
    expect(p.svg, p.file).toContain(svgText(p.title));
    expect(p.svg.split('aria-roledescription="line mark"').length - 1, p.file).toBe(p.series);
  }
  expect(rendered.index).toContain(`All ${panels.length} panels have data.`);
}, 120_000);

test("npm run local -- dashboards --require-data writes every panel's SVG and the index", async () => {
  const out = join(dir, "cli");
  const { stdout } = await promisify(execFile)(
    join(REPO_ROOT, "node_modules/.bin/tsx"),
    ["cli/local.ts", "dashboards", "--since", "2m", "--out", out, "--require-data"],
    { cwd: REPO_ROOT, encoding: "utf8" },
  );
  expect(stdout).toContain(`${panels.length} panels, 0 without data, over the last 2m`);
  const files = (await readdir(out)).sort();
  expect(files).toEqual([DASHBOARDS_INDEX, ...rendered.pictures.map((p) => p.file)].sort());
  const index = await readFile(join(out, DASHBOARDS_INDEX), "utf8");
  for (const p of rendered.pictures) expect(index).toContain(`](${p.file})`);
  expect(index).not.toContain("no data");
}, 60_000);

test("the load test report links the dashboards of its run", async () => {
  const report = await writeReport(record, { dir, dashboards: await runDashboards(plan, record) });
  const md = await readFile(join(report.dir, REPORT_MARKDOWN), "utf8");
  expect(md).toContain(`](${DASHBOARDS_DIR}/${DASHBOARDS_INDEX})`);
  expect(md).toContain(`${panels.length} panels, every one has data.`);
  const pictures = await readdir(join(report.dir, DASHBOARDS_DIR));
  expect(pictures.sort()).toEqual(
    [DASHBOARDS_INDEX, ...rendered.pictures.map((p) => p.file)].sort(),
  );
}, 60_000);
