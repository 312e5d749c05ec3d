import pg from "pg";
import { localProfiles } from "../local/tls.js";
import { readSecrets } from "../local/secrets.js";
import { stackDown, stackStatus, stackUp } from "../local/stack.js";
import { createDatabase, tlsOptions, type Database } from "../resilience/index.js";
import { localPlan } from "../local/lines.js";
import { williamsRow } from "./order.js";
import { pairedRatio, percentileOf } from "./ratios.js";

import { clientCpuPerCall, interleaved, mean, runAlone, type Query } from "./rounds.js";

/**
 * npm run bench -- resilience: the wrapped path (createDatabase) against raw pg on the same target,
 * in the same run. Two shapes of write, each raw and wrapped: a single statement (autocommit), and
 * a transaction (BEGIN, the statement, COMMIT).
 *
 * The wrapper's own cost, outcome check off (goal ≥ 0.97 for both shapes), is read with each pair
 * interleaved call by call (bench/rounds.ts): the wrapper adds microseconds to calls of
 * milliseconds, and on this shared two-core machine the throughput of one variant run alone swings
 * ±10 % from one second to the next, which no ordering of whole rounds averages out in minutes.
 * transaction() sends BEGIN with the body's first statement, one round trip less than raw pg's
 * BEGIN alone, so its own cost is read against a raw transaction that does the same by hand
 * ("BEGIN; INSERT …" as one query), on the same wire shape. The client's CPU per call is printed
 * beside it, each variant run alone.
 *
 * The outcome check's cost, and the defaults against raw pg, are read with each variant alone
 * (they hold server connections differently, which interleaving would share between the pair): a
 * row runs the six variants once each, in a carryover-balanced order (bench/order.ts), for
 * ROUND_MS after SETTLE_MS unmeasured, and a ratio is the median of the rows' ratios with their
 * quartiles (bench/ratios.ts). In a transaction the xid rides with BEGIN (no round trip added); a
 * single statement waits one round trip for its xid before it is sent, the price of knowing that a
 * connection cut before then carried nothing that could commit.
 */
const ROUND_MS = Number(process.env.BENCH_ROUND_MS ?? 600);
/** Before each measured round, the same variant runs this long unmeasured. */
const SETTLE_MS = Number(process.env.BENCH_SETTLE_MS ?? 300);
/** Rows of the check phase: four Williams squares of its six variants by default. */
const ROWS = Number(process.env.BENCH_ROWS ?? 24);
/** Interleaved rounds per pair of the wrapper's own cost, and each one's length. */
const PAIR_ROUNDS = Number(process.env.BENCH_PAIR_ROUNDS ?? 8);
const PAIR_ROUND_MS = Number(process.env.BENCH_PAIR_ROUND_MS ?? 3000);
/** Adjacent pairs of rounds alone in which each pair's client CPU per call is read. */
const CPU_PAIRS = Number(process.env.BENCH_CPU_PAIRS ?? 8);

const BENCH_TABLE = "bench_resilience_writes";

/** A variant's label in the output, and the call it times. */
type Variants = Record<string, { label: string; query: Query }>;

/** A comparison: `name` against `base`, described as `what`. */
type Comparison = [name: string, base: string, what: string];

/** The wrapper's own cost: each pair interleaved, the wrapped variant against its raw base. */
const OWN_COST: Comparison[] = [
  ["opt-out", "raw", "one statement, check off / raw"],
  ["tx-opt-out-same-wire", "raw-tx-begin-in-front", "transaction, check off / raw, same wire"],
];

/** The outcome check's phase: variants run alone, row by row. */
const ALONE = ["raw", "wrapped", "opt-out", "raw-tx", "tx", "tx-opt-out"];
const ALONE_SECTIONS: { heading: string; comparisons: Comparison[] }[] = [
  {
    heading: "the outcome check's cost:",
    comparisons: [
      ["wrapped", "opt-out", "one statement (one more round trip)"],
      ["tx", "tx-opt-out", "transaction (its xid rides with BEGIN)"],
    ],
  },
  {
    heading: "BEGIN sent with the first statement, against raw pg's BEGIN alone:",
    comparisons: [["tx-opt-out", "raw-tx", "transaction(), check off / raw"]],
  },
  {
    heading: "the defaults against raw:",
    comparisons: [
      ["opt-out", "raw", "write(), check off / raw (run alone)"],
      ["wrapped", "raw", "write() / raw statement"],
      ["wrapped", "raw-tx", "write() / raw BEGIN, statement, COMMIT"],
      ["tx", "raw-tx", "transaction() / raw transaction"],
    ],
  },
];

/** The calls each variant times, raw pg and the library on the same table. */
function benchVariants(raw: pg.Pool, db: Database): Variants {
  // A real write (a row, a commit record): a bare SELECT assigns no transaction id and flushes
  // no WAL, so learning its xid would charge it a commit it never had.
  const insert = `INSERT INTO ${BENCH_TABLE} (v) VALUES ($1)`;
  // With BEGIN sent in front by hand, and the wrapper on that wire shape (a parameterless first
  // statement goes as one simple-protocol query for both).
  const literal = `INSERT INTO ${BENCH_TABLE} (v) VALUES (1)`;
  /** Statements one after another on one pooled connection, as a service would run them. */
  const onClient = (statements: [sql: string, params?: unknown[]][]) => async () => {
    const c = await raw.connect();
    try {
      let result: unknown;
      for (const [sql, params] of statements) result = await c.query(sql, params);
      return result;
    } finally {
      c.release();
    }
  };
  const off = { resolveOutcome: false };
  return {
    raw: { label: "raw pg.Pool, one statement", query: () => raw.query(insert, [1]) },
    wrapped: { label: "write()", query: () => db.write(insert, [1]) },
    "opt-out": { label: "write(), resolveOutcome off", query: () => db.write(insert, [1], off) },
    "raw-tx": {
      label: "raw pg.Pool, transaction",
      query: onClient([["BEGIN"], [insert, [1]], ["COMMIT"]]),
    },
    tx: { label: "transaction()", query: () => db.transaction((q) => q(insert, [1])) },
    "tx-opt-out": {
      label: "transaction(), resolveOutcome off",
      query: () => db.transaction((q) => q(insert, [1]), off),
    },
    "raw-tx-begin-in-front": {
      label: "raw pg.Pool, BEGIN sent in front",
      query: onClient([[`BEGIN ISOLATION LEVEL READ COMMITTED; ${literal}`], ["COMMIT"]]),
    },
    "tx-opt-out-same-wire": {
      label: "transaction(), off, same wire shape",
      query: () => db.transaction((q) => q(literal), off),
    },
  };
}

/** The wrapper's own cost: each pair interleaved, round by round, and the client's CPU per call. */
async function measureOwnCost(variants: Variants, workers: number): Promise<void> {
  console.log(
    `the wrapper's own cost (goal ≥ 0.97), interleaved call by call, ${PAIR_ROUNDS} × ${PAIR_ROUND_MS / 1000} s a pair:`,
  );
  for (const [name, base, what] of OWN_COST) {
    const [b, q] = [variants[base]!.query, variants[name]!.query];
    await interleaved(b, q, workers, PAIR_ROUND_MS); // warm up
    const ratios: number[] = [];
    const all: [number[], number[]] = [[], []];
    for (let i = 0; i < PAIR_ROUNDS; i++) {
      const [lb, lq] = await interleaved(b, q, workers, PAIR_ROUND_MS);
      ratios.push(mean(lb) / mean(lq));
      all[0].push(...lb);
      all[1].push(...lq);
    }
    const addedMs = percentileOf(all[1], 50) - percentileOf(all[0], 50);
    console.log(
      `  ${what.padEnd(44)} ${percentileOf(ratios, 50).toFixed(3)} throughput ` +
        `(rounds ${Math.min(...ratios).toFixed(3)}–${Math.max(...ratios).toFixed(3)}), ` +
        `${addedMs.toFixed(3)} ms added at p50`,
    );
    const cpu = await cpuPerCall(b, q, workers);
    console.log(
      `  ${"".padEnd(44)} client CPU per call: ${cpu.base.toFixed(1)} µs raw, ${cpu.wrapped.toFixed(1)} µs wrapped ` +
        `(${cpu.added >= 0 ? "+" : "−"}${Math.abs(cpu.added).toFixed(1)} µs, median of ${CPU_PAIRS} adjacent pairs)`,
    );
  }
}

/**
 * The client's CPU per call, raw and wrapped, each run alone. CPU per call inflates when the
 * machine is busier (caches, the other core's load): read in adjacent pairs, alternating which
 * goes first; the medians, and the median of the pairs' differences.
 */
async function cpuPerCall(
  base: Query,
  wrapped: Query,
  workers: number,
): Promise<{ base: number; wrapped: number; added: number }> {
  const cpu = (q: Query) => clientCpuPerCall(q, workers, ROUND_MS);
  const pairs: [number, number][] = [];
  for (let i = 0; i < CPU_PAIRS; i++) {
    if (i % 2) {
      const b = await cpu(base);
      pairs.push([b, await cpu(wrapped)]);
    } else {
      const w = await cpu(wrapped);
      pairs.push([await cpu(base), w]);
    }
  }
  const median = (f: (pair: [number, number]) => number) => percentileOf(pairs.map(f), 50);
  return {
    base: median(([b]) => b),
    wrapped: median(([, w]) => w),
    added: median(([b, w]) => w - b),
  };
}

/** The rows of variants run alone (each variant's throughput per row), and every latency. */
interface Measured {
  rows: Record<string, number>[];
  latencies: Map<string, number[]>;
}

async function measureAlone(
  names: string[],
  variants: Variants,
  workers: number,
): Promise<Measured> {
  for (const name of names) await runAlone(variants[name]!.query, workers, ROUND_MS); // warm up
  const rows: Record<string, number>[] = [];
  const latencies = new Map(names.map((name) => [name, [] as number[]]));
  for (let i = 0; i < ROWS; i++) {
    const row: Record<string, number> = {};
    for (const k of williamsRow(names.length, i)) {
      const name = names[k]!;
      // Unmeasured, first: what the previous variant left (its garbage, the code paths it had
      // warmed, the WAL it had queued for the replica) is paid here, not by this variant.
      await runAlone(variants[name]!.query, workers, SETTLE_MS);
      const r = await runAlone(variants[name]!.query, workers, ROUND_MS);
      row[name] = r.opsPerSecond;
      latencies.get(name)!.push(...r.latencies);
    }
    rows.push(row);
    console.log(
      `  row ${String(i + 1).padStart(2)}: ` +
        names.map((n) => `${n} ${row[n]!.toFixed(0)}`).join(", "),
    );
  }
  return { rows, latencies };
}

/** What the variants run alone measured: each one's median throughput and p50, then the ratios. */
function printAlone(names: string[], variants: Variants, { rows, latencies }: Measured): void {
  const p50 = (name: string) => percentileOf(latencies.get(name)!, 50);
  console.log(`each variant alone, median of ${rows.length} rows:`);
  for (const name of names)
    console.log(
      `  ${variants[name]!.label.padEnd(35)} ${percentileOf(
        rows.map((r) => r[name]!),
        50,
      ).toFixed(0)} ops/s, p50 ${p50(name).toFixed(3)} ms`,
    );
  for (const { heading, comparisons } of ALONE_SECTIONS) {
    console.log(heading);
    for (const [name, base, what] of comparisons) {
      const r = pairedRatio(rows, name, base);
      console.log(
        `  ${what.padEnd(44)} ${r.median.toFixed(3)} throughput ` +
          `(rows' quartiles ${r.p25.toFixed(3)}–${r.p75.toFixed(3)}), ` +
          `${(p50(name) - p50(base)).toFixed(3)} ms added at p50`,
      );
    }
  }
}

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
    await raw.query(`CREATE TABLE IF NOT EXISTS ${BENCH_TABLE} (id bigserial PRIMARY KEY, v int)`);
    const variants = benchVariants(raw, db);
    console.log(
      `resilience bench: orders primary through PgBouncer, ${workers} concurrent callers`,
    );
    await measureOwnCost(variants, workers);
    console.log(
      `\nthe outcome check: ${ROWS} rows, each variant ${ROUND_MS} ms a row after ${SETTLE_MS} ms unmeasured`,
    );
    printAlone(ALONE, variants, await measureAlone(ALONE, variants, workers));
    await raw.query(`DROP TABLE ${BENCH_TABLE}`);
    await raw.end();
    await db.close();
  } finally {
    if (startedHere) await stackDown(plan);
  }
}
