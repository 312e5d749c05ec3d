import { cpus, totalmem } from "node:os";
import { Worker } from "node:worker_threads";
import type { Plan } from "../platform/plan.js";
import { superuserQuery, superuserScript } from "../local/postgres-server.js";
import { primaryNode } from "../local/cluster.js";
import type { LocalSecrets } from "../local/secrets.js";
import { SERVICE_METRICS } from "../local/monitoring.js";
import { PRIMARY_ADDRESS, replicaAddress } from "../local/topology.js";
import { fleet, partition, type Endpoints } from "./fleet.js";
import type { CallError, FromWorker, WorkerInit } from "./protocol.js";
import type { RunRecord, ThroughputSample } from "./report/types.js";
import { memorySamples, PoolSampler } from "./samplers.js";
import { countErrors, exactPerSecond, summarise } from "./summary.js";
import { percentile, round } from "./stats.js";
import { setupScript, type AckedWrite } from "./workloads.js";

/**
 * Runs the seven services' load against the local stack: worker threads drive the instances,
 * this thread samples every second (throughput, latency, SHOW POOLS, memory), prints a live line,
 * fires the drill's fault hooks on time, and returns the run as a RunRecord.
 */
const MEMORY_EVERY_S = 5;

export interface HarnessOptions {
  plan: Plan;
  secrets: LocalSecrets;
  clients: number;
  durationMs: number;
  /** Share of the plan's per-client peak rate each client aims at. */
  rate: number;
  services?: string[];
  direct: boolean;
  workers: number;
  memory: boolean;
  command: string;
  /**
   * Capacity mode: every client reads back to back with no think time (the harness's ceiling,
   * compared with pgbench's on the same target).
   */
  saturate?: boolean;
  /** Where connections go instead of the plan's hosts (pgbench can only name one). */
  endpoints?: Endpoints;
  /** Things to do at a time in the measured phase: a drill's fault and heal. */
  hooks?: { atMs: number; label: string; run: () => Promise<void> }[];
  progress?: (line: string) => void;
}

export interface HarnessResult {
  runId: string;
  record: RunRecord;
  acked: AckedWrite[];
  /** Completion time (ms since start) of every successful call, ascending. */
  completions: number[];
  /** Completion time of every successful read, ascending. */
  readCompletions: number[];
  notificationsReceived: number;
  /** When each hook started and when it finished (ms since start). */
  hookTimes: Record<string, { start: number; end: number }>;
  /** When each call that ended in a caller-visible error began (ms since start), ascending. */
  failedCallStarts: number[];
}

/**
 * Tables and seed rows for each driven service, owned by its role, on its own database. As the
 * superuser over the socket: the service's role may already be at its CONNECTION LIMIT with
 * server connections PgBouncer keeps open from an earlier run.
 */
async function prepare(o: HarnessOptions): Promise<string> {
  const primary = primaryNode(o.plan, o.secrets);
  for (const s of o.plan.services) {
    if (o.services?.length && !o.services.includes(s.name)) continue;
    await superuserScript(primary, setupScript(s.name));
  }
  return superuserQuery(primary, "SHOW server_version");
}

function endpoints(o: HarnessOptions): Endpoints {
  if (o.endpoints) return o.endpoints;
  // Through the endpoint, the local HAProxy, as services reach the tier in production.
  if (!o.direct) return { pgbouncerHosts: [o.plan.config.pgbouncer.endpoint] };
  return {
    postgres: {
      primary: PRIMARY_ADDRESS,
      replicas: Array.from({ length: o.plan.config.database.replicas }, (_, i) =>
        replicaAddress(i),
      ),
      port: o.plan.config.database.port,
    },
  };
}

export async function runHarness(o: HarnessOptions): Promise<HarnessResult> {
  if (!(Number.isInteger(o.clients) && o.clients >= 1))
    throw new Error(`--clients must be a whole number ≥ 1, got ${o.clients}`);
  if (!(o.rate > 0 && o.rate <= 10)) throw new Error(`--rate must be in (0, 10], got ${o.rate}`);
  if (!(Number.isInteger(o.workers) && o.workers >= 1 && o.workers <= 16))
    throw new Error(`--workers must be a whole number from 1 to 16, got ${o.workers}`);
  const runId = `r${Date.now().toString(36)}`;
  const say = o.progress ?? (() => {});
  const specs = fleet(
    o.plan,
    { clients: o.clients, rate: o.rate, services: o.services },
    endpoints(o),
  );
  const postgresVersion = await prepare(o);
  const passwords = Object.fromEntries(
    Object.entries(o.secrets.accounts).map(([k, v]) => [k, v.password]),
  );
  const parts = partition(specs, o.workers);
  say(
    `${specs.reduce((n, s) => n + s.clients, 0)} clients in ${specs.length} service instances over ${parts.length} worker threads: connecting…`,
  );
  const workers = parts.map(
    (instances, i) =>
      new Worker(new URL("./worker.ts", import.meta.url), {
        execArgv: ["--import", "tsx"],
        workerData: {
          runId,
          worker: i + 1,
          instances,
          passwords,
          warm: true,
          saturate: o.saturate ?? false,
          ...(i < SERVICE_METRICS.slots
            ? {
                metricsPort: {
                  address: SERVICE_METRICS.address,
                  port: SERVICE_METRICS.firstPort + i,
                },
              }
            : {}),
        } satisfies WorkerInit,
      }),
  );
  const sampler = o.direct ? undefined : new PoolSampler(o.plan, o.secrets);
  const acked: AckedWrite[] = [];
  const completions: number[] = [];
  const readCompletions: number[] = [];
  const completionLatencies: number[] = [];
  const errors: CallError[] = [];
  const latencies: Record<string, number[]> = {};
  const perService: Record<string, { reads: number; writes: number; errors: number }> = {};
  let tick = { lat: [] as number[], errors: 0 };
  const connections = new Map<number, number>();
  const connectionsLost = new Map<number, number>();
  let notificationsReceived = 0;
  let failure: string | undefined;
  const ready = new Set<number>();
  const done = new Set<number>();
  const settled = new Promise<void>((resolve) => {
    for (const w of workers) {
      w.on("error", (e) => {
        failure ??= `worker thread failed: ${e.message}`;
        resolve();
      });
      w.on("message", (m: FromWorker) => {
        if (m.kind === "ready") ready.add(m.worker);
        else if (m.kind === "failed") {
          failure ??= `worker ${m.worker} failed: ${m.error}`;
          resolve();
        } else if (m.kind === "done") {
          acked.push(...m.acked);
          notificationsReceived += m.notificationsReceived;
          done.add(m.worker);
          if (done.size === workers.length) resolve();
        } else if (m.kind === "tick") {
          connections.set(m.worker, m.connections);
          connectionsLost.set(m.worker, m.connectionsLost);
          completions.push(...m.completions);
          readCompletions.push(...m.readCompletions);
          completionLatencies.push(...m.completionLatencies);
          errors.push(...m.errors);
          tick.errors += m.errors.length;
          for (const [service, t] of Object.entries(m.services)) {
            (latencies[service] ??= []).push(...t.latencies);
            tick.lat.push(...t.latencies);
            const s = (perService[service] ??= { reads: 0, writes: 0, errors: 0 });
            s.reads += t.reads;
            s.writes += t.writes;
            s.errors += t.errors;
          }
        }
      });
    }
  });
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const waitUntil = async (what: string, ok: () => boolean, ms: number) => {
    const deadline = Date.now() + ms;
    while (!ok()) {
      if (failure) throw new Error(failure);
      if (Date.now() > deadline)
        throw new Error(`timed out after ${ms / 1000}s waiting for ${what}`);
      await sleep(50);
    }
  };
  const record: RunRecord = {
    meta: {
      command: o.command,
      startedAt: new Date().toISOString(),
      machine: {
        cpus: cpus().length,
        cpuModel: cpus()[0]?.model.trim() ?? "unknown",
        memoryGiB: Math.round(totalmem() / 2 ** 30),
        node: process.version,
      },
      pgbouncerVersion: o.direct ? "none (direct)" : o.plan.pgbouncerVersion.join("."),
      postgresVersion,
      mode: o.direct ? "direct" : "pooled",
      clients: specs.reduce((n, s) => n + s.clients, 0),
      durationSeconds: o.durationMs / 1000,
      services: [...new Set(specs.map((s) => s.service))],
    },
    throughput: [],
    pools: [],
    memory: [],
    errors: [],
    services: [],
    comparisons: [],
    notes: [],
  };
  const hookTimes: HarnessResult["hookTimes"] = {};
  try {
    await waitUntil("every worker to open its pools", () => ready.size === workers.length, 120_000);
    const startedAt = Date.now();
    for (const w of workers) w.postMessage({ kind: "go", startedAt });
    const hooks = (o.hooks ?? []).map((h) =>
      sleep(h.atMs)
        .then(async () => {
          const start = Date.now() - startedAt;
          say(`  ${(start / 1000).toFixed(1)}s ${h.label}`);
          await h.run();
          hookTimes[h.label] = { start, end: Date.now() - startedAt };
          say(`  ${(hookTimes[h.label]!.end / 1000).toFixed(1)}s ${h.label}: done`);
        })
        .catch((e: Error) => {
          failure ??= `${h.label} failed: ${e.message}`;
        }),
    );
    let second = 0;
    let previous = startedAt;
    while ((second + 1) * 1000 <= o.durationMs) {
      second++;
      await sleep(startedAt + second * 1000 - Date.now());
      if (failure) throw new Error(failure);
      const current = tick;
      tick = { lat: [], errors: 0 };
      // A busy event loop can tick late: rates are per second of time actually elapsed.
      const elapsed = Math.max(0.001, (Date.now() - previous) / 1000);
      previous = Date.now();
      current.lat.sort((a, b) => a - b);
      const pools = sampler ? await sampler.sample(second) : [];
      record.pools.push(...pools);
      // Every 5 s: reading /proc for a few thousand backends is not free.
      if (o.memory && second % MEMORY_EVERY_S === 1)
        record.memory.push(...(await memorySamples(o.plan, o.secrets, second)));
      const sample: ThroughputSample = {
        t: second,
        tps: Math.round(current.lat.length / elapsed),
        p50Ms: round(percentile(current.lat, 50)),
        p95Ms: round(percentile(current.lat, 95)),
        p99Ms: round(percentile(current.lat, 99)),
        errors: current.errors,
        clientsWaiting: pools.reduce((n, p) => n + p.clWaiting, 0),
        clientsConnected: [...connections.values()].reduce((a, b) => a + b, 0),
        connectionsLost: [...connectionsLost.values()].reduce((a, b) => a + b, 0),
      };
      record.throughput.push(sample);
      say(
        `  ${String(second).padStart(4)}s ${String(sample.tps).padStart(6)} tx/s  p50 ${sample.p50Ms.toFixed(1)} ms  p99 ${sample.p99Ms.toFixed(1)} ms  errors ${sample.errors}  waiting ${sample.clientsWaiting}  clients ${sample.clientsConnected}`,
      );
    }
    await Promise.all(hooks);
  } finally {
    for (const w of workers) w.postMessage({ kind: "stop" });
    await Promise.race([settled, sleep(30_000)]);
    await Promise.all(workers.map((w) => w.terminate()));
    await sampler?.close();
  }
  if (failure) throw new Error(failure);
  record.services = summarise(specs, latencies, perService, o.durationMs);
  record.errors = countErrors(errors);
  // The live line counted calls by when their tick reached this thread; the record counts them by
  // when they completed, so a worker's late message cannot make a second look empty.
  exactPerSecond(record.throughput, completions, completionLatencies, errors);
  completions.sort((a, b) => a - b);
  readCompletions.sort((a, b) => a - b);
  const failedCallStarts = errors.map((e) => e.calledAt).sort((a, b) => a - b);
  return {
    runId,
    record,
    acked,
    completions,
    readCompletions,
    notificationsReceived,
    hookTimes,
    failedCallStarts,
  };
}
