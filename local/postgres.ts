/**
 * Local Postgres for the "local stack": one primary and N streaming replicas on loopback
 * addresses (127.0.0.2, 127.0.0.3, ...) sharing one port, run by the production-line root's
 * PostgreSQL (local/runtime.ts: the major production runs). Brings the cluster up and down; the
 * nodes' layout is in postgres-nodes.ts, one server's start, stop and queries in postgres-server.ts.
 */
import { existsSync } from "node:fs";
import { appendFile, readdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { assertScramSafePassword, scramVerifier } from "../pgbouncer/scram.js";
import { waitFor } from "./daemons.js";
import { run } from "./exec.js";
import { hba, nodeConf, quote, sharedConf, synchronousStandbyNames } from "./postgres-conf.js";
import { clusterNodes, readyMarker, type PgClusterOptions, type PgNode } from "./postgres-nodes.js";
import {
  findPostgresBinDir,
  makeNodeDir,
  pgBin,
  runningPid,
  startNode,
  stopDataDir,
  superuserQuery,
  superuserScript,
} from "./postgres-server.js";
import { ensureServiceDir, writePrivateFile } from "./service-files.js";
import { SERVICE_USER } from "./state-dir.js";

const STREAM_TIMEOUT_MS = 60_000;
const FINGERPRINT = "cluster.json";

/** Fail before touching anything, with messages that point at the bad option. */
function validate(opts: PgClusterOptions, nodes: PgNode[]): void {
  const problems: string[] = [];
  if (!path.isAbsolute(opts.stateDir)) problems.push(`stateDir must be absolute: ${opts.stateDir}`);
  if (!Number.isInteger(opts.port) || opts.port < 1 || opts.port > 65535)
    problems.push(`port must be 1..65535: ${opts.port}`);
  const loopback = (a: string) => /^127(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/.test(a);
  for (const n of nodes) {
    if (!loopback(n.address)) problems.push(`${n.name} address must be 127.x.y.z: ${n.address}`);
    const sock = `${n.socketDir}/.s.PGSQL.${n.port}`;
    if (sock.length >= 107)
      problems.push(`unix socket path too long (${sock.length} >= 107): ${sock}`);
  }
  if (new Set(nodes.map((n) => n.address)).size !== nodes.length)
    problems.push(`node addresses must be distinct: ${nodes.map((n) => n.address).join(", ")}`);
  if (opts.superuserReservedConnections >= opts.maxConnections)
    problems.push("superuserReservedConnections must be below maxConnections");
  if (opts.maxWalSenders < opts.replicaAddresses.length + 2)
    problems.push(`maxWalSenders must be >= replicas + 2 (${opts.replicaAddresses.length + 2})`);
  try {
    assertScramSafePassword("replicationPassword", opts.replicationPassword);
  } catch (e) {
    problems.push((e as Error).message);
  }
  for (const k of Object.keys(opts.extraSettings ?? {}))
    if (!/^[a-z_][a-z0-9_.]*$/i.test(k)) problems.push(`invalid setting name: ${k}`);
  if (problems.length)
    throw new Error(`invalid Postgres cluster options:\n- ${problems.join("\n- ")}`);
}

async function initPrimary(opts: PgClusterOptions, p: PgNode): Promise<void> {
  await makeNodeDir(p);
  // pg_hba.conf is replaced below, so initdb's auth defaults don't matter.
  const args = ["-D", p.dataDir, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C"];
  await run(pgBin("initdb"), args, { asUser: SERVICE_USER, inRoot: true }).catch((e: Error) => {
    throw new Error(`initdb of the primary at ${p.dataDir} failed: ${e.message}`);
  });
  await appendFile(path.join(p.dataDir, "postgresql.conf"), sharedConf(opts));
  await writePrivateFile(path.join(p.dataDir, "node.conf"), nodeConf(opts, p), SERVICE_USER);
  await writePrivateFile(path.join(p.dataDir, "pg_hba.conf"), hba(opts), SERVICE_USER);
}

/**
 * Idempotently create the replicator role and one physical slot per replica. The password goes
 * over stdin as a SCRAM verifier, so neither argv, log_statement nor pg_stat_statements can
 * ever show the plaintext.
 */
export async function ensureReplication(opts: PgClusterOptions, p: PgNode, replicas: PgNode[]) {
  const slots = replicas.map((r) => quote(r.name)).join(", ");
  const sql = `SET log_statement = 'none';
SET log_min_error_statement = 'panic';
SET log_min_duration_statement = -1;
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'replicator') THEN
    CREATE ROLE replicator;
  END IF;
END $$;
ALTER ROLE replicator WITH LOGIN REPLICATION PASSWORD ${quote(scramVerifier(opts.replicationPassword))};
SELECT pg_create_physical_replication_slot(s) FROM unnest(ARRAY[${slots}]::text[]) AS s
  WHERE s NOT IN (SELECT slot_name FROM pg_replication_slots);
`;
  await superuserScript(p, sql);
}

/**
 * Clone the primary over TCP as `replicator`; the password travels only via PGPASSWORD. The clone
 * reaches the primary by its name (opts.primaryHost) when the stack gives one, so it follows the
 * primary wherever the name points.
 */
export async function buildReplica(opts: PgClusterOptions, p: PgNode, r: PgNode): Promise<void> {
  await makeNodeDir(r);
  // The replica verifies the primary (its primary_conninfo, written by -R, keeps these).
  const verify = opts.tls
    ? ["-d", `sslmode=verify-full sslrootcert=${opts.tls.caFile} sslcertmode=disable`]
    : [];
  const host = opts.primaryHost ?? p.address;
  const conn = [...verify, "-h", host, "-p", String(p.port), "-U", "replicator", "-w"];
  const args = ["-D", r.dataDir, ...conn, "-R", "-X", "stream", "-S", r.name, "-c", "fast"];
  await run(pgBin("pg_basebackup"), args, {
    asUser: SERVICE_USER,
    inRoot: true,
    env: { PGPASSWORD: opts.replicationPassword },
    timeoutMs: 300_000,
  });
  await writePrivateFile(path.join(r.dataDir, "node.conf"), nodeConf(opts, r), SERVICE_USER);
}

export async function isStreaming(p: PgNode, r: PgNode): Promise<boolean> {
  const sql = `SELECT count(*) FROM pg_replication_slots s JOIN pg_stat_replication w
    ON w.pid = s.active_pid WHERE s.slot_name = ${quote(r.name)} AND w.state = 'streaming'`;
  return (await superuserQuery(p, sql)) === "1";
}

/**
 * Record the settings a cluster is created with, and refuse a later `up` with different ones:
 * most of them are baked into the data directories, so silently reusing them would lie.
 */
async function checkFingerprint(opts: PgClusterOptions, fresh: boolean): Promise<void> {
  const { stateDir, replicationPassword, ...settings } = opts;
  const wanted = Object.fromEntries(Object.entries({ extraSettings: {}, ...settings }).sort());
  const file = path.join(stateDir, FINGERPRINT);
  if (fresh) return writeFile(file, JSON.stringify(wanted, null, 2) + "\n");
  const had = JSON.parse(await readFile(file, "utf8").catch(() => "{}")) as typeof wanted;
  const show = (v: unknown) => JSON.stringify(v);
  const diff = Object.keys(wanted).filter((k) => k in had && show(had[k]) !== show(wanted[k]));
  if (diff.length)
    throw new Error(
      `${stateDir} was created with different settings (` +
        diff.map((k) => `${k}: ${show(had[k])} -> ${show(wanted[k])}`).join(", ") +
        "); take the local stack down to recreate it",
    );
}

/**
 * Bring the cluster up, idempotently: running nodes are left alone, stopped ones are started,
 * missing or half-built ones are (re)created. On failure every node this call started is
 * stopped again (files stay for diagnosis), so a failed `up` never leaves servers running.
 */
export async function clusterUp(opts: PgClusterOptions): Promise<PgNode[]> {
  findPostgresBinDir(); // fail fast with install instructions
  const nodes = clusterNodes(opts);
  validate(opts, nodes);
  const [primary, ...replicas] = nodes as [PgNode, ...PgNode[]];
  const primaryReady = existsSync(readyMarker(primary));
  if (!primaryReady) await ensureServiceDir(opts.stateDir, SERVICE_USER);
  await checkFingerprint(opts, !primaryReady);
  const started: PgNode[] = [];
  try {
    if (!primaryReady) {
      for (const n of nodes) await stopDataDir(n.name, n.dataDir); // stray from a failed up
      await initPrimary(opts, primary);
    }
    if ((await runningPid(primary.dataDir)) === undefined) {
      started.push(primary);
      await startNode(primary);
    }
    const missing: PgNode[] = [];
    for (const r of replicas) if (!primaryReady || !existsSync(readyMarker(r))) missing.push(r);
    if (!primaryReady || missing.length) await ensureReplication(opts, primary, replicas);
    if (!primaryReady) await writeFile(readyMarker(primary), "");
    for (const r of replicas) {
      if (missing.includes(r)) {
        await stopDataDir(r.name, r.dataDir);
        await buildReplica(opts, primary, r);
        await writeFile(readyMarker(r), "");
      }
      if ((await runningPid(r.dataDir)) === undefined) {
        started.push(r);
        await startNode(r);
      }
    }
    for (const r of replicas)
      await waitFor(`${r.name} to stream`, () => isStreaming(primary, r), STREAM_TIMEOUT_MS);
    await makeSynchronous(opts, primary);
    return nodes;
  } catch (e) {
    for (const n of started.reverse()) await stopDataDir(n.name, n.dataDir).catch(() => {});
    throw e;
  }
}

export async function clusterStatus(
  opts: PgClusterOptions,
): Promise<Array<PgNode & { running: boolean; inRecovery?: boolean; pid?: number }>> {
  return Promise.all(
    clusterNodes(opts).map(async (n) => {
      const pid = await runningPid(n.dataDir);
      if (pid === undefined) return { ...n, running: false };
      const rec = await superuserQuery(n, "SELECT pg_is_in_recovery()").catch(() => undefined);
      return { ...n, running: true, pid, inRecovery: rec === undefined ? undefined : rec === "t" };
    }),
  );
}

/**
 * Stop every node found under stateDir (replicas first, so they don't spin reconnecting), wait
 * for the postmasters to exit, then delete stateDir. Refuses to delete a folder that does not
 * look like ours, so a mistyped stateDir cannot wipe something else.
 */
export async function clusterDown(opts: PgClusterOptions): Promise<void> {
  const entries = await readdir(opts.stateDir, { withFileTypes: true }).catch(() => undefined);
  if (!entries) return;
  if (entries.length && !entries.some((e) => e.name === FINGERPRINT))
    throw new Error(
      `refusing to delete ${opts.stateDir}: no ${FINGERPRINT}, not a local Postgres stack`,
    );
  const names = entries.filter((e) => e.isDirectory()).map((e) => e.name);
  names.sort((a, b) => Number(a === "primary") - Number(b === "primary"));
  for (const name of names) await stopDataDir(name, path.join(opts.stateDir, name, "data"));
  await rm(opts.stateDir, { recursive: true, force: true });
}

/**
 * Commits on `primary` wait for one of the other nodes (ANY 1), once one of them streams: set any
 * earlier (initdb, the first roles, a promotion) every commit would wait for a standby that is not
 * there yet. ALTER SYSTEM, so it survives restarts and a clone does not inherit it as active.
 */
export async function makeSynchronous(opts: PgClusterOptions, primary: PgNode): Promise<void> {
  if (!opts.synchronousReplicas || opts.replicaAddresses.length === 0) return;
  await waitFor(
    `a standby streaming from ${primary.name}`,
    async () =>
      Number(
        await superuserQuery(
          primary,
          "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'",
        ),
      ) > 0,
    STREAM_TIMEOUT_MS,
  );
  const names = synchronousStandbyNames(opts, primary.name);
  await superuserQuery(primary, `ALTER SYSTEM SET synchronous_standby_names = ${quote(names)}`);
  await superuserQuery(primary, "SELECT pg_reload_conf()");
}
