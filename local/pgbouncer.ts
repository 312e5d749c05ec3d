import { existsSync } from "node:fs";
import { chmod, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { HostPlan, Plan } from "../platform/plan.js";
import { compareVersions, type Version } from "../platform/capabilities.js";
import type { PeerAddress } from "../pgbouncer/ini.js";
import { processNumbers } from "../pgbouncer/layout.js";
import {
  fleetPeers,
  renderHostFiles,
  userlistEntries,
  type HostFiles,
} from "../pgbouncer/render.js";
import { iniRollout } from "../pgbouncer/rollout.js";
import { run, tail } from "./exec.js";
import { chownToUser } from "./service-files.js";
import { isPortFree, processAlive, waitFor } from "./daemons.js";
import { selectedPgbouncer } from "./lines.js";
import { startPgbouncerExporter, stopPgbouncerExporter } from "./pgbouncer-exporter.js";
import { verifierMap, type LocalSecrets } from "./secrets.js";
import {
  hostDir,
  localLayout,
  localReloadCommand,
  localUpstreams,
  pgbouncerAddress,
} from "./topology.js";
import { SERVICE_USER } from "./state-dir.js";

/**
 * PgBouncer hosts of the local stack: the rendered files, run by the selected line's binary as
 * `postgres`, one or more processes per host (so_reuseport + [peers]). A changed config reaches a
 * running host the way production does it: RELOAD (SIGHUP) when every changed key is reloadable,
 * a restart otherwise.
 */
export type HostAction = "started" | "unchanged" | "reloaded" | "restarted";

/** A host's PgBouncer processes, numbered from 1. */
export const processIds = processNumbers;

export async function processPid(host: HostPlan, process: number): Promise<number | undefined> {
  const pidFile = localLayout(host, undefined, process).pidFile;
  if (!existsSync(pidFile)) return undefined;
  const pid = Number((await readFile(pidFile, "utf8")).trim());
  return Number.isInteger(pid) && pid > 0 && (await processAlive(pid)) ? pid : undefined;
}

/** The first process's pid: the host's, when it runs one process. */
export function pgbouncerPid(host: HostPlan): Promise<number | undefined> {
  return processPid(host, 1);
}

async function runningPids(host: HostPlan): Promise<number[]> {
  const pids = await Promise.all(processIds(host).map((k) => processPid(host, k)));
  return pids.filter((p): p is number => p !== undefined);
}

/**
 * Every file of a host by name: one ini and unit per process, the shared userlist and logrotate.
 * The verifiers come from the stack's secrets (or a map of them), or are redacted for a review;
 * `stateDir` moves every path (a golden file renders under a fixed one).
 */
export function renderLocalHost(
  plan: Plan,
  host: HostPlan,
  secrets: LocalSecrets | ReadonlyMap<string, string> | "redacted",
  stateDir?: string,
): HostFiles {
  const layouts = processIds(host).map((k) => localLayout(host, stateDir, k));
  const peers = localPeers(plan, host, stateDir);
  const verifiers =
    secrets === "redacted" || secrets instanceof Map
      ? secrets
      : verifierMap(secrets as LocalSecrets);
  return renderHostFiles({
    plan,
    host,
    upstreams: localUpstreams(plan),
    layout: layouts[0]!,
    processLayout: (k) => layouts[k - 1]!,
    peers: () => peers,
    users: userlistEntries(plan, verifiers),
    reloadCommand: localReloadCommand(...layouts),
  });
}

/**
 * The local stack's [peers], as the cloud fleet's (fleetPeers): another host's processes at its
 * loopback address, where so_reuseport picks one of them and that one passes the cancel on by
 * socket; the processes of `self`'s own host by their sockets.
 */
export function localPeers(plan: Plan, self?: HostPlan, stateDir?: string): PeerAddress[] {
  return fleetPeers(
    plan,
    {
      host: (h) => pgbouncerAddress(h.index),
      socket: (h, k) => localLayout(h, stateDir, k).unixSocketDir,
    },
    self,
  );
}

/** The PgBouncer version a host was started with (the binary a restart would change). */
const versionFile = (host: HostPlan) => join(hostDir(host), "running-version");

export async function upHost(
  plan: Plan,
  host: HostPlan,
  secrets: LocalSecrets,
): Promise<HostAction> {
  const dir = hostDir(host);
  const files = renderLocalHost(plan, host, secrets);
  const before: Record<string, string | undefined> = {};
  for (const name of Object.keys(files)) {
    before[name] = existsSync(join(dir, name))
      ? await readFile(join(dir, name), "utf8")
      : undefined;
  }
  await mkdir(dir, { recursive: true });
  for (const k of processIds(host))
    await mkdir(localLayout(host, undefined, k).unixSocketDir, { recursive: true });
  for (const [name, text] of Object.entries(files)) {
    await writeFile(join(dir, name), text, { mode: name === "userlist.txt" ? 0o600 : 0o644 });
  }
  await chmod(join(dir, "userlist.txt"), 0o600);
  await chownToUser(dir, SERVICE_USER);
  for (const k of processIds(host))
    await chownToUser(localLayout(host, undefined, k).unixSocketDir, SERVICE_USER);
  for (const name of Object.keys(files)) await chownToUser(join(dir, name), SERVICE_USER);

  const pids = await runningPids(host);
  if (pids.length === 0) {
    await startHost(plan, host);
    return "started";
  }
  const runningVersion = existsSync(versionFile(host))
    ? (await readFile(versionFile(host), "utf8")).trim()
    : undefined;
  const inis = Object.keys(files).filter((n) => n.endsWith(".ini"));
  const changed = Object.keys(files).filter((n) => before[n] !== files[n]);
  if (
    runningVersion !== plan.pgbouncerVersion.join(".") || // another line: another binary
    pids.length !== host.processes ||
    inis.some(
      (n) =>
        before[n] === undefined || iniRollout(before[n]!, files[n]!).action === "rolling-restart",
    )
  ) {
    await stopHost(host);
    await startHost(plan, host);
    return "restarted";
  }
  if (changed.length === 0) return "unchanged";
  for (const pid of pids) process.kill(pid, "SIGHUP");
  return "reloaded";
}

/** Why a host that is not running could not start: checked before anything starts. */
export async function startProblem(plan: Plan, host: HostPlan): Promise<string | undefined> {
  const layout = localLayout(host);
  const port = plan.config.pgbouncer.port;
  const pgbouncer = selectedPgbouncer();
  if (!existsSync(pgbouncer.hostPath)) {
    return `PgBouncer is not installed (${pgbouncer.hostPath}): run \`bash scripts/ensure-deps.sh\``;
  }
  // The host's own processes share the port (so_reuseport); anyone else holding it is a conflict.
  if ((await runningPids(host)).length === 0 && !(await isPortFree(layout.listenAddr, port))) {
    return `${layout.listenAddr}:${port} is already in use: stop what listens there or change pgbouncer.port in Pulumi.local.yaml`;
  }
  // An older binary than the render targets refuses the keys it does not know, and stops.
  const installed = await installedVersion(pgbouncer);
  if (compareVersions(installed, plan.pgbouncerVersion) < 0) {
    return (
      `${layout.binary} is PgBouncer ${installed.join(".")} but pgbouncer.version in Pulumi.local.yaml ` +
      `is ${plan.config.pgbouncer.version}: set the version it runs, or PGBOUNCER_BIN to a newer build`
    );
  }
  return undefined;
}

/** `pgbouncer -V` → [1, 18, 0]. */
export async function installedVersion(
  { binary, inRoot }: { binary: string; inRoot: boolean } = selectedPgbouncer(),
): Promise<Version> {
  const { stdout } = await run(binary, ["-V"], { timeoutMs: 10_000, inRoot });
  const m = /PgBouncer (\d+)\.(\d+)\.(\d+)/.exec(stdout);
  if (!m)
    throw new Error(`${binary} -V did not print a PgBouncer version: ${stdout.split("\n")[0]}`);
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

async function startHost(plan: Plan, host: HostPlan): Promise<void> {
  const problem = await startProblem(plan, host);
  if (problem) throw new Error(problem);
  for (const k of processIds(host)) {
    if ((await processPid(host, k)) === undefined) await startProcess(plan, host, k);
  }
  await writeFile(versionFile(host), plan.pgbouncerVersion.join(".") + "\n");
}

/** Starts process `k` of a host and waits until it runs and the host's port answers. */
export async function startProcess(plan: Plan, host: HostPlan, k: number): Promise<void> {
  const layout = localLayout(host, undefined, k);
  const port = plan.config.pgbouncer.port;
  // runuser resets the open-files soft limit to 1024; raise it in the same shell that execs
  // PgBouncer, to the plan's LimitNOFILE (what systemd gives it in production).
  const script = `ulimit -n ${host.openFilesLimit} && exec ${layout.binary} -d -q ${layout.iniFile}`;
  // A killed process leaves its pidfile, and its zombie (nothing reaps it here) still answers
  // kill(pid, 0): PgBouncer would take it for a running instance and refuse to start.
  if ((await processPid(host, k)) === undefined) await rm(layout.pidFile, { force: true });
  const { inRoot } = selectedPgbouncer();
  await run("sh", ["-c", script], { asUser: SERVICE_USER, timeoutMs: 15_000, inRoot }).catch(
    async (e: Error) => {
      const log = await readFile(layout.logFile, "utf8").catch(() => "(no log)");
      throw new Error(`${host.name} process ${k} did not start: ${e.message}\n${tail(log, 5)}`);
    },
  );
  await waitFor(
    `${host.name} process ${k} to accept connections on ${layout.listenAddr}:${port}`,
    async () =>
      (await processPid(host, k)) !== undefined && !(await isPortFree(layout.listenAddr, port)),
    15_000,
  );
  await startPgbouncerExporter(plan, host, k);
}

/**
 * Stops process `k`: `signals` in turn, each given `graceMs` to work. SIGTERM is an immediate
 * shutdown before 1.23 and a "wait for clients" one after (a second SIGTERM is immediate there);
 * SIGINT waits for transactions to finish; SIGKILL is the last word.
 */
export async function stopProcess(
  host: HostPlan,
  k: number,
  signals: readonly NodeJS.Signals[] = ["SIGTERM", "SIGTERM", "SIGKILL"],
  graceMs = 5_000,
): Promise<void> {
  const pid = await processPid(host, k);
  if (pid === undefined) return;
  // A stop takes its exporter first (it holds a connection SIGTERM would wait for), as PartOf=
  // does it; a kill is a crash, which leaves the exporter running to report it.
  if (signals[0] !== "SIGKILL") await stopPgbouncerExporter(host, k);
  for (const signal of signals) {
    try {
      process.kill(pid, signal);
    } catch {
      return;
    }
    try {
      await waitFor(
        `${host.name} process ${k} (pid ${pid}) to exit`,
        async () => !(await processAlive(pid)),
        graceMs,
      );
      return;
    } catch {
      // escalate
    }
  }
}

export async function stopHost(host: HostPlan): Promise<void> {
  await Promise.all(processIds(host).map((k) => stopProcess(host, k)));
}
