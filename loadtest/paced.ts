import type { Database } from "../resilience/index.js";

/**
 * Load of a known shape, for checking what the tier observes against what was driven (npm run
 * tune's proof): per service, calls at a fixed rate (open loop: one every 1/rate s, however long
 * each takes), each holding its transaction for a chosen time, a chosen share of them reads
 * (which the library sends to a replica when the client has one).
 */
export interface PacedShape {
  /** Calls per second. */
  rate: number;
  /** How long each call's transaction lasts on the server (a pg_sleep), in milliseconds. */
  transactionMs: number;
  /** Share (0–1) of the calls that are reads. */
  readShare: number;
}

export interface PacedResult {
  issued: number;
  reads: number;
  failed: number;
}

/** Drives every service of `shapes` on its client for `seconds`; resolves when all calls ended. */
export async function runPaced(
  clients: Record<string, Database>,
  shapes: Record<string, PacedShape>,
  seconds: number,
): Promise<Record<string, PacedResult>> {
  const end = Date.now() + seconds * 1000;
  const calls: Promise<unknown>[] = [];
  const results: Record<string, PacedResult> = {};
  const services = Object.entries(shapes).map(([service, shape]) => {
    const db = clients[service];
    if (!db) throw new Error(`no client for ${service}`);
    const result: PacedResult = (results[service] = { issued: 0, reads: 0, failed: 0 });
    const sql = `SELECT pg_sleep(${shape.transactionMs / 1000})`;
    return new Promise<void>((resolve) => {
      const tick = setInterval(() => {
        if (Date.now() >= end) {
          clearInterval(tick);
          resolve();
          return;
        }
        // reads spread evenly: one whenever they fall behind their share
        const read = result.reads < shape.readShare * (result.issued + 1);
        result.issued++;
        if (read) result.reads++;
        const call = read ? db.read(sql) : db.transaction((q) => q(sql), { resolveOutcome: false });
        calls.push(call.catch(() => void result.failed++));
      }, 1000 / shape.rate);
    });
  });
  await Promise.all(services);
  await Promise.all(calls);
  return results;
}
