import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ADMIN_USER } from "../pgbouncer/layout.js";
import { connect, processTarget } from "../local/connect.js";
import { run } from "../local/exec.js";
import { findPostgresBinDir } from "../local/postgres-server.js";
import { libpqConninfo } from "../local/tls.js";
import { pgbouncerAddress } from "../local/topology.js";
import { stateDir } from "../local/state-dir.js";
import { roEntryName } from "../platform/plan.js";
import { fleet, readers } from "./fleet.js";
import { runHarness, type HarnessOptions } from "./harness.js";
import type { Comparison, RunRecord } from "./report/types.js";
import { round } from "./stats.js";
import { CATALOG_READ } from "./workloads.js";

/**
 * The ratios a load test reports, measured in the same run as the pooled load they compare with:
 * pooled vs direct at the same client count, pooled vs direct at its best concurrency, and the
 * Node harness vs pgbench reading the same rows through the same PgBouncer entry.
 */
const SHORT_MS = 10_000;
const DIRECT_SWEEP = [16, 32, 64, 128, 256] as const;
const HARNESS_GOAL = 0.8;
const CAPACITY_CLIENTS = 64;

const totalTps = (r: RunRecord) => r.services.reduce((n, s) => n + s.tps, 0);
const errors = (r: RunRecord) => r.services.reduce((n, s) => n + s.errors, 0);

function ratio(
  name: string,
  /** Labels say what was measured and in which unit; the ratio's own unit is "×". */
  numerator: Comparison["numerator"],
  denominator: Comparison["denominator"],
  unit: string,
  goal?: number,
): Comparison {
  return {
    name,
    numerator,
    denominator,
    ratio: denominator.value > 0 ? round(numerator.value / denominator.value) : 0,
    unit,
    ...(goal === undefined ? {} : { goal }),
  };
}

export async function comparisons(o: HarnessOptions, pooled: RunRecord): Promise<Comparison[]> {
  const say = o.progress ?? (() => {});
  const out: Comparison[] = [];
  await onEveryProcess(o, "PAUSE");
  try {
    out.push(...(await directComparisons(o, pooled)));
  } finally {
    await onEveryProcess(o, "RESUME");
  }
  say("\ncompare 3/3: harness vs pgbench, catalog reads through one PgBouncer host");
  out.push(await harnessVsPgbench(o));
  return out;
}

async function directComparisons(o: HarnessOptions, pooled: RunRecord): Promise<Comparison[]> {
  const say = o.progress ?? (() => {});
  const out: Comparison[] = [];
  const pooledTps = round(totalTps(pooled), 0);
  say(`\ncompare 1/3: the same ${o.clients} clients straight to Postgres (PgBouncer paused)`);
  const direct = await runHarness({ ...o, direct: true, durationMs: SHORT_MS, hooks: [] });
  out.push(
    ratio(
      "pooled vs direct, same clients (throughput)",
      { label: `pooled tx/s (${errors(pooled)} errors)`, value: pooledTps },
      {
        label: `direct tx/s (${errors(direct.record)} errors)`,
        value: round(totalTps(direct.record), 0),
      },
      "×",
    ),
  );

  say(`\ncompare 2/3: direct at its best concurrency (${DIRECT_SWEEP.join(", ")} clients)`);
  let best = { clients: 0, tps: 0 };
  for (const clients of DIRECT_SWEEP) {
    // The same offered load as the pooled run, from fewer clients: each asks for more.
    const rate = Math.min(10, (o.rate * o.clients) / clients);
    const r = await runHarness({
      ...o,
      direct: true,
      clients,
      rate,
      durationMs: SHORT_MS,
      hooks: [],
    });
    const tps = round(totalTps(r.record), 0);
    say(`  direct ${clients} clients: ${tps} tx/s, ${errors(r.record)} errors`);
    if (tps > best.tps && errors(r.record) === 0) best = { clients, tps };
  }
  out.push(
    ratio(
      "pooled vs direct at its best concurrency (throughput)",
      { label: `pooled tx/s, ${o.clients} clients`, value: pooledTps },
      { label: `direct tx/s, ${best.clients} clients`, value: best.tps },
      "×",
    ),
  );
  return out;
}

/**
 * PgBouncer keeps server connections open (min_pool_size, server_idle_timeout), and they count
 * against the roles' connection limits: direct runs would find the limits taken by the pooler.
 * PAUSE on every process closes them all while the direct runs go; RESUME brings the pooler back.
 */
async function onEveryProcess(o: HarnessOptions, command: "PAUSE" | "RESUME"): Promise<void> {
  for (const host of o.plan.hosts) {
    for (let k = 1; k <= host.processes; k++) {
      const c = await connect(processTarget(o.plan, host, k, o.secrets, ADMIN_USER, "pgbouncer"));
      await c.query(command).finally(() => c.end().catch(() => {}));
    }
  }
}

export async function harnessVsPgbench(o: HarnessOptions): Promise<Comparison> {
  const host = o.plan.hosts[0]!;
  const endpoints = { pgbouncerHosts: [pgbouncerAddress(host.index)] };
  const base = { ...o, services: ["catalog"], endpoints, durationMs: SHORT_MS, hooks: [] };
  const options = { ...base, clients: CAPACITY_CLIENTS, saturate: true, direct: false };
  const harness = await runHarness(options);
  // pgbench gets one connection per connection the harness reads through.
  const connections = fleet(o.plan, options, endpoints).reduce((n, s) => n + readers(s), 0);
  const harnessTps = round(totalTps(harness.record), 0);

  // The root's pgbench (the production line's libpq); its script in the folder the root shares.
  const dir = await mkdtemp(join(stateDir(), "pgbench-"));
  try {
    const script = await writeCatalogReadScript(dir);
    const target = {
      host: pgbouncerAddress(host.index),
      port: o.plan.config.pgbouncer.port,
      user: "catalog",
      // One replica's entry: each is sized for all of catalog's reads, as the harness's pools are.
      database: roEntryName("catalog", 0),
    };
    const { tps } = await runPgbench(target, o.secrets.accounts.catalog!.password, {
      clients: connections,
      seconds: SHORT_MS / 1000,
      script,
    });
    return ratio(
      "harness vs pgbench, same target and clients (throughput)",
      { label: `harness tx/s, ${connections} clients`, value: harnessTps },
      { label: `pgbench tx/s, ${connections} clients`, value: round(tps, 0) },
      "×",
      HARNESS_GOAL,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The harness's catalog read as a pgbench script in `dir` (a folder the root shares). */
export async function writeCatalogReadScript(dir: string): Promise<string> {
  const script = join(dir, "catalog-read.sql");
  await writeFile(
    script,
    `\\set category random(0, ${CATALOG_READ.categories - 1})\n` +
      CATALOG_READ.sql.replace("$1", ":category") +
      ";\n",
  );
  return script;
}

/**
 * The root's pgbench (the production line's libpq) against `target` with TLS verified, the
 * password in the environment (never on the command line). `args` go before the conninfo.
 */
export async function runPgbench(
  target: { host: string; port: number; user: string; database: string },
  password: string,
  /** `seconds` runs for that long (-T); `transactions` runs that many per client (-t). */
  o: { clients: number; script: string; args?: string[] } & (
    { seconds: number; transactions?: never } | { transactions: number; seconds?: never }
  ),
): Promise<{ tps: number; transactions: number; stdout: string }> {
  const length =
    o.seconds === undefined ? ["-t", String(o.transactions)] : ["-T", String(o.seconds)];
  const out = await run(
    join(findPostgresBinDir(), "pgbench"),
    [
      "-n",
      ...["-c", String(o.clients), "-j", "2", ...length, "-f", o.script],
      ...(o.args ?? []),
      libpqConninfo(target),
    ],
    { env: { PGPASSWORD: password }, timeoutMs: (o.seconds ?? 30) * 1000 + 30_000, inRoot: true },
  );
  const tps = Number(/tps = ([\d.]+)/.exec(out.stdout)?.[1]);
  const transactions = Number(/actually processed: (\d+)/.exec(out.stdout)?.[1]);
  if (!Number.isFinite(tps)) throw new Error(`pgbench printed no tps:\n${out.stdout}`);
  return { tps, transactions, stdout: out.stdout };
}
