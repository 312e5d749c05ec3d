import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { DEFAULTS } from "../platform/defaults.js";
import type { Plan } from "../platform/plan.js";
import { EXPORTERS } from "../platform/exporters.js";
import { renderAlertRules } from "../monitoring/alerts.js";
import { postgresExporterQueries } from "../monitoring/catalogue.js";
import { renderPrometheusConfig, scrapeJobs, type ScrapeTargets } from "../monitoring/scrape.js";
import { run } from "./exec.js";
import { chownToUser } from "./service-files.js";
import { daemonPid, startDaemon, stopDaemon, waitFor } from "./daemons.js";
import { clusterNodes } from "./postgres-nodes.js";
import { clusterOptions } from "./cluster.js";
import { localNodeAddresses } from "./topology.js";
import type { LocalSecrets } from "./secrets.js";
import {
  monitoringDir,
  pgbouncerExporterAddress,
  pgbouncerExporterPid,
  startPgbouncerExporter,
  stopPgbouncerExporter,
  writeExporterPassfile,
} from "./pgbouncer-exporter.js";
import { processIds } from "./pgbouncer.js";
import { SERVICE_USER } from "./state-dir.js";

/**
 * The local stack's monitoring, the parts production runs, from the production-line root:
 * Prometheus 3 with the generated rules and scrape config, postgres_exporter for each Postgres
 * node with the generated custom queries, and pgbouncer_exporter for every PgBouncer process
 * (local/pgbouncer-exporter.ts). All on loopback addresses; state under the state folder.
 */
export const PROMETHEUS = { address: "127.0.0.20", port: 9090 } as const;
export const prometheusUrl = () => `http://${PROMETHEUS.address}:${PROMETHEUS.port}`;
/**
 * Where load runs serve the services' resilience metrics: one port per harness worker thread,
 * so Prometheus scrapes the library's own metrics as it would scrape a service's pods.
 */
export const SERVICE_METRICS = { address: "127.0.0.30", firstPort: 9401, slots: 4 } as const;

const dir = monitoringDir;
const file = (name: string) => join(dir(), name);
export { pgbouncerExporterAddress };

export function localScrapeTargets(plan: Plan): ScrapeTargets {
  const nodes = localNodeAddresses(plan);
  return {
    pgbouncer: plan.hosts.flatMap((h) =>
      Array.from({ length: h.processes }, (_, i) => ({
        host: h.name,
        process: i + 1,
        address: pgbouncerExporterAddress(h.index, i + 1),
      })),
    ),
    postgres: nodes.map((n) => ({
      node: n.name,
      address: `${n.address}:${EXPORTERS.postgres.port}`,
    })),
    // No node_exporter here: this machine's host metrics are not the fleet's.
    node: [],
    services: Array.from({ length: SERVICE_METRICS.slots }, (_, i) => ({
      service: `harness-${i + 1}`,
      address: `${SERVICE_METRICS.address}:${SERVICE_METRICS.firstPort + i}`,
    })),
  };
}

async function prometheusReady(): Promise<boolean> {
  const r = await fetch(`${prometheusUrl()}/-/ready`).catch(() => undefined);
  return r?.ok ?? false;
}

/** Instant query on the local Prometheus; the result vector. */
export async function promQuery(
  expr: string,
): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
  return promApi("query", expr, {});
}

/** One series of a range query: its labels and its [unix seconds, value as text] points. */
export interface RangeSeries {
  metric: Record<string, string>;
  values: [number, string][];
}

/** Range query on the local Prometheus (times in unix seconds); the result matrix. */
export async function promRange(
  expr: string,
  range: { start: number; end: number; step: number },
): Promise<RangeSeries[]> {
  return promApi("query_range", expr, {
    start: String(range.start),
    end: String(range.end),
    step: String(range.step),
  });
}

async function promApi<R>(
  path: string,
  expr: string,
  params: Record<string, string>,
): Promise<R[]> {
  const query = new URLSearchParams({ query: expr, ...params });
  const body = (await (await fetch(`${prometheusUrl()}/api/v1/${path}?${query}`)).json()) as {
    status: string;
    error?: string;
    data?: { result: R[] };
  };
  if (body.status !== "success") throw new Error(`query ${expr} failed: ${body.error}`);
  return body.data!.result;
}

/** The rule file the local Prometheus loads. */
export const LOCAL_ALERTS_FILE = "alerts.yml";
/** The custom queries every local postgres_exporter reads. */
const QUERIES_FILE = "postgres-queries.yml";

/** The local Prometheus's and exporters' generated files, by name: what `up` writes and review shows. */
export function localMonitoringFiles(plan: Plan): Record<string, string> {
  const jobs = scrapeJobs(plan, localScrapeTargets(plan));
  return {
    [LOCAL_ALERTS_FILE]: renderAlertRules(plan),
    "prometheus.yml": renderPrometheusConfig(plan, jobs, [LOCAL_ALERTS_FILE]),
    [QUERIES_FILE]: postgresExporterQueries(),
  };
}

export async function monitoringUp(plan: Plan, secrets: LocalSecrets): Promise<void> {
  await mkdir(join(dir(), "tsdb"), { recursive: true });
  for (const [name, text] of Object.entries(localMonitoringFiles(plan)))
    await writeFile(file(name), text);
  await run("promtool", ["check", "config", file("prometheus.yml")], { inRoot: true });
  await chownToUser(dir(), SERVICE_USER);
  await writeExporterPassfile(secrets);

  for (const n of clusterNodes(clusterOptions(plan, secrets.replicationPassword))) {
    if (await daemonPid(file(`postgres-exporter-${n.name}.pid`))) continue;
    await startDaemon(
      "prometheus-postgres-exporter",
      [
        `--web.listen-address=${n.address}:${EXPORTERS.postgres.port}`,
        `--extend.query-path=${file(QUERIES_FILE)}`,
        "--disable-settings-metrics",
      ],
      {
        // The superuser over the node's socket (trust): no password to hand the exporter here.
        // Production uses the pg_monitor role with its password from a credential file.
        asUser: SERVICE_USER,
        inRoot: true,
        env: {
          DATA_SOURCE_NAME: `host=${n.socketDir} port=${n.port} user=postgres dbname=${DEFAULTS.statementStats.database} sslmode=disable`,
        },
        logFile: file(`postgres-exporter-${n.name}.log`),
        pidFile: file(`postgres-exporter-${n.name}.pid`),
      },
    );
  }
  for (const host of plan.hosts) {
    for (const k of processIds(host)) await startPgbouncerExporter(plan, host, k);
  }
  if (!(await daemonPid(file("prometheus.pid")))) {
    await startDaemon(
      "prometheus",
      [
        `--config.file=${file("prometheus.yml")}`,
        `--storage.tsdb.path=${join(dir(), "tsdb")}`,
        `--web.listen-address=${PROMETHEUS.address}:${PROMETHEUS.port}`,
        "--storage.tsdb.retention.time=1d",
      ],
      {
        asUser: SERVICE_USER,
        inRoot: true,
        logFile: file("prometheus.log"),
        pidFile: file("prometheus.pid"),
      },
    );
  }
  await waitFor("Prometheus to be ready", prometheusReady, 30_000);
}

export async function monitoringDown(plan: Plan): Promise<void> {
  const nodes = clusterNodes(clusterOptions(plan, "")).map((n) => `postgres-exporter-${n.name}`);
  for (const name of ["prometheus", ...nodes]) await stopDaemon(file(`${name}.pid`));
  for (const host of plan.hosts) {
    for (const k of processIds(host)) await stopPgbouncerExporter(host, k);
  }
}

/** How many of the exporters run (for `status`): one per PgBouncer process, one per node. */
export async function exportersRunning(
  plan: Plan,
): Promise<{ pgbouncer: [number, number]; postgres: [number, number] }> {
  const processes = plan.hosts.flatMap((h) => processIds(h).map((k) => ({ h, k })));
  const nodes = clusterNodes(clusterOptions(plan, ""));
  const pgb = await Promise.all(processes.map(({ h, k }) => pgbouncerExporterPid(h, k)));
  const pg = await Promise.all(
    nodes.map((n) => daemonPid(file(`postgres-exporter-${n.name}.pid`))),
  );
  const running = (pids: (number | undefined)[]) => pids.filter((p) => p !== undefined).length;
  return {
    pgbouncer: [running(pgb), processes.length],
    postgres: [running(pg), nodes.length],
  };
}

/** Whether Prometheus runs (for `status`). */
export async function monitoringRunning(): Promise<boolean> {
  return (await daemonPid(file("prometheus.pid"))) !== undefined && (await prometheusReady());
}
