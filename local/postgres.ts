/**
 * Local Postgres for the "local stack": one primary and N streaming replicas on loopback
 * addresses (127.0.0.2, 127.0.0.3, ...) sharing one port, run by the production-line root's
 * PostgreSQL (local/runtime.ts: the major production runs).
 *
 * Layout under stateDir: cluster.json (settings fingerprint) and one folder per node holding
 * data/, socket/ (its own unix_socket_directories, so equal ports don't clash), postgres.log
 * and a `ready` marker written once the node is fully provisioned. A node folder without the
 * marker is left over from a failed `up` and is rebuilt on the next `up`.
 */
import { existsSync } from "node:fs";
import { appendFile, chmod, mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { assertScramSafePassword, scramVerifier } from "../pgbouncer/scram.js";
import { PRIMARY_NODE, replicaNodeName } from "../platform/nodes.js";
import { hba, nodeConf, quote, sharedConf, synchronousStandbyNames } from "./postgres-conf.js";
import {
  chownToUser,
  ensureServiceDir,
  findPostgresBinDir,
  isPortFree,
  processAlive,
  run,
  tail,
  waitFor,
  writePrivateFile,
} from "./exec.js";

export interface PgClusterOptions {
  stateDir: string;
  port: number;
  primaryAddress: string;
  replicaAddresses: string[];
  /** Same on every node: a hot standby refuses to run with less than its primary. */
  maxConnections: number;
  superuserReservedConnections: number;
  /** At least replicas + 2, leaving room for pg_basebackup's own WAL stream while cloning. */
  maxWalSenders: number;
  /** For the `replicator` role; stored only as a SCRAM verifier and never logged. */
  replicationPassword: string;
  /**
   * TLS for every TCP connection (clients, PgBouncer, replication), plain text refused as RDS's
   * rds.force_ssl does: each node's certificate and key, and the CA replicas verify the primary by.
   */
  tls?: { caFile: string; nodeCert: (node: string) => { cert: string; key: string } };
  /**
   * The name replicas reach the primary by (primary_conninfo), as RDS replicas follow the
   * primary's endpoint: a failover that moves the name is followed without reconfiguring them.
   * @default primaryAddress
   */
  primaryHost?: string;
  /**
   * Commits wait for one replica's flush (`ANY 1 (replica1, …)`), as a Multi-AZ primary waits
   * for its standby: a crashed primary loses no acknowledged commit to the replica promoted.
   * @default false
   */
  synchronousReplicas?: boolean;
  extraSettings?: Record<string, string>;
}

export interface PgNode {
  name: string;
  role: "primary" | "replica";
  address: string;
  port: number;
  dataDir: string;
  socketDir: string;
  logFile: string;
}

/** OS user that owns and runs the servers; Postgres refuses to run as root. */
const PG_USER = "postgres";
const START_TIMEOUT_S = "60";
const STREAM_TIMEOUT_MS = 60_000;
const FINGERPRINT = "cluster.json";

const nodeDir = (n: PgNode) => path.dirname(n.dataDir);
export const readyMarker = (n: PgNode) => path.join(nodeDir(n), "ready");
const pgBin = (tool: string) => path.join(findPostgresBinDir(), tool);

export function clusterNodes(opts: PgClusterOptions): PgNode[] {
  const node = (name: string, role: PgNode["role"], address: string): PgNode => {
    const dir = (f: string) => path.join(opts.stateDir, name, f);
    const { port } = opts;
    return {
      name,
      role,
      address,
      port,
      dataDir: dir("data"),
      socketDir: dir("socket"),
      logFile: dir("postgres.log"),
    };
  };
  return [
    node(PRIMARY_NODE, "primary", opts.primaryAddress),
    ...opts.replicaAddresses.map((a, i) => node(replicaNodeName(i), "replica", a)),
  ];
}

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

/** Fresh node folder owned by postgres, with a private socket folder. */
async function makeNodeDir(n: PgNode): Promise<void> {
  await rm(nodeDir(n), { recursive: true, force: true });
  await mkdir(n.socketDir, { recursive: true, mode: 0o700 });
  await chmod(nodeDir(n), 0o755);
  await chownToUser(nodeDir(n), PG_USER);
}

/** PID of the node's live postmaster, or undefined; guards against PIDs reused after reboot. */
/** The node's postmaster pid while it runs (the harness samples its memory). */
export const nodePid = (node: PgNode) => runningPid(node.dataDir);

async function runningPid(dataDir: string): Promise<number | undefined> {
  const pidFile = await readFile(path.join(dataDir, "postmaster.pid"), "utf8").catch(() => "");
  const pid = Number(pidFile.split("\n")[0]);
  if (!pidFile || !(await processAlive(pid))) return undefined;
  const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => undefined);
  return cmdline === undefined || cmdline.split("\0").includes(dataDir) ? pid : undefined;
}

/** Run SQL as the superuser over the node's unix socket (trusted, no password involved). */
async function psql(n: PgNode, args: string[], input?: string): Promise<string> {
  const conn = ["-h", n.socketDir, "-p", String(n.port), "-U", "postgres", "-d", "postgres"];
  const flags = ["-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1"];
  const env = { PGCONNECT_TIMEOUT: "5" };
  const { stdout } = await run(pgBin("psql"), [...flags, ...conn, ...args], {
    input,
    env,
    inRoot: true,
  });
  return stdout.trim();
}

export function superuserQuery(node: PgNode, sql: string): Promise<string> {
  return psql(node, ["-c", sql]);
}

/**
 * Run a psql script (statements and meta-commands such as \gexec) fed through stdin, so what it
 * carries (password verifiers) never shows in argv. Stops at the first error.
 */
export function superuserScript(node: PgNode, script: string): Promise<string> {
  return psql(node, [], script);
}

export async function startNode(n: PgNode): Promise<void> {
  if (!(await isPortFree(n.address, n.port)))
    throw new Error(
      `${n.address}:${n.port} is already in use — another server is listening; ` +
        `stop it or change database.port in Pulumi.local.yaml`,
    );
  const args = ["start", "-D", n.dataDir, "-l", n.logFile, "-w", "-t", START_TIMEOUT_S, "-s"];
  try {
    await run(pgBin("pg_ctl"), args, { asUser: PG_USER, inRoot: true });
  } catch (e) {
    const log = tail(await readFile(n.logFile, "utf8").catch(() => "(no log)"));
    throw new Error(
      `${n.name} failed to start: ${(e as Error).message}\n--- ${n.logFile} ---\n${log}`,
    );
  }
}

/** pg_ctl stop -m fast; falls back to signals, then waits until the postmaster is really gone. */
export async function stopDataDir(label: string, dataDir: string): Promise<void> {
  const pid = await runningPid(dataDir);
  if (pid === undefined) return;
  const args = ["stop", "-D", dataDir, "-m", "fast", "-w", "-t", "60", "-s"];
  await run(pgBin("pg_ctl"), args, { asUser: PG_USER, inRoot: true }).catch(() => {
    try {
      process.kill(pid, "SIGQUIT"); // immediate shutdown
    } catch {
      // already gone
    }
  });
  await waitFor(`${label} (pid ${pid}) to exit`, async () => !(await processAlive(pid)), 30_000);
}

async function initPrimary(opts: PgClusterOptions, p: PgNode): Promise<void> {
  await makeNodeDir(p);
  // pg_hba.conf is replaced below, so initdb's auth defaults don't matter.
  const args = ["-D", p.dataDir, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C"];
  await run(pgBin("initdb"), args, { asUser: PG_USER, inRoot: true }).catch((e: Error) => {
    throw new Error(`initdb of the primary at ${p.dataDir} failed: ${e.message}`);
  });
  await appendFile(path.join(p.dataDir, "postgresql.conf"), sharedConf(opts));
  await writePrivateFile(path.join(p.dataDir, "node.conf"), nodeConf(opts, p), PG_USER);
  await writePrivateFile(path.join(p.dataDir, "pg_hba.conf"), hba(opts), PG_USER);
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
    asUser: PG_USER,
    inRoot: true,
    env: { PGPASSWORD: opts.replicationPassword },
    timeoutMs: 300_000,
  });
  await writePrivateFile(path.join(r.dataDir, "node.conf"), nodeConf(opts, r), PG_USER);
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
  if (!primaryReady) await ensureServiceDir(opts.stateDir, PG_USER);
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
