import pg from "pg";
import { localProfiles } from "../local/tls.js";
import { readSecrets } from "../local/secrets.js";
import { stackDown, stackStatus, stackUp } from "../local/stack.js";
import { createDatabase, tlsOptions } from "../resilience/index.js";
import { localPlan } from "../local/lines.js";
import { williamsRow } from "./order.js";

/**
 * npm run bench -- resilience: the wrapped path (createDatabase) against raw pg on the same target,
 * in the same run, in a carryover-balanced order (bench/order.ts) so machine noise and what one
 * variant leaves behind hit every variant alike.
 * Two shapes of write, each raw and wrapped: a single statement (autocommit), and a transaction
 * (BEGIN, the statement, COMMIT). Prints the throughput ratios and the latency added at p50:
 * - the wrapper's own cost, outcome check off (goal ≥ 0.97 for both shapes). transaction() sends
 *   BEGIN with the body's first statement, one round trip less than raw pg's BEGIN alone, so its
 *   own cost is read against a raw transaction that does the same by hand ("BEGIN; INSERT …" as
 *   one query), on the same wire shape; the defaults are read against plain raw pg;
 * - the outcome check's cost on each shape. In a transaction the xid rides with BEGIN (no round
 *   trip added); a single statement waits one round trip for its xid before it is sent, the price
 *   of knowing that a connection cut before then carried nothing that could commit.
 */
const ROUND_MS = Number(process.env.BENCH_ROUND_MS ?? 3000);

type Query = () => Promise<unknown>;
const BENCH_TABLE = "bench_resilience_writes";

/** Before each measured round, the same variant runs this long unmeasured. */
const SETTLE_MS = Number(process.env.BENCH_SETTLE_MS ?? 1000);

async function round(
  query: Query,
  workers: number,
  ms = ROUND_MS,
): Promise<{ ops: number; latencies: number[] }> {
  const latencies: number[] = [];
  const end = performance.now() + ms;
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (performance.now() < end) {
        const t0 = performance.now();
        await query();
        latencies.push(performance.now() - t0);
      }
    }),
  );
  return { ops: latencies.length, latencies };
}

const p50 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

export async function benchResilience(): Promise<void> {
  const plan = localPlan();
  const startedHere = !(await stackStatus(plan)).up;
  if (startedHere) await stackUp(plan);
  try {
    const secrets = await readSecrets();
    const profile = localProfiles(plan).find((p) => p.service === "orders")!;
    const password = secrets.accounts.orders!.password;
    const workers = profile.rw.poolMax;
    const raw = new pg.Pool({
      host: profile.rw.host,
      port: profile.rw.port,
      database: profile.rw.database,
      user: profile.rw.user,
      password,
      max: workers,
      ssl: tlsOptions(profile),
    });
    const db = createDatabase(profile, { password });
    // A real write (a row, a commit record): a bare SELECT assigns no transaction id and flushes
    // no WAL, so learning its xid would charge it a commit it never had.
    await raw.query(`CREATE TABLE IF NOT EXISTS ${BENCH_TABLE} (id bigserial PRIMARY KEY, v int)`);
    const insert = `INSERT INTO ${BENCH_TABLE} (v) VALUES ($1)`;
    const rawTransaction = async () => {
      const c = await raw.connect();
      try {
        await c.query("BEGIN");
        await c.query(insert, [1]);
        return await c.query("COMMIT");
      } finally {
        c.release();
      }
    };
    // The same transaction with BEGIN sent in front by hand, and the wrapper on that wire shape
    // (a parameterless first statement goes as one simple-protocol query for both).
    const literal = `INSERT INTO ${BENCH_TABLE} (v) VALUES (1)`;
    const rawPipelined = async () => {
      const c = await raw.connect();
      try {
        await c.query(`BEGIN ISOLATION LEVEL READ COMMITTED; ${literal}`);
        return await c.query("COMMIT");
      } finally {
        c.release();
      }
    };
    const checkOff = { resolveOutcome: false };
    const variants: [string, Query][] = [
      ["raw", () => raw.query(insert, [1])],
      ["wrapped", () => db.write(insert, [1])],
      ["opt-out", () => db.write(insert, [1], checkOff)],
      ["raw-tx", rawTransaction],
      ["tx", () => db.transaction((q) => q(insert, [1]))],
      ["tx-opt-out", () => db.transaction((q) => q(insert, [1]), checkOff)],
      ["raw-tx-begin-in-front", rawPipelined],
      ["tx-opt-out-same-wire", () => db.transaction((q) => q(literal), checkOff)],
    ];
    // a whole Williams square by default: each variant follows every other once
    const ROUNDS = Number(process.env.BENCH_ROUNDS ?? variants.length);
    for (const [, q] of variants) await round(q, workers); // warm both pools and PgBouncer's
    const totals = new Map(variants.map(([name]) => [name, { ops: 0, lat: [] as number[] }]));
    for (let i = 0; i < ROUNDS; i++) {
      const order = williamsRow(variants.length, i).map((k) => variants[k]!);
      for (const [name, q] of order) {
        // Unmeasured, first: what the previous variant left (its garbage, the code paths it had
        // warmed, the WAL it had queued for the replica) is paid here, not by this variant.
        await round(q, workers, SETTLE_MS);
        const r = await round(q, workers);
        totals.get(name)!.ops += r.ops;
        totals.get(name)!.lat.push(...r.latencies);
        console.log(
          `  round ${i + 1} ${name.padEnd(21)} ${(r.ops / (ROUND_MS / 1000)).toFixed(0)} ops/s, p50 ${p50(r.latencies).toFixed(3)} ms`,
        );
      }
    }
    const seconds = (ROUNDS * ROUND_MS) / 1000;
    const t = (name: string) => totals.get(name)!;
    console.log(
      `\nresilience bench: orders primary through PgBouncer, ${workers} concurrent callers, ${ROUNDS} × ${ROUND_MS / 1000}s each`,
    );
    const labels: Record<string, string> = {
      raw: "raw pg.Pool, one statement",
      wrapped: "write()",
      "opt-out": "write(), resolveOutcome off",
      "raw-tx": "raw pg.Pool, transaction",
      tx: "transaction()",
      "tx-opt-out": "transaction(), resolveOutcome off",
      "raw-tx-begin-in-front": "raw pg.Pool, BEGIN sent in front",
      "tx-opt-out-same-wire": "transaction(), off, same wire shape",
    };
    for (const [name] of variants)
      console.log(
        `  ${labels[name]!.padEnd(34)} ${(t(name).ops / seconds).toFixed(0)} ops/s, p50 ${p50(t(name).lat).toFixed(3)} ms`,
      );
    const ratio = (name: string, base: string, what: string) =>
      console.log(
        `  ${what.padEnd(48)} ${(t(name).ops / t(base).ops).toFixed(3)} throughput, ` +
          `${(p50(t(name).lat) - p50(t(base).lat)).toFixed(3)} ms added at p50`,
      );
    console.log("the wrapper's own cost (goal ≥ 0.97):");
    ratio("opt-out", "raw", "one statement, check off / raw");
    ratio(
      "tx-opt-out-same-wire",
      "raw-tx-begin-in-front",
      "transaction, check off / raw, same wire",
    );
    console.log("BEGIN sent with the first statement, against raw pg's BEGIN alone:");
    ratio("raw-tx-begin-in-front", "raw-tx", "raw, BEGIN in front / raw");
    ratio("tx-opt-out", "raw-tx", "transaction(), check off / raw");
    console.log("the outcome check's cost:");
    ratio("wrapped", "opt-out", "one statement (one more round trip)");
    ratio("tx", "tx-opt-out", "transaction (its xid rides with BEGIN)");
    console.log("the defaults against raw:");
    ratio("wrapped", "raw", "write() / raw statement");
    ratio("wrapped", "raw-tx", "write() / raw BEGIN, statement, COMMIT");
    ratio("tx", "raw-tx", "transaction() / raw transaction");
    await raw.query(`DROP TABLE ${BENCH_TABLE}`);
    await raw.end();
    await db.close();
  } finally {
    if (startedHere) await stackDown(plan);
  }
}
