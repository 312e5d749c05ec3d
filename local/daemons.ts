import { spawn } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { asUserArgs } from "./exec.js";

/**
 * The local stack's servers as processes: whether one lives, starting one in the background,
 * stopping it, and waiting for its port or its answer.
 */
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
