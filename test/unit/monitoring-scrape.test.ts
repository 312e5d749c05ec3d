import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, test } from "vitest";
import { parse } from "yaml";
import { loadStack } from "../../platform/config.js";
import { buildPlan, type Plan } from "../../platform/plan.js";
import { localScrapeTargets } from "../../local/monitoring.js";
import { productionRoot, rootScratchDir } from "../../local/runtime.js";
import { renderAlertRules } from "../../monitoring/alerts.js";
import { SCRAPE_JOBS, TARGET_LABELS } from "../../monitoring/labels.js";
import {
  cloudScrapeTargets,
  NODE_JOB,
  renderPrometheusConfig,
  renderScrapeConfigs,
  scrapeIngress,
  scrapeJobs,
  servicesPodMonitorSpec,
  type ScrapeTargets,
} from "../../monitoring/scrape.js";

/** promtool of the production line (Prometheus 3, the production-line root) on files in `scratch`. */
const run = promisify(execFile);
const promtool = (...args: string[]) => run("chroot", [productionRoot(), "promtool", ...args]);
const root = rootScratchDir("pg-pooling-scrape-");
const scratch = root.host;
const inner = (path: string) => root.inner + path.slice(scratch.length);
afterAll(() => rm(scratch, { recursive: true, force: true }));

const prod = buildPlan(loadStack("prod"));
const dev = buildPlan(loadStack("dev"));
const local = buildPlan(loadStack("local"));

/** What the local stack would pass: loopback addresses, several processes per host. */
function loopbackTargets(plan: Plan): ScrapeTargets {
  return {
    pgbouncer: plan.hosts.flatMap((h) =>
      Array.from({ length: h.processes }, (_, p) => ({
        host: h.name,
        process: p + 1,
        address: `127.0.0.${h.index + 2}:${19127 + p}`,
      })),
    ),
    postgres: plan.budget.map((b, i) => ({ node: b.node, address: `127.0.0.1:${19187 + i}` })),
    node: [{ host: "pgbouncer-1", address: "127.0.0.1:19100" }],
    services: plan.services.map((s, i) => ({ service: s.name, address: `127.0.0.1:${19300 + i}` })),
  };
}

async function promtoolCheck(plan: Plan, targets: ScrapeTargets): Promise<string> {
  const dir = await mkdtemp(join(scratch, `${plan.environment}-`));
  const rules = join(dir, "rules.yml");
  await writeFile(rules, renderAlertRules(plan));
  const config = join(dir, "prometheus.yml");
  await writeFile(config, renderPrometheusConfig(plan, scrapeJobs(plan, targets), [inner(rules)]));
  try {
    const { stdout, stderr } = await promtool("check", "config", inner(config));
    return stdout + stderr;
  } catch (e) {
    const { stdout, stderr } = e as { stdout: string; stderr: string };
    return `FAILED\n${stdout}${stderr}`;
  }
}

describe("prometheus.yml", () => {
  test("prod with the cloud targets: promtool check config accepts it and its rules", async () => {
    const out = await promtoolCheck(
      prod,
      cloudScrapeTargets(prod, ["10.40.1.10", "10.40.2.10", "10.40.3.10"]),
    );
    expect(out).not.toContain("FAILED");
    expect(out).toMatch(/SUCCESS: \d+ rules found/);
  });

  test("local with loopback targets: promtool accepts it", async () => {
    const out = await promtoolCheck(local, loopbackTargets(local));
    expect(out).not.toContain("FAILED");
    expect(out).toMatch(/SUCCESS/);
  });

  // GIVEN the targets the local stack really passes (no node_exporter: the node job has none)
  // WHEN its prometheus.yml and rules are checked THEN promtool accepts them: a job without
  // targets is valid, and ExporterDown's `up{job="node"}` simply has no series locally.
  test("local with the local stack's own targets, node job empty: promtool accepts it", async () => {
    const targets = localScrapeTargets(local);
    expect(targets.node).toEqual([]);
    const node = scrapeJobs(local, targets).find((j) => j.job_name === NODE_JOB)!;
    expect(node.static_configs).toEqual([]);
    const out = await promtoolCheck(local, targets);
    expect(out).not.toContain("FAILED");
    expect(out).toMatch(/SUCCESS: \d+ rules found/);
  });

  test("and promtool does fail on a broken file (the check can fail)", async () => {
    const dir = await mkdtemp(join(scratch, "broken-"));
    const config = join(dir, "prometheus.yml");
    const text = renderPrometheusConfig(prod, scrapeJobs(prod, loopbackTargets(prod)), []);
    await writeFile(config, text.replace(/scrape_interval: 15s/, "scrape_interval: soon"));
    await expect(promtool("check", "config", inner(config))).rejects.toThrow();
  });

  test("every job an alert rule selects on is scraped, node_exporter's included", () => {
    const jobs = new Set(scrapeJobs(prod, loopbackTargets(prod)).map((j) => j.job_name));
    const selected = [...renderAlertRules(prod).matchAll(/job=~?"([^"]+)"/g)].flatMap((m) =>
      m[1]!.split("|"),
    );
    expect(selected).toEqual(expect.arrayContaining([SCRAPE_JOBS.pgbouncer, NODE_JOB]));
    for (const job of selected) expect(jobs, job).toContain(job);
  });
});

describe("scrape jobs", () => {
  const jobs = scrapeJobs(prod, cloudScrapeTargets(prod, ["10.0.1.1", "10.0.2.1", "10.0.3.1"]));
  const job = (name: string) => jobs.find((j) => j.job_name === name)!;

  test("one job each for PgBouncer, Postgres, the hosts and the services, at the plan's interval", () => {
    const jobs = scrapeJobs(prod, loopbackTargets(prod));
    expect(jobs.map((j) => j.job_name)).toEqual([
      SCRAPE_JOBS.pgbouncer,
      SCRAPE_JOBS.postgres,
      NODE_JOB,
      SCRAPE_JOBS.services,
    ]);
    for (const j of jobs)
      expect(j.scrape_interval).toBe(`${prod.config.monitoring.scrapeIntervalSeconds}s`);
  });

  test("PgBouncer targets carry host and process; Postgres targets carry node", () => {
    expect(job(SCRAPE_JOBS.pgbouncer).static_configs).toEqual([
      {
        targets: ["10.0.1.1:9127"],
        labels: { [TARGET_LABELS.host]: "pgbouncer-1", [TARGET_LABELS.process]: "1" },
      },
      {
        targets: ["10.0.2.1:9127"],
        labels: { [TARGET_LABELS.host]: "pgbouncer-2", [TARGET_LABELS.process]: "1" },
      },
      {
        targets: ["10.0.3.1:9127"],
        labels: { [TARGET_LABELS.host]: "pgbouncer-3", [TARGET_LABELS.process]: "1" },
      },
    ]);
    expect(job(SCRAPE_JOBS.postgres).static_configs).toEqual([
      { targets: ["10.0.1.1:9187"], labels: { [TARGET_LABELS.node]: "primary" } },
      { targets: ["10.0.2.1:9187"], labels: { [TARGET_LABELS.node]: "replica1" } },
      { targets: ["10.0.3.1:9187"], labels: { [TARGET_LABELS.node]: "replica2" } },
    ]);
  });

  test("local: one PgBouncer target per process", () => {
    const targets = loopbackTargets(local);
    const pgb = scrapeJobs(local, targets).find((j) => j.job_name === SCRAPE_JOBS.pgbouncer)!;
    expect(pgb.static_configs).toHaveLength(local.hosts.reduce((n, h) => n + h.processes, 0));
  });

  test("services in Kubernetes: no static job; a PodMonitor of the plan's services, job forced", () => {
    expect(jobs.map((j) => j.job_name)).not.toContain(SCRAPE_JOBS.services);
    const spec = servicesPodMonitorSpec(prod) as {
      selector: { matchExpressions: { values: string[] }[] };
      podMetricsEndpoints: { port: string; interval: string; relabelings: unknown[] }[];
    };
    expect(spec.selector.matchExpressions[0]!.values).toEqual(prod.services.map((s) => s.name));
    expect(spec.podMetricsEndpoints[0]).toMatchObject({
      port: "metrics",
      interval: `${prod.config.monitoring.scrapeIntervalSeconds}s`,
      relabelings: [{ targetLabel: "job", replacement: SCRAPE_JOBS.services, action: "replace" }],
    });
  });

  test("the scrape-config list parses back to the jobs, byte-stable", () => {
    const text = renderScrapeConfigs(jobs);
    expect(parse(text)).toEqual(JSON.parse(JSON.stringify(jobs)));
    expect(renderScrapeConfigs(jobs)).toBe(text);
    expect(text.endsWith("\n")).toBe(true);
  });

  test.each([
    [
      "an address with a newline",
      { pgbouncer: [{ host: "pgbouncer-1", process: 1, address: "10.0.0.1:9127\n- x" }] },
      /targets\.pgbouncer\[0\]\.address must be host:port/,
    ],
    [
      "a label value with a space",
      { node: [{ host: "pgbouncer 1", address: "10.0.0.1:9100" }] },
      /targets\.node\[0\]\.host must contain only/,
    ],
    [
      "an unknown node",
      { postgres: [{ node: "replica9", address: "10.0.0.1:9187" }] },
      /targets\.postgres\[0\]\.node must be one of primary, replica1, replica2, got "replica9"/,
    ],
  ] as const)("refuses %s, naming the field and the value", (_, bad, message) => {
    const targets = { ...loopbackTargets(prod), ...bad } as ScrapeTargets;
    expect(() => scrapeJobs(prod, targets)).toThrow(message);
  });

  test("ingress: every exporter port of the hosts from every scrapeFrom range, nothing else", () => {
    expect(scrapeIngress(prod)).toEqual([
      { cidr: "10.40.0.0/16", port: 9100 },
      { cidr: "10.40.0.0/16", port: 9127 },
      { cidr: "10.40.0.0/16", port: 9187 },
    ]);
    // dev's one host carries both nodes' postgres_exporters: 9187 and 9188
    const twoRanges = structuredClone(dev);
    twoRanges.config.monitoring.scrapeFrom = ["10.41.0.0/16", "10.99.0.0/24"];
    expect(scrapeIngress(twoRanges).map((r) => `${r.cidr} ${r.port}`)).toEqual([
      "10.41.0.0/16 9100",
      "10.41.0.0/16 9127",
      "10.41.0.0/16 9187",
      "10.41.0.0/16 9188",
      "10.99.0.0/24 9100",
      "10.99.0.0/24 9127",
      "10.99.0.0/24 9187",
      "10.99.0.0/24 9188",
    ]);
  });

  test("ingress reaches every cloud scrape target", () => {
    const ips = prod.hosts.map((_, i) => `10.40.${i + 1}.10`);
    const open = new Set(scrapeIngress(prod).map((r) => r.port));
    for (const job of scrapeJobs(prod, cloudScrapeTargets(prod, ips))) {
      for (const c of job.static_configs ?? []) {
        for (const t of c.targets)
          expect(open, `${job.job_name} ${t}`).toContain(Number(t.split(":")[1]));
      }
    }
  });

  test("cloud targets need one address per host", () => {
    expect(() => cloudScrapeTargets(prod, ["10.0.0.1"])).toThrow(
      /hostAddresses must hold one address per PgBouncer host \(3\), got "10.0.0.1"/,
    );
  });
});
