import { Worker } from "node:worker_threads";
import { SERVICE_METRICS } from "../local/monitoring.js";
import type { InstanceSpec } from "./fleet.js";
import type { LocalSecrets } from "../local/secrets.js";
import type { CallError, FromWorker, WorkerInit } from "./protocol.js";
import type { AckedWrite } from "./workloads.js";

/** One worker thread per part of the fleet; the first few serve their metrics for Prometheus. */
export function startWorkers(
  o: { secrets: LocalSecrets; saturate?: boolean },
  runId: string,
  parts: InstanceSpec[][],
): Worker[] {
  const passwords = Object.fromEntries(
    Object.entries(o.secrets.accounts).map(([k, v]) => [k, v.password]),
  );
  return parts.map(
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
}

/** What the worker threads report during a run, gathered on this thread as it arrives. */
export class WorkerReports {
  readonly acked: AckedWrite[] = [];
  readonly completions: number[] = [];
  readonly readCompletions: number[] = [];
  readonly completionLatencies: number[] = [];
  readonly errors: CallError[] = [];
  readonly latencies: Record<string, number[]> = {};
  readonly perService: Record<string, { reads: number; writes: number; errors: number }> = {};
  /** The calls since the live line last printed: their latencies and errors. */
  tick = { lat: [] as number[], errors: 0 };
  readonly connections = new Map<number, number>();
  readonly connectionsLost = new Map<number, number>();
  notificationsReceived = 0;
  /** The first thing that went wrong (a worker, a hook): the run stops with it. */
  failure: string | undefined;
  readonly ready = new Set<number>();
  readonly done = new Set<number>();
  /** Resolves once every worker is done, or one has failed. */
  readonly settled: Promise<void>;

  constructor(workers: readonly Worker[]) {
    this.settled = new Promise<void>((resolve) => {
      for (const w of workers) {
        w.on("error", (e) => {
          this.failure ??= `worker thread failed: ${e.message}`;
          resolve();
        });
        w.on("message", (m: FromWorker) => {
          if (m.kind === "ready") this.ready.add(m.worker);
          else if (m.kind === "failed") {
            this.failure ??= `worker ${m.worker} failed: ${m.error}`;
            resolve();
          } else if (m.kind === "done") {
            this.acked.push(...m.acked);
            this.notificationsReceived += m.notificationsReceived;
            this.done.add(m.worker);
            if (this.done.size === workers.length) resolve();
          } else if (m.kind === "tick") {
            this.add(m);
          }
        });
      }
    });
  }

  private add(m: Extract<FromWorker, { kind: "tick" }>): void {
    this.connections.set(m.worker, m.connections);
    this.connectionsLost.set(m.worker, m.connectionsLost);
    this.completions.push(...m.completions);
    this.readCompletions.push(...m.readCompletions);
    this.completionLatencies.push(...m.completionLatencies);
    this.errors.push(...m.errors);
    this.tick.errors += m.errors.length;
    for (const [service, t] of Object.entries(m.services)) {
      (this.latencies[service] ??= []).push(...t.latencies);
      this.tick.lat.push(...t.latencies);
      const s = (this.perService[service] ??= { reads: 0, writes: 0, errors: 0 });
      s.reads += t.reads;
      s.writes += t.writes;
      s.errors += t.errors;
    }
  }
}
