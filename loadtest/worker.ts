import { parentPort, workerData } from "node:worker_threads";
import { createServer, type Server } from "node:http";
import pg from "pg";
import { Registry } from "prom-client";
import { mergedExposition } from "../resilience/metrics.js";
import {
  createDatabase,
  isDatabaseCallError,
  tlsOptions,
  type Database,
} from "../resilience/index.js";
import { listens, readers, type InstanceSpec } from "./fleet.js";
import type { CallError, FromWorker, ServiceTick, ToWorker, WorkerInit } from "./protocol.js";
import { workloadOf, type AckedWrite } from "./workloads.js";

/**
 * One worker thread of the harness: runs its share of the service instances through the
 * resilience library, each instance with as many callers as it has pool connections, and reports
 * every tick. One event loop cannot drive a few thousand connections and measure them honestly at
 * the same time, so the harness splits instances over several of these.
 */
const init = workerData as WorkerInit;
const port = parentPort!;
const send = (m: FromWorker) => port.postMessage(m);
const TICK_MS = 250;
let startedAt = 0;
let stopping = false;
let stop: () => void = () => {};
const stopped = new Promise<void>((resolve) => (stop = resolve));
/** A think time that ends early when the run stops (a reporting client may think for seconds). */
const sleep = (ms: number) =>
  Promise.race([new Promise((r) => setTimeout(r, ms).unref()), stopped]);
let seq = 0;
const acked: AckedWrite[] = [];
let pending: Record<string, ServiceTick> = {};
let completions: number[] = [];
let readCompletions: number[] = [];
/** Latency of each completion, in the same order. */
let completionLatencies: number[] = [];
let errors: CallError[] = [];
let notificationsReceived = 0;

function tickOf(service: string): ServiceTick {
  return (pending[service] ??= { latencies: [], reads: 0, writes: 0, errors: 0 });
}

function errorCode(e: unknown): { code: string; message: string } {
  const cause = isDatabaseCallError(e) ? (e.cause as { code?: string }) : (e as { code?: string });
  const code =
    cause?.code ?? (isDatabaseCallError(e) ? e.classification.reason : (e as Error).name);
  return { code: String(code), message: (e as Error).message.slice(0, 300) };
}

/** A deterministic per-caller generator: runs are repeatable in their key choices. */
function generator(seed: number) {
  let x = seed || 1;
  return (n: number) => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) % n;
  };
}

async function caller(db: Database, spec: InstanceSpec, index: number): Promise<void> {
  const workload = workloadOf(spec.service);
  const pick = generator(init.worker * 1_000_003 + seq++ * 7919 + index);
  const intervalMs = init.saturate
    ? 0
    : spec.targetTps > 0
      ? (1000 * spec.clients) / spec.targetTps
      : 1000;
  // Spread the first calls over one interval so the run does not start with a thundering herd.
  if (intervalMs > 0) await sleep(pick(Math.max(1, Math.floor(intervalMs))));
  while (!stopping) {
    const t0 = performance.now();
    const calledAt = Date.now() - startedAt;
    const isRead = init.saturate || pick(1000) < spec.readShare * 1000;
    try {
      if (isRead) {
        await workload.read({ db, requestId: "", pick });
      } else {
        const requestId = `${init.runId}-${init.worker}-${++seq}`;
        const ack = await workload.write({ db, requestId, pick });
        acked.push({ service: spec.service, ...ack, calledAt, at: Date.now() - startedAt });
      }
      const now = performance.now();
      const t = tickOf(spec.service);
      t.latencies.push(now - t0);
      if (isRead) t.reads++;
      else t.writes++;
      completions.push(Math.round(Date.now() - startedAt));
      if (isRead) readCompletions.push(Math.round(Date.now() - startedAt));
      completionLatencies.push(now - t0);
    } catch (e) {
      tickOf(spec.service).errors++;
      errors.push({ service: spec.service, ...errorCode(e), at: Date.now() - startedAt, calledAt });
    }
    const wait = intervalMs - (performance.now() - t0);
    // Back to back when there is no think time left, but still yielding so ticks get through;
    // setImmediate, because even setTimeout(0) waits a millisecond.
    if (wait > 0) await sleep(wait);
    else await new Promise((r) => setImmediate(r));
  }
}

/** notifications runs a LISTEN session per instance on its session-mode entry. */
async function listener(spec: InstanceSpec): Promise<pg.Client | undefined> {
  if (!listens(spec.service)) return undefined;
  const c = new pg.Client({
    host: spec.profile.rw.host,
    port: spec.profile.rw.port,
    database: spec.profile.rw.database,
    user: spec.profile.rw.user,
    password: init.passwords[spec.service],
    ssl: tlsOptions(spec.profile),
  });
  c.on("error", () => {});
  c.on("notification", () => notificationsReceived++);
  try {
    await c.connect();
  } catch (e) {
    // Straight to Postgres the role's limit may refuse it: the caller-visible error it is.
    errors.push({ service: spec.service, ...errorCode(e), at: 0, calledAt: 0 });
    tickOf(spec.service).errors++;
    return undefined;
  }
  listening++;
  c.once("end", () => listening--);
  await c.query("LISTEN events");
  return c;
}

/** LISTEN sessions connected right now: clients too, outside the pools. */
let listening = 0;

function flush(dbs: Database[]): void {
  let open = listening;
  let lost = 0;
  let waiting = 0;
  for (const h of dbs.map((db) => db.health())) {
    for (const t of [h.primary, ...h.replicas]) {
      lost += t.connections.lost;
      open += t.connections.open;
      waiting += t.connections.waiting;
    }
  }
  send({
    kind: "tick",
    worker: init.worker,
    services: pending,
    completions,
    readCompletions,
    completionLatencies,
    errors,
    connections: open,
    connectionsLost: lost,
    appWaiting: waiting,
    heapMiB: process.memoryUsage().heapUsed / 2 ** 20,
  });
  pending = {};
  completions = [];
  readCompletions = [];
  completionLatencies = [];
  errors = [];
}

/**
 * The services' resilience metrics, served for the local Prometheus to scrape (its
 * pgpooling-services job) as it scrapes the services' pods in the cloud. Worker k takes the k-th
 * slot; a worker beyond the slots is simply not scraped.
 */
function serveMetrics(registries: Registry[]): Server | undefined {
  if (!init.metricsPort) return undefined;
  const server = createServer((req, res) => {
    mergedExposition(registries)
      .then((body) => res.writeHead(200, { "content-type": "text/plain; version=0.0.4" }).end(body))
      .catch(() => res.writeHead(500).end());
  });
  server.on("error", () => {}); // a port still held by an earlier run: metrics are a bonus here
  server.listen(init.metricsPort.port, init.metricsPort.address);
  return server;
}

async function main(): Promise<void> {
  const t0 = Date.now();
  const registries = init.instances.map(() => new Registry());
  const dbs = init.instances.map((spec, i) =>
    createDatabase(spec.profile, {
      password: init.passwords[spec.service]!,
      registry: registries[i]!,
    }),
  );
  const metrics = serveMetrics(registries);
  // Straight to Postgres many connections are refused (the point of that comparison): warm()
  // leaves them closed and the callers meet the same refusals, counted as errors.
  if (init.warm) await Promise.all(dbs.map(async (db) => (await db.ready(), db.warm())));
  const listeners = await Promise.all(init.instances.map(listener));
  const clients = init.instances.reduce((n, s) => n + s.clients, 0);
  send({ kind: "ready", worker: init.worker, clients, setupMs: Date.now() - t0 });

  const go = await new Promise<number>((resolve) =>
    port.on("message", (m: ToWorker) => {
      if (m.kind === "go") resolve(m.startedAt);
      else {
        stopping = true;
        stop();
      }
    }),
  );
  startedAt = go;
  const callers = init.instances.flatMap((spec, i) =>
    // Capacity mode reads only: one caller per ro connection, as pgbench has one per connection.
    Array.from({ length: init.saturate ? readers(spec) : spec.clients }, (_, k) =>
      caller(dbs[i]!, spec, k),
    ),
  );
  const ticker = setInterval(() => flush(dbs), TICK_MS);
  await Promise.all(callers);
  clearInterval(ticker);
  flush(dbs);
  await Promise.all(listeners.map((l) => l?.end().catch(() => {})));
  await Promise.all(dbs.map((db) => db.close()));
  metrics?.close();
  send({ kind: "done", worker: init.worker, acked, notificationsReceived });
}

main().catch((e) => send({ kind: "failed", worker: init.worker, error: (e as Error).message }));
