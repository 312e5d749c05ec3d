/**
 * Running a command for the local stack, as another OS user or inside the production-line root.
 *
 * Why hand-rolled instead of promisified execFile: we need stdin input, a hard timeout that
 * does not wait for pipes a daemonised grandchild might still hold, and error messages that
 * name the command and the tail of its stderr without ever echoing the environment (which is
 * where secrets such as PGPASSWORD travel).
 */
import { execFileSync, spawn } from "node:child_process";
import { chrootArgs } from "./runtime.js";

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

/** Resolve a user name to uid/gid with `id`, cached; only meaningful when we are root. */
const idCache = new Map<string, { uid: number; gid: number }>();
export function lookupUser(user: string): { uid: number; gid: number } {
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
