import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, test } from "vitest";
import { LOADTEST_DEFAULTS } from "../../loadtest/defaults.js";
import { runHarness } from "../../loadtest/harness.js";
import { writeReport } from "../../loadtest/report/write.js";
import { plan, secrets } from "./helpers.js";

/**
 * The short load `npm test` runs: more than 1000 clients, the seven services' own transaction
 * shapes through the resilience library and both PgBouncer hosts, for 20 s, with no caller-visible
 * error; and the report it writes (JSON, Markdown, SVG charts) says so.
 */
const dir = await mkdtemp(join(tmpdir(), "pg-pooling-report-"));
afterAll(() => rm(dir, { recursive: true, force: true }));

test("1000+ clients for 20 s through the two-host fleet: no errors, every client connected, a report", async () => {
  const run = await runHarness({
    plan,
    secrets,
    clients: plan.totalPeakClients,
    durationMs: 20_000,
    rate: LOADTEST_DEFAULTS.rate,
    workers: LOADTEST_DEFAULTS.workers,
    direct: false,
    memory: true,
    command: "test/integration/loadtest.test.ts",
  });
  const r = run.record;
  expect(r.meta.clients).toBeGreaterThanOrEqual(1000);
  expect(r.services.map((s) => s.service).sort()).toEqual(plan.services.map((s) => s.name).sort());
  expect(r.errors).toEqual([]);
  for (const s of r.services) expect(s.transactions, s.service).toBeGreaterThan(0);
  // Every client held its connection: at the peak tick each caller had one open, and no instance
  // opened more than its pools allow (the rw pool and one pool per replica entry, each with the
  // full ro size, so one replica can take every read), plus the LISTEN sessions.
  const peak = Math.max(...r.throughput.map((t) => t.clientsConnected));
  const ceiling = plan.services.reduce(
    (n, s) =>
      n + s.instances * (s.app.rwPoolMax + s.app.roPoolMax * plan.config.database.replicas + 1),
    0,
  );
  expect(peak).toBeGreaterThanOrEqual(r.meta.clients);
  expect(peak).toBeLessThanOrEqual(ceiling);
  // Both hosts served every entry (SHOW POOLS through each process's own socket).
  const hosts = new Set(r.pools.filter((p) => p.clActive > 0).map((p) => p.host));
  expect([...hosts].sort()).toEqual(plan.hosts.map((h) => h.name));
  expect(run.notificationsReceived).toBeGreaterThan(0);
  expect(r.memory.some((m) => m.process.startsWith("pgbouncer-1") && m.rssMiB > 0)).toBe(true);

  const report = await writeReport(r, { dir });
  const md = await readFile(join(report.dir, "report.md"), "utf8");
  expect(md).toContain(`| total |`);
  for (const chart of ["throughput.svg", "latency.svg", "pools.svg"]) {
    expect(report.files.map((f) => f.split("/").pop())).toContain(chart);
    expect(await readFile(join(report.dir, chart), "utf8")).toMatch(/^<svg[\s\S]*<\/svg>\s*$/);
  }
  expect(JSON.parse(await readFile(join(report.dir, "report.json"), "utf8")).meta.clients).toBe(
    r.meta.clients,
  );
}, 120_000);
