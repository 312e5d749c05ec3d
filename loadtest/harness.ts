import { cpus, totalmem } from "node:os";
import { Worker } from "node:worker_threads";
import type { Plan } from "../platform/plan.js";
import { superuserQuery, superuserScript } from "../local/postgres-server.js";
import { primaryNode } from "../local/cluster.js";
import type { LocalSecrets } from "../local/secrets.js";
import { PRIMARY_ADDRESS, replicaAddress } from "../local/topology.js";
import { startWorkers, WorkerReports } from "./threads.js";
import { fleet, partition, type Endpoints, type InstanceSpec } from "./fleet.js";
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
  checkOptions(o);
  const runId = `r${Date.now().toString(36)}`;
  const say = o.progress ?? (() => {});
  const specs = fleet(
    o.plan,
    { clients: o.clients, rate: o.rate, services: o.services },
    endpoints(o),
  );
  const postgresVersion = await prepare(o);
  const parts = partition(specs, o.workers);
  say(
    `${specs.reduce((n, s) => n + s.clients, 0)} clients in ${specs.length} service instances over ${parts.length} worker threads: connecting…`,
  );
  const workers = startWorkers(o, runId, parts);
  const run: Run = {
    o,
    workers,
    sampler: o.direct ? undefined : new PoolSampler(o.plan, o.secrets),
    reports: new WorkerReports(workers),
    record: emptyRecord(o, specs, postgresVersion),
    hookTimes: {},
    say,
  };
  try {
    await measure(run);
  } finally {
    for (const w of workers) w.postMessage({ kind: "stop" });
    await Promise.race([run.reports.settled, sleep(30_000)]);
    await Promise.all(workers.map((w) => w.terminate()));
    await run.sampler?.close();
  }
  if (run.reports.failure) throw new Error(run.reports.failure);
  return result(run, runId, specs);
}

/** One run in progress: its options, workers, what they report and the record being written. */
interface Run {
  o: HarnessOptions;
  workers: Worker[];
  sampler: PoolSampler | undefined;
  reports: WorkerReports;
  record: RunRecord;
  hookTimes: HarnessResult["hookTimes"];
  say: (line: string) => void;
}

function checkOptions(o: HarnessOptions): void {
  if (!(Number.isInteger(o.clients) && o.clients >= 1))
    throw new Error(`--clients must be a whole number ≥ 1, got ${o.clients}`);
  if (!(o.rate > 0 && o.rate <= 10)) throw new Error(`--rate must be in (0, 10], got ${o.rate}`);
  if (!(Number.isInteger(o.workers) && o.workers >= 1 && o.workers <= 16))
    throw new Error(`--workers must be a whole number from 1 to 16, got ${o.workers}`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitUntil(reports: WorkerReports, what: string, ok: () => boolean, ms: number) {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (reports.failure) throw new Error(reports.failure);
    if (Date.now() > deadline) throw new Error(`timed out after ${ms / 1000}s waiting for ${what}`);
    await sleep(50);
  }
}

/** The record's meta as the run starts; the samples and summaries are filled in as it goes. */
function emptyRecord(o: HarnessOptions, specs: InstanceSpec[], postgresVersion: string): RunRecord {
  return {
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
}

/** The measured phase: the workers go, the hooks fire on time, a sample every second. */
async function measure(run: Run): Promise<void> {
  const { o, workers, reports } = run;
  await waitUntil(
    reports,
    "every worker to open its pools",
    () => reports.ready.size === workers.length,
    120_000,
  );
  const startedAt = Date.now();
  for (const w of workers) w.postMessage({ kind: "go", startedAt });
  const hooks = (o.hooks ?? []).map((h) => runHook(run, h, startedAt));
  let second = 0;
  let previous = startedAt;
  while ((second + 1) * 1000 <= o.durationMs) {
    second++;
    await sleep(startedAt + second * 1000 - Date.now());
    if (reports.failure) throw new Error(reports.failure);
    const current = reports.tick;
    reports.tick = { lat: [], errors: 0 };
    // A busy event loop can tick late: rates are per second of time actually elapsed.
    const elapsed = Math.max(0.001, (Date.now() - previous) / 1000);
    previous = Date.now();
    await sample(run, second, current, elapsed);
  }
  await Promise.all(hooks);
}

/** A drill's hook, at its time; its failure stops the run. */
function runHook(run: Run, h: NonNullable<HarnessOptions["hooks"]>[number], startedAt: number) {
  const { hookTimes, say } = run;
  return sleep(h.atMs)
    .then(async () => {
      const start = Date.now() - startedAt;
      say(`  ${(start / 1000).toFixed(1)}s ${h.label}`);
      await h.run();
      hookTimes[h.label] = { start, end: Date.now() - startedAt };
      say(`  ${(hookTimes[h.label]!.end / 1000).toFixed(1)}s ${h.label}: done`);
    })
    .catch((e: Error) => {
      run.reports.failure ??= `${h.label} failed: ${e.message}`;
    });
}

/** One second's sample: throughput and latency, SHOW POOLS, memory now and then; the live line. */
async function sample(
  { o, sampler, reports, record, say }: Run,
  second: number,
  current: WorkerReports["tick"],
  elapsed: number,
): Promise<void> {
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
    clientsConnected: [...reports.connections.values()].reduce((a, b) => a + b, 0),
    connectionsLost: [...reports.connectionsLost.values()].reduce((a, b) => a + b, 0),
  };
  record.throughput.push(sample);
  say(
    `  ${String(second).padStart(4)}s ${String(sample.tps).padStart(6)} tx/s  p50 ${sample.p50Ms.toFixed(1)} ms  p99 ${sample.p99Ms.toFixed(1)} ms  errors ${sample.errors}  waiting ${sample.clientsWaiting}  clients ${sample.clientsConnected}`,
  );
}

/** The record completed from everything the workers reported, and the result a drill checks. */
function result(
  { o, record, reports, hookTimes }: Run,
  runId: string,
  specs: InstanceSpec[],
): HarnessResult {
  const { errors, completions, readCompletions } = reports;
  record.services = summarise(specs, reports.latencies, reports.perService, o.durationMs);
  record.errors = countErrors(errors);
  // The live line counted calls by when their tick reached this thread; the record counts them by
  // when they completed, so a worker's late message cannot make a second look empty.
  exactPerSecond(record.throughput, completions, reports.completionLatencies, errors);
  completions.sort((a, b) => a - b);
  readCompletions.sort((a, b) => a - b);
  const failedCallStarts = errors.map((e) => e.calledAt).sort((a, b) => a - b);
  return {
    runId,
    record,
    acked: reports.acked,
    completions,
    readCompletions,
    notificationsReceived: reports.notificationsReceived,
    hookTimes,
    failedCallStarts,
  };
}
