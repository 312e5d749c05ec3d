import { accessSync, constants, readdirSync } from "node:fs";
import { chmod, mkdir, readFile, rm } from "node:fs/promises";
import path from "node:path";
import { isPortFree, processAlive, waitFor } from "./daemons.js";
import { run, tail } from "./exec.js";
import { nodeDir, type PgNode } from "./postgres-nodes.js";
import { inRootPath } from "./runtime.js";
import { chownToUser } from "./service-files.js";
import { SERVICE_USER } from "./state-dir.js";

/**
 * One Postgres server of the local cluster: the production-line root's binaries, starting and
 * stopping a node, and SQL as the superuser over its unix socket. Postgres refuses to run as
 * root, so every server runs as SERVICE_USER.
 */
const START_TIMEOUT_S = "60";

const PG_ROOT = "/usr/lib/postgresql";
const PG_REQUIRED = ["initdb", "pg_ctl", "postgres", "pg_basebackup", "psql", "pgbench"];

/**
 * The newest PostgreSQL in the production-line root (/usr/lib/postgresql/<major>/bin there), as
 * a path inside the root: initdb, pg_ctl and pg_basebackup must come from one major, so all of
 * them are taken from one folder. Run them with `inRoot`.
 */
export function findPostgresBinDir(): string {
  const base = inRootPath(PG_ROOT);
  let versions: string[] = [];
  try {
    versions = readdirSync(base).filter((v) => /^\d+(\.\d+)?$/.test(v));
  } catch {
    // fall through to the error below
  }
  versions.sort((a, b) => Number(b) - Number(a));
  for (const v of versions) {
    const dir = path.join(PG_ROOT, v, "bin");
    const ok = PG_REQUIRED.every((b) => {
      try {
        accessSync(inRootPath(path.join(dir, b)), constants.X_OK);
        return true;
      } catch {
        return false;
      }
    });
    if (ok) return dir;
  }
  throw new Error(
    `PostgreSQL server binaries not found: looked for ${PG_REQUIRED.join(", ")} in ` +
      `${base}/<version>/bin${versions.length ? ` (found incomplete: ${versions.join(", ")})` : ""}. ` +
      `Build the production-line root with: bash scripts/production-root.sh`,
  );
}

export const pgBin = (tool: string) => path.join(findPostgresBinDir(), tool);

/** Fresh node folder owned by postgres, with a private socket folder. */
export async function makeNodeDir(n: PgNode): Promise<void> {
  await rm(nodeDir(n), { recursive: true, force: true });
  await mkdir(n.socketDir, { recursive: true, mode: 0o700 });
  await chmod(nodeDir(n), 0o755);
  await chownToUser(nodeDir(n), SERVICE_USER);
}

/** The node's postmaster pid while it runs (the harness samples its memory). */
export const nodePid = (node: PgNode) => runningPid(node.dataDir);

/** PID of the live postmaster of dataDir, or undefined; guards against PIDs reused after reboot. */
export async function runningPid(dataDir: string): Promise<number | undefined> {
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
    await run(pgBin("pg_ctl"), args, { asUser: SERVICE_USER, inRoot: true });
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
  await run(pgBin("pg_ctl"), args, { asUser: SERVICE_USER, inRoot: true }).catch(() => {
    try {
      process.kill(pid, "SIGQUIT"); // immediate shutdown
    } catch {
      // already gone
    }
  });
  await waitFor(`${label} (pid ${pid}) to exit`, async () => !(await processAlive(pid)), 30_000);
}
