/**
 * Manual end-to-end check of local/postgres.ts (not part of the test suite): brings a primary and
 * two replicas up, proves replication works, proves `up` is idempotent, then tears everything
 * down and proves nothing is left running. Run: npx tsx local/postgres.check.ts
 *
 * Uses its own state dir (.stack/postgres-check) so it never deletes the real local stack, but
 * the same port 55432, so stop the real stack first.
 */
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import path from "node:path";
import { readFile } from "node:fs/promises";
import { findPostgresBinDir, isPortFree, run, waitFor } from "./exec.js";
import {
  clusterDown,
  clusterStatus,
  clusterUp,
  superuserQuery,
  type PgClusterOptions,
} from "./postgres.js";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const opts: PgClusterOptions = {
  stateDir: path.join(repo, ".stack", "postgres-check"),
  port: 55432,
  primaryAddress: "127.0.0.1",
  replicaAddresses: ["127.0.0.2", "127.0.0.3"],
  maxConnections: 200,
  superuserReservedConnections: 3,
  maxWalSenders: 6,
  replicationPassword: randomBytes(18).toString("base64url"),
  extraSettings: { log_connections: "on" },
};

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`CHECK FAILED: ${what}`);
  console.log(`  ok  ${what}`);
}

async function timed<T>(label: string, f: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  const result = await f();
  console.log(`${label}: ${Math.round(performance.now() - t0)} ms`);
  return result;
}

/** pgrep exits 1 when nothing matches; that is the answer we want. */
async function processesUsing(dir: string): Promise<string> {
  return run("pgrep", ["-a", "-f", dir]).then(
    (r) => r.stdout.trim(),
    () => "",
  );
}

async function main(): Promise<void> {
  await clusterDown(opts); // leftovers from an interrupted earlier run
  const nodes = await timed("up (fresh)", () => clusterUp(opts));
  const [primary, ...replicas] = nodes;
  if (!primary) throw new Error("no primary");

  console.table(
    (await clusterStatus(opts)).map(({ name, address, port, running, inRecovery, pid }) => ({
      name,
      address,
      port,
      running,
      inRecovery,
      pid,
    })),
  );

  for (const n of nodes) {
    const out = await superuserQuery(n, "select pg_is_in_recovery(), inet_server_addr()");
    console.log(`  ${n.name}: ${out}`);
    // Over the unix socket inet_server_addr() is NULL, so also ask the settings directly.
    const listen = await superuserQuery(n, "show listen_addresses");
    check(out.startsWith(n.role === "replica" ? "t|" : "f|"), `${n.name} recovery = ${n.role}`);
    check(listen === n.address, `${n.name} listens on ${n.address}`);
    // Over TCP with SCRAM as replicator: proves pg_hba, the password, and the node's own address.
    const psql = path.join(findPostgresBinDir(), "psql");
    const tcp = ["-X", "-A", "-t", "-h", n.address, "-p", String(n.port), "-U", "replicator"];
    const env = { PGPASSWORD: opts.replicationPassword };
    const { stdout } = await run(
      psql,
      [...tcp, "-d", "postgres", "-c", "select inet_server_addr()"],
      {
        env,
      },
    );
    check(stdout.trim() === n.address, `TCP+SCRAM login on ${n.address} (inet_server_addr)`);
  }

  const streaming = await superuserQuery(
    primary,
    "select count(*) from pg_stat_replication where state='streaming'",
  );
  check(streaming === String(replicas.length), `${streaming} replicas streaming`);

  const table = `check_${Date.now()}`;
  await superuserQuery(primary, `create table ${table} (id int); insert into ${table} values (42)`);
  for (const r of replicas) {
    await waitFor(
      `${table} on ${r.name}`,
      async () => (await superuserQuery(r, `select id from ${table}`)) === "42",
      10_000,
      50,
    );
    check(true, `${table} replicated to ${r.name}`);
  }

  for (const n of nodes) {
    const log = await readFile(n.logFile, "utf8");
    check(!log.includes(opts.replicationPassword), `password absent from ${n.name} log`);
  }

  const pids = (await clusterStatus(opts)).map((s) => s.pid);
  await timed("up (already running, no-op)", () => clusterUp(opts));
  const after = (await clusterStatus(opts)).map((s) => s.pid);
  check(JSON.stringify(pids) === JSON.stringify(after), "second up kept the same postmasters");

  await timed("down", () => clusterDown(opts));
  const left = await processesUsing(opts.stateDir);
  check(left === "", `no process mentions ${opts.stateDir}${left ? `:\n${left}` : ""}`);
  for (const a of [opts.primaryAddress, ...opts.replicaAddresses])
    check(await isPortFree(a, opts.port), `${a}:${opts.port} is free`);
  await timed("down again (nothing there)", () => clusterDown(opts));
  console.log("postgres check passed");
}

main().catch(async (e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  await clusterDown(opts).catch((d: unknown) => console.error("cleanup failed:", d));
  process.exitCode = 1;
});
