/**
 * Small process helpers shared by the local stack (Postgres now, PgBouncer later).
 *
 * Why hand-rolled instead of promisified execFile: we need stdin input, a hard timeout that
 * does not wait for pipes a daemonised grandchild might still hold, and error messages that
 * name the command and the tail of its stderr without ever echoing the environment (which is
 * where secrets such as PGPASSWORD travel).
 */
import { execFileSync, spawn } from "node:child_process";
import { accessSync, constants, readdirSync } from "node:fs";
import { chmod, chown, lchown, mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import path from "node:path";
import { chrootArgs, inRootPath } from "./runtime.js";

export interface RunOptions {
  /** Run as this OS user (via runuser) when we are root; ignored otherwise. */
  asUser?: string;
  /** Run inside the production-line root (local/runtime.ts) instead of on this machine. */
  inRoot?: boolean;
  /** Extra variables merged over process.env. Never printed, so secrets belong here. */
  env?: NodeJS.ProcessEnv;
  /** Written to the child's stdin; stdin is /dev/null when absent. */
  input?: string;
  /** Hard limit; the child is SIGKILLed and the promise rejects. Default 120 s. */
  timeoutMs?: number;
  cwd?: string;
}

const DEFAULT_TIMEOUT_MS = 120_000;
const TAIL_LINES = 20;

/** Last `n` lines of a text, so error messages stay readable. */
export function tail(text: string, n = TAIL_LINES): string {
  return text.trimEnd().split("\n").slice(-n).join("\n");
}

/** Quote argv for display only (never executed through a shell). */
function displayCommand(cmd: string, args: string[]): string {
  return [cmd, ...args].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a))).join(" ");
}

/** True when the current process runs as root (POSIX only; Windows is not a target). */
export function isRoot(): boolean {
  return typeof process.getuid === "function" && process.getuid() === 0;
}

/**
 * Wrap a command so it runs as `user` when we are root. Postgres refuses to run as root, and
 * dropping privileges with runuser keeps the environment (PGPASSWORD) without a shell.
 */
export function asUserArgs(
  user: string | undefined,
  cmd: string,
  args: string[],
  inRoot = false,
): [string, string[]] {
  if (inRoot) {
    if (!isRoot())
      throw new Error(`${cmd} runs inside the production-line root: that needs root (chroot)`);
    return chrootArgs(user ? lookupUser(user) : undefined, cmd, args);
  }
  if (user && isRoot()) return ["runuser", ["-u", user, "--", cmd, ...args]];
  return [cmd, args];
}

/**
 * Run a command to completion and collect its output. Rejects with an Error naming the command
 * line, the exit status and the stderr tail. stdio is never inherited, so a daemon started by
 * the command cannot tie up our terminal.
 */
export function run(
  cmd: string,
  args: string[],
  opts: RunOptions = {},
): Promise<{ stdout: string; stderr: string }> {
  const [file, argv] = asUserArgs(opts.asUser, cmd, args, opts.inRoot);
  const shown = displayCommand(file, argv);
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    const child = spawn(file, argv, {
      cwd: opts.cwd,
      env: { ...process.env, ...opts.env },
      stdio: [opts.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    let settled = false;
    const finish = (err: Error | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) reject(err);
      else resolve({ stdout, stderr });
    };
    // Settle on the timer, not on "close": a leaked pipe would otherwise hang us forever.
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      const detail = stderr.trim() ? `\n${tail(stderr)}` : "";
      finish(new Error(`\`${shown}\` timed out after ${timeoutMs}ms${detail}`));
    }, timeoutMs);
    child.stdout?.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr?.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", (e: NodeJS.ErrnoException) => {
      const hint = e.code === "ENOENT" ? ` (${file} not found on PATH)` : "";
      finish(new Error(`\`${shown}\` could not start: ${e.message}${hint}`));
    });
    child.on("close", (code, signal) => {
      if (code === 0) return finish(undefined);
      const status = signal ? `killed by ${signal}` : `exited with code ${code}`;
      const out = tail(stderr.trim() ? stderr : stdout);
      finish(new Error(`\`${shown}\` ${status}${out ? `:\n${out}` : ""}`));
    });
    if (child.stdin) {
      child.stdin.on("error", () => {}); // EPIPE if the child exits early; "close" reports it
      child.stdin.end(opts.input);
    }
  });
}

/**
 * Whether nothing listens on address:port, decided by binding it ourselves. This also catches a
 * server bound to the wildcard address on the same port, which would make Postgres fail later.
 */
export function isPortFree(address: string, port: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", (e: NodeJS.ErrnoException) => {
      if (e.code === "EADDRINUSE" || e.code === "EACCES") resolve(false);
      else reject(new Error(`cannot probe ${address}:${port}: ${e.message}`));
    });
    server.listen({ host: address, port, exclusive: true }, () => {
      server.close(() => resolve(true));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Poll `probe` until it returns true. Probe errors count as "not yet" (servers starting up). */
export async function waitFor(
  what: string,
  probe: () => Promise<boolean>,
  timeoutMs: number,
  intervalMs = 200,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      if (await probe()) return;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() >= deadline) break;
    await sleep(Math.min(intervalMs, Math.max(0, deadline - Date.now())));
  }
  const why = lastError instanceof Error ? ` (last error: ${lastError.message})` : "";
  throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}${why}`);
}

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

/**
 * Whether a process exists and is not a zombie. In containers PID 1 often does not reap
 * orphans, so a stopped postmaster can linger as a zombie that kill(0) still reports.
 */
export async function processAlive(pid: number): Promise<boolean> {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    // Format: "pid (comm) S ..."; comm may contain spaces/parens, so read after the last ")".
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    return true; // no procfs (macOS) or raced with exit: trust kill(0)
  }
}

/** Resolve a user name to uid/gid with `id`, cached; only meaningful when we are root. */
const idCache = new Map<string, { uid: number; gid: number }>();
function lookupUser(user: string): { uid: number; gid: number } {
  let ids = idCache.get(user);
  if (!ids) {
    try {
      const uid = Number(execFileSync("id", ["-u", user], { encoding: "utf8" }).trim());
      const gid = Number(execFileSync("id", ["-g", user], { encoding: "utf8" }).trim());
      ids = { uid, gid };
      idCache.set(user, ids);
    } catch {
      throw new Error(`OS user "${user}" does not exist (the postgresql package creates it)`);
    }
  }
  return ids;
}

/**
 * chown -R path to user (and their primary group) when we are root, so daemons that drop to
 * that user can write their state. A no-op for ordinary users, who already own what they make.
 */
export async function chownToUser(target: string, user: string): Promise<void> {
  if (!isRoot()) return;
  const { uid, gid } = lookupUser(user);
  await chown(target, uid, gid);
  const entries = await readdir(target, { withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    const p = path.join(target, e.name);
    if (e.isDirectory()) await chownToUser(p, user);
    else await lchown(p, uid, gid);
  }
}

/** Write a file only its owner may read (0600) and hand it to `user`: configs that hold secrets. */
export async function writePrivateFile(file: string, content: string, user: string): Promise<void> {
  await writeFile(file, content, { mode: 0o600 });
  await chmod(file, 0o600); // writeFile keeps the mode of an existing file
  await chownToUser(file, user);
}

/**
 * Create `dir` for a daemon running as `user`: missing parents get 0755 whatever the umask, the
 * tree is chowned to `user`, and we check that `user` can really write there, since a parent
 * that is not world-traversable would otherwise surface later as an obscure daemon error.
 */
export async function ensureServiceDir(dir: string, user: string): Promise<void> {
  const first = await mkdir(dir, { recursive: true, mode: 0o755 });
  for (let d = dir; first && d.startsWith(first); d = path.dirname(d)) await chmod(d, 0o755);
  await chownToUser(dir, user);
  await run("test", ["-w", dir, "-a", "-x", dir], { asUser: user }).catch(() => {
    throw new Error(`OS user ${user} cannot write ${dir}; make its parent folders o+x`);
  });
}

/**
 * Starts a long-running server in the background (its own session, output to `logFile`), records
 * its pid in `pidFile`, and returns the pid. The caller waits for it to answer.
 */
export async function startDaemon(
  cmd: string,
  args: string[],
  opts: {
    asUser?: string;
    inRoot?: boolean;
    logFile: string;
    pidFile: string;
    env?: NodeJS.ProcessEnv;
    cwd?: string;
  },
): Promise<number> {
  const { open } = await import("node:fs/promises");
  const log = await open(opts.logFile, "a");
  const [file, argv] = asUserArgs(opts.asUser, cmd, args, opts.inRoot);
  const child = spawn(file, argv, {
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env },
    detached: true,
    stdio: ["ignore", log.fd, log.fd],
  });
  await new Promise<void>((resolve, reject) => {
    child.once("spawn", () => resolve());
    child.once("error", (e) => reject(new Error(`${cmd} could not start: ${e.message}`)));
  });
  child.unref();
  await log.close();
  await writeFile(opts.pidFile, `${child.pid}\n`);
  return child.pid!;
}

/** The pid startDaemon recorded, while that process lives. */
export async function daemonPid(pidFile: string): Promise<number | undefined> {
  const pid = Number((await readFile(pidFile, "utf8").catch(() => "")).trim());
  return Number.isInteger(pid) && pid > 0 && (await processAlive(pid)) ? pid : undefined;
}

/** Stops what startDaemon started: SIGTERM, then SIGKILL after `graceMs`. */
export async function stopDaemon(pidFile: string, graceMs = 5_000): Promise<void> {
  const pid = await daemonPid(pidFile);
  if (pid === undefined) return;
  // runuser stays the parent of the server: signal the whole process group.
  const signal = (s: NodeJS.Signals) => {
    try {
      process.kill(-pid, s);
    } catch {
      try {
        process.kill(pid, s);
      } catch {
        // gone
      }
    }
  };
  signal("SIGTERM");
  try {
    await waitFor(`pid ${pid} to exit`, async () => !(await processAlive(pid)), graceMs);
  } catch {
    signal("SIGKILL");
    await waitFor(`pid ${pid} to die`, async () => !(await processAlive(pid)), graceMs);
  }
}
