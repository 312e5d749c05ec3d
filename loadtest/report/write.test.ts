import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { REPO_ROOT } from "../../platform/config.js";
import { isConfigError } from "../../platform/errors.js";
import { renderCharts } from "./charts.js";
import {
  DASHBOARDS_DIR,
  DEFAULT_REPORTS_ROOT,
  REPORT_JSON,
  REPORT_MARKDOWN,
  reportFolderName,
  writeReport,
} from "./write.js";
import { syntheticRunRecord } from "./__fixtures__/run-record.js";

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "pg-pooling-report-"));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe("writeReport", () => {
  test("writes report.json, report.md and every chart into <start>-<drill name>/", async () => {
    const record = syntheticRunRecord();
    const { dir, files } = await writeReport(record, { dir: root });

    expect(dir).toBe(join(root, "20251127-064109-primary-failover"));
    const charts = await renderCharts(record);
    expect(files.map((f) => relative(dir, f))).toEqual([
      REPORT_JSON,
      REPORT_MARKDOWN,
      ...charts.map((c) => c.file),
    ]);
    expect((await readdir(dir)).sort()).toEqual(files.map((f) => relative(dir, f)).sort());
    // Only the report's folder: the temporary one was renamed, not left behind.
    expect(await readdir(root)).toEqual(["20251127-064109-primary-failover"]);
    expect((await stat(dir)).mode & 0o777).toBe(0o755);

    expect(JSON.parse(await readFile(join(dir, REPORT_JSON), "utf8"))).toEqual(record);
    for (const chart of charts)
      expect(await readFile(join(dir, chart.file), "utf8"), chart.file).toBe(chart.svg);
    // Every image the Markdown links to is a file beside it.
    const markdown = await readFile(join(dir, REPORT_MARKDOWN), "utf8");
    const linked = [...markdown.matchAll(/!\[[^\]]*\]\(([^)]+)\)/g)].map((m) => m[1]);
    expect(linked).toEqual(charts.map((c) => c.file));
  });

  test("puts the dashboards' files in dashboards/ and report.md links their index", async () => {
    const dashboards = {
      files: [
        { file: "index.md", text: "# Dashboards\n" },
        { file: "pgpooling-fleet--replica-lag.svg", text: "<svg/>\n" },
      ],
      panels: 2,
      withoutData: ["pgpooling-fleet / Replica lag"],
    };
    const { dir, files } = await writeReport(syntheticRunRecord(), { dir: root, dashboards });
    expect(files.slice(-2).map((f) => relative(dir, f))).toEqual([
      join(DASHBOARDS_DIR, "index.md"),
      join(DASHBOARDS_DIR, "pgpooling-fleet--replica-lag.svg"),
    ]);
    expect(await readFile(join(dir, DASHBOARDS_DIR, "index.md"), "utf8")).toBe("# Dashboards\n");
    const markdown = await readFile(join(dir, REPORT_MARKDOWN), "utf8");
    expect(markdown).toContain(
      "## Dashboards\n\n[The generated dashboards over this run](dashboards/index.md) from " +
        "Prometheus: 2 panels, 1 without data: pgpooling-fleet / Replica lag.",
    );
  });

  test("a run that is not a drill is named after its mode", () => {
    const record = syntheticRunRecord();
    delete record.drill;
    record.meta.mode = "direct";
    record.meta.startedAt = "2025-01-02T23:04:05+02:00";
    expect(reportFolderName(record)).toBe("20250102-210405-direct");
    record.drill = { ...syntheticRunRecord().drill!, name: "PgBouncer host / restart" };
    expect(reportFolderName(record)).toBe("20250102-210405-pgbouncer-host-restart");
  });

  test.each([
    [
      "NaN in a tick",
      (r: ReturnType<typeof syntheticRunRecord>) => (r.throughput[9]!.p99Ms = NaN),
      "throughput[9].p99Ms must be a finite number, got NaN",
    ],
    [
      "empty throughput",
      (r: ReturnType<typeof syntheticRunRecord>) => (r.throughput = []),
      "throughput must have at least one sample, got []",
    ],
  ])(
    "refuses a bad record (%s), naming the field, and writes nothing",
    async (_, change, message) => {
      const record = syntheticRunRecord();
      change(record);
      const target = join(root, "reports");
      const refusal = await writeReport(record, { dir: target }).catch((e: unknown) => e);
      expect(isConfigError(refusal)).toBe(true);
      expect((refusal as Error).message).toContain(message);
      expect(await readdir(root)).toEqual([]);
    },
  );

  test("never overwrites an earlier report of the same run", async () => {
    const record = syntheticRunRecord();
    const existing = join(root, reportFolderName(record));
    await mkdir(existing);
    await writeFile(join(existing, "keep.txt"), "earlier");
    await expect(writeReport(record, { dir: root })).rejects.toThrow(/already exists/);
    expect(await readdir(existing)).toEqual(["keep.txt"]);
    expect(await readdir(root)).toEqual([reportFolderName(record)]);
  });

  test("a password in the command or an error message is not in any written file", async () => {
    const record = syntheticRunRecord();
    record.meta.command += " --dsn postgresql://orders:hunter2@127.0.0.1:56432/orders";
    record.errors[1]!.message = "password authentication failed; PGPASSWORD=hunter2";
    const { files } = await writeReport(record, { dir: root });
    for (const file of files) expect(await readFile(file, "utf8"), file).not.toContain("hunter2");
  });

  test("the default folder is reports/ at the repo root, and git ignores it", async () => {
    const folder = relative(REPO_ROOT, DEFAULT_REPORTS_ROOT);
    expect(folder).toBe("reports");
    const ignored = (await readFile(join(REPO_ROOT, ".gitignore"), "utf8")).split("\n");
    expect(ignored).toContain(`${folder}/`);
  });
});
