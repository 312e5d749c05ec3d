import type pg from "pg";
import { connect, type Target } from "../local/connect.js";
import { percentile } from "./stats.js";

/**
 * A bounded load: open every client, let each run short transactions with think time for a fixed
 * duration, close them all. Measures what a person wants side by side: how many clients got in,
 * why the others did not, throughput and latency. Loopback only, stops by itself.
 */
export interface LoadOptions {
  /** One target per client. */
  targets: readonly Target[];
  durationMs: number;
  /** Pause between a client's transactions, like an app doing work between queries. */
  thinkMs: number;
  /** Clients connecting at once while ramping up. */
  connectConcurrency?: number;
  /** Called once, halfway through the run, while every client is busy. */
  midRun?: () => Promise<void>;
}

export interface LoadResult {
  attempted: number;
  connected: number;
  /** Refusals by message, e.g. "sorry, too many clients already" → 778. */
  refused: Record<string, number>;
  transactions: number;
  failedTransactions: number;
  tps: number;
  p50Ms: number;
  p99Ms: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runLoad(opts: LoadOptions): Promise<LoadResult> {
  const clients: pg.Client[] = [];
  const refused: Record<string, number> = {};
  const batch = opts.connectConcurrency ?? 100;
  for (let i = 0; i < opts.targets.length; i += batch) {
    const results = await Promise.allSettled(
      opts.targets.slice(i, i + batch).map((t) => connect(t, 20_000)),
    );
    for (const r of results) {
      if (r.status === "fulfilled") clients.push(r.value);
      else {
        const message = (r.reason as Error).message;
        refused[message] = (refused[message] ?? 0) + 1;
      }
    }
  }
  const latencies: number[] = [];
  let failed = 0;
  const started = performance.now();
  const deadline = started + opts.durationMs;
  const worker = async (client: pg.Client, index: number) => {
    await sleep((index * 7) % opts.thinkMs); // spread the first queries over one think time
    while (performance.now() < deadline) {
      const t0 = performance.now();
      try {
        await client.query("select count(*) from pg_class");
        latencies.push(performance.now() - t0);
      } catch {
        failed++;
      }
      await sleep(opts.thinkMs);
    }
  };
  const mid = opts.midRun ? sleep(opts.durationMs / 2).then(opts.midRun) : Promise.resolve();
  await Promise.all([...clients.map(worker), mid]);
  const elapsed = (performance.now() - started) / 1000;
  await Promise.all(clients.map((c) => c.end().catch(() => {})));
  latencies.sort((a, b) => a - b);
  return {
    attempted: opts.targets.length,
    connected: clients.length,
    refused,
    transactions: latencies.length,
    failedTransactions: failed,
    tps: clients.length === 0 ? 0 : latencies.length / elapsed,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
  };
}
