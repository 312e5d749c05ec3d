import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { HostPlan, Plan } from "../platform/plan.js";
import { roEntryName } from "../platform/plan.js";
import { pgbouncerTarget, queryOnce } from "../local/connect.js";
import { run } from "../local/exec.js";
import { waitFor } from "../local/daemons.js";
import { localPlan } from "../local/lines.js";
import { processIds, processPid } from "../local/pgbouncer.js";
import { superuserScript } from "../local/postgres-server.js";
import { readSecrets, type LocalSecrets } from "../local/secrets.js";
import { withLocalStack } from "../local/stack.js";
import { primaryNode } from "../local/cluster.js";
import { stateDir } from "../local/state-dir.js";
import { runPgbench, writeCatalogReadScript } from "../loadtest/compare.js";
import { setupScript } from "../loadtest/workloads.js";

/**
 * npm run bench -- pgbouncer-cpu: how many transactions one PgBouncer process serves per second
 * of its own CPU, the number that sizes processes per host (one process uses one core at most).
 * The root's pgbench reads catalog rows (the harness's read, simple protocol, TLS) through one
 * host's catalog_ro_replica1 entry (transaction mode) at a few client counts. The host runs
 * several processes on one port (so_reuseport), and the kernel hands each TCP connection to any
 * of them, so the CPU is that of all the host's processes, summed: tx per CPU-second is then the
 * capacity of one core whichever process served. Dividing by PgBouncer's own CPU time, not by
 * wall time, keeps the ratio valid on a busy machine where pgbench and Postgres share the cores.
 */
const CLIENTS = [20, 100, 400] as const;
const RUN_SECONDS = Number(process.env.BENCH_RUN_SECONDS ?? 15);
const WARMUP_SECONDS = 3;
const SERVICE = "catalog";

interface RunResult {
  clients: number;
  tps: number;
  transactions: number;
  wallSeconds: number;
  /** CPU-seconds of each process of the host over the run, in process order. */
  cpuSeconds: number[];
  /** CPU-seconds the host spent opening and closing this many connections (TLS, SCRAM). */
  connectCpuSeconds: number;
}

const sum = (xs: number[]) => xs.reduce((n, x) => n + x, 0);

/** utime + stime of a process, in clock ticks (fields 14 and 15 of /proc/<pid>/stat). */
async function cpuTicks(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  // The command name may hold spaces and parentheses: count fields from after the last ")".
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]);
}

/** Every process of the host by its pidfile: a process not running would make the sum a lie. */
async function hostPids(host: HostPlan): Promise<number[]> {
  const pids = await Promise.all(processIds(host).map((k) => processPid(host, k)));
  const missing = pids.flatMap((p, i) => (p === undefined ? [i + 1] : []));
  if (missing.length > 0) throw new Error(`${host.name} process ${missing.join(", ")} not running`);
  return pids as number[];
}

/**
 * The catalog tables and rows, as the harness prepares them (as the superuser: the role may be at
 * its connection limit with PgBouncer's server connections), then waits until the replica the
 * entry reads has replayed them: a read before would fail on a missing table.
 */
async function prepare(plan: Plan, secrets: LocalSecrets, host: HostPlan, entry: string) {
  await superuserScript(primaryNode(plan, secrets), setupScript(SERVICE));
  const target = pgbouncerTarget(plan, host, secrets, SERVICE, entry);
  await waitFor(
    `${entry} to see the seeded products`,
    async () =>
      Number((await queryOnce<{ n: string }>(target, "SELECT count(*) AS n FROM products"))[0]?.n) >
      0,
    30_000,
  );
}

/** What every run shares: the plan, the host and entry driven, the pgbench script. */
interface Bench {
  plan: Plan;
  secrets: LocalSecrets;
  host: HostPlan;
  entry: string;
  script: string;
}

/** The CPU-seconds each process of the host spent while `body` ran, and the wall time. */
async function cpuDuring<T>(host: HostPlan, body: () => Promise<T>) {
  const pids = await hostPids(host);
  const before = await Promise.all(pids.map(cpuTicks));
  const t0 = performance.now();
  const result = await body();
  const wallSeconds = (performance.now() - t0) / 1000;
  const after = await Promise.all(pids.map(cpuTicks));
  // A process restarted during the run would have reset its counters: the run would mean nothing.
  if ((await hostPids(host)).some((p, i) => p !== pids[i]))
    throw new Error(`${host.name}: a PgBouncer process restarted during the run`);
  const tick = Number((await run("getconf", ["CLK_TCK"])).stdout.trim());
  return { result, wallSeconds, cpuSeconds: after.map((a, i) => (a - before[i]!) / tick) };
}

/** The root's pgbench through the entry, simple protocol, as the catalog service's role. */
function pgbench(
  b: Bench,
  o: { clients: number } & ({ seconds: number } | { transactions: number }),
) {
  const { host, port, user, database } = pgbouncerTarget(
    b.plan,
    b.host,
    b.secrets,
    SERVICE,
    b.entry,
  );
  const password = b.secrets.accounts[SERVICE]!.password;
  return runPgbench({ host, port, user, database }, password, {
    ...o,
    script: b.script,
    args: ["-M", "simple"],
  });
}

/**
 * A timed run at `clients`, preceded by one where each client connects, runs one transaction and
 * leaves: 400 TLS handshakes and SCRAM exchanges cost PgBouncer as much as several thousand
 * transactions, a share of the timed run that depends on its length, so it is measured apart.
 */
async function measure(b: Bench, clients: number): Promise<RunResult> {
  const connect = await cpuDuring(b.host, () => pgbench(b, { clients, transactions: 1 }));
  const timed = await cpuDuring(b.host, () => pgbench(b, { clients, seconds: RUN_SECONDS }));
  if (!Number.isInteger(timed.result.transactions))
    throw new Error(`pgbench printed no transaction count:\n${timed.result.stdout}`);
  return {
    clients,
    tps: timed.result.tps,
    transactions: timed.result.transactions,
    wallSeconds: timed.wallSeconds,
    cpuSeconds: timed.cpuSeconds,
    connectCpuSeconds: sum(connect.cpuSeconds),
  };
}

const txPerCpuSecond = (r: RunResult) => r.transactions / sum(r.cpuSeconds);
/** The same ratio without the connections' opening and closing, each client's one transaction. */
const steadyTxPerCpuSecond = (r: RunResult) =>
  (r.transactions - r.clients) / (sum(r.cpuSeconds) - r.connectCpuSeconds);

function report(r: RunResult): string {
  const cpu = sum(r.cpuSeconds);
  const split = r.cpuSeconds.map((c, i) => `p${i + 1} ${(c / r.wallSeconds).toFixed(2)}`);
  return (
    `  ${String(r.clients).padStart(4)} clients: ${r.tps.toFixed(0).padStart(6)} tx/s, ` +
    `PgBouncer CPU ${(cpu / r.wallSeconds).toFixed(2)} cores (${split.join(" + ")}), ` +
    `${txPerCpuSecond(r).toFixed(0)} tx per PgBouncer CPU-second ` +
    `(${steadyTxPerCpuSecond(r).toFixed(0)} without connecting; ` +
    `${((r.connectCpuSeconds * 1000) / r.clients).toFixed(2)} CPU-ms per connection)`
  );
}

/** Refuses client counts the host would turn away and an entry that is not transaction mode. */
function checkPlan(plan: Plan, host: HostPlan, entry: string): void {
  const e = plan.entries.find((x) => x.name === entry);
  if (!e || e.poolMode !== "transaction")
    throw new Error(`${entry} is not a transaction-mode entry of the plan`);
  const most = Math.max(...CLIENTS);
  if (most > host.maxClientConn)
    throw new Error(`${most} clients exceed ${host.name}'s max_client_conn ${host.maxClientConn}`);
  console.log(
    `pgbouncer-cpu: ${host.name} (${host.processes} processes, so_reuseport: CPU summed), ` +
      `${entry} (${e.poolMode}, pool_size ${e.poolSize}, max_db_connections ${e.maxDbConnections} ` +
      `per process), pgbench -M simple over TLS, ${RUN_SECONDS}s per run`,
  );
}

export async function benchPgbouncerCpu(): Promise<void> {
  const plan = localPlan();
  const host = plan.hosts[0]!;
  const entry = roEntryName(SERVICE, 0);
  checkPlan(plan, host, entry);
  await withLocalStack(
    plan,
    async () => {
      const secrets = await readSecrets();
      await prepare(plan, secrets, host, entry);
      // The script in the folder the root shares, so the root's pgbench reads it by the same path.
      const dir = await mkdtemp(join(stateDir(), "pgbench-"));
      try {
        const b: Bench = { plan, secrets, host, entry, script: await writeCatalogReadScript(dir) };
        // Fills the pools to their size and warms the caches; not counted.
        await pgbench(b, { clients: Math.max(...CLIENTS), seconds: WARMUP_SECONDS });
        const runs: RunResult[] = [];
        for (const clients of CLIENTS) {
          runs.push(await measure(b, clients));
          console.log(report(runs.at(-1)!));
        }
        // A service's transaction is several statements, and PgBouncer's work is per packet: the
        // same read inside BEGIN … COMMIT, twice, is the figure the plan sizes by (DEFAULTS).
        const read = (await readFile(b.script, "utf8")).split("\n");
        const multi = join(dir, "catalog-transaction.sql");
        await writeFile(multi, [read[0], "BEGIN;", read[1], read[1], "COMMIT;", ""].join("\n"));
        const txn = await measure({ ...b, script: multi }, Math.max(...CLIENTS));
        console.log(`BEGIN, 2 reads, COMMIT:\n${report(txn)}`);
        const lowest = (f: (r: RunResult) => number) =>
          runs.reduce((a, b) => (f(b) < f(a) ? b : a));
        const worst = lowest(txPerCpuSecond);
        const worstSteady = lowest(steadyTxPerCpuSecond);
        console.log(
          `lowest: ${txPerCpuSecond(worst).toFixed(0)} tx per PgBouncer CPU-second ` +
            `(${worst.clients} clients; ${steadyTxPerCpuSecond(worstSteady).toFixed(0)} without ` +
            `connecting, ${worstSteady.clients} clients): one process's capacity on one core`,
        );
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
    (line) => console.log(line),
  );
}
