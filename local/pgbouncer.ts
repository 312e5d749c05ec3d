import { existsSync } from "node:fs";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { HostPlan, Plan } from "../platform/plan.js";
import { compareVersions, type Version } from "../pgbouncer/capabilities.js";
import { renderHostFiles, userlistEntries, type HostFiles } from "../pgbouncer/render.js";
import { iniRollout } from "../pgbouncer/rollout.js";
import { chownToUser, isPortFree, processAlive, run, waitFor } from "./exec.js";
import { verifierMap, type LocalSecrets } from "./secrets.js";
import {
  hostDir,
  localLayout,
  localReloadCommand,
  localUpstreams,
  SERVICE_USER,
} from "./topology.js";

/**
 * PgBouncer hosts of the local stack: the rendered files, run by Debian's binary as `postgres`.
 * A changed config reaches a running host the way production does it: RELOAD (SIGHUP) when every
 * changed key is reloadable, a restart otherwise.
 */
export type HostAction = "started" | "unchanged" | "reloaded" | "restarted";

export async function pgbouncerPid(host: HostPlan): Promise<number | undefined> {
  const pidFile = localLayout(host).pidFile;
  if (!existsSync(pidFile)) return undefined;
  const pid = Number((await readFile(pidFile, "utf8")).trim());
  return Number.isInteger(pid) && pid > 0 && (await processAlive(pid)) ? pid : undefined;
}

export function renderLocalHost(
  plan: Plan,
  host: HostPlan,
  secrets: LocalSecrets | "redacted",
): HostFiles {
  const layout = localLayout(host);
  return renderHostFiles({
    plan,
    host,
    upstreams: localUpstreams(plan),
    layout,
    users: userlistEntries(plan, secrets === "redacted" ? "redacted" : verifierMap(secrets)),
    reloadCommand: localReloadCommand(layout),
  });
}

/** The PgBouncer version a host was started with (the binary a restart would change). */
const versionFile = (host: HostPlan) => join(hostDir(host), "running-version");

export async function upHost(
  plan: Plan,
  host: HostPlan,
  secrets: LocalSecrets,
): Promise<HostAction> {
  const layout = localLayout(host);
  const dir = hostDir(host);
  const files = renderLocalHost(plan, host, secrets);
  const before = existsSync(layout.iniFile) ? await readFile(layout.iniFile, "utf8") : undefined;
  const userlistBefore = existsSync(layout.authFile)
    ? await readFile(layout.authFile, "utf8")
    : undefined;
  await mkdir(layout.unixSocketDir, { recursive: true });
  for (const [name, text] of Object.entries(files)) {
    await writeFile(join(dir, name), text, { mode: name === "userlist.txt" ? 0o600 : 0o644 });
  }
  await chmod(layout.authFile, 0o600);
  await chownToUser(dir, SERVICE_USER);
  await chownToUser(layout.unixSocketDir, SERVICE_USER);
  for (const name of Object.keys(files)) await chownToUser(join(dir, name), SERVICE_USER);

  const pid = await pgbouncerPid(host);
  if (pid === undefined) {
    await startHost(plan, host);
    return "started";
  }
  const runningVersion = existsSync(versionFile(host))
    ? (await readFile(versionFile(host), "utf8")).trim()
    : undefined;
  if (runningVersion !== plan.pgbouncerVersion.join(".")) {
    // another PgBouncer line: a different binary, so a restart whatever the keys say
    await stopHost(host);
    await startHost(plan, host);
    return "restarted";
  }
  if (before === files["pgbouncer.ini"] && userlistBefore === files["userlist.txt"])
    return "unchanged";
  if (
    before !== undefined &&
    iniRollout(before, files["pgbouncer.ini"]).action === "rolling-restart"
  ) {
    await stopHost(host);
    await startHost(plan, host);
    return "restarted";
  }
  process.kill(pid, "SIGHUP");
  return "reloaded";
}

/** Why a host that is not running could not start: checked before anything starts. */
export async function startProblem(plan: Plan, host: HostPlan): Promise<string | undefined> {
  const layout = localLayout(host);
  const port = plan.config.pgbouncer.port;
  if (!existsSync(layout.binary)) {
    return `PgBouncer is not installed (${layout.binary}): run \`bash scripts/ensure-deps.sh\` or apt-get install pgbouncer`;
  }
  if (!(await isPortFree(layout.listenAddr, port))) {
    return `${layout.listenAddr}:${port} is already in use: stop what listens there or change pgbouncer.port in Pulumi.local.yaml`;
  }
  // An older binary than the render targets refuses the keys it does not know, and stops.
  const installed = await installedVersion(layout.binary);
  if (compareVersions(installed, plan.pgbouncerVersion) < 0) {
    return (
      `${layout.binary} is PgBouncer ${installed.join(".")} but pgbouncer.version in Pulumi.local.yaml ` +
      `is ${plan.config.pgbouncer.version}: set the version it runs, or PGBOUNCER_BIN to a newer build`
    );
  }
  return undefined;
}

/** `pgbouncer -V` → [1, 18, 0]. */
export async function installedVersion(binary: string): Promise<Version> {
  const { stdout } = await run(binary, ["-V"], { timeoutMs: 10_000 });
  const m = /PgBouncer (\d+)\.(\d+)\.(\d+)/.exec(stdout);
  if (!m)
    throw new Error(`${binary} -V did not print a PgBouncer version: ${stdout.split("\n")[0]}`);
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

async function startHost(plan: Plan, host: HostPlan): Promise<void> {
  const layout = localLayout(host);
  const port = plan.config.pgbouncer.port;
  const problem = await startProblem(plan, host);
  if (problem) throw new Error(problem);
  // runuser resets the open-files soft limit to 1024; raise it in the same shell that execs
  // PgBouncer, to the plan's LimitNOFILE (what systemd gives it in production).
  const script = `ulimit -n ${host.openFilesLimit} && exec ${layout.binary} -d -q ${layout.iniFile}`;
  await run("sh", ["-c", script], { asUser: SERVICE_USER, timeoutMs: 15_000 });
  await waitFor(
    `${host.name} to accept connections on ${layout.listenAddr}:${port}`,
    async () => {
      return (
        (await pgbouncerPid(host)) !== undefined && !(await isPortFree(layout.listenAddr, port))
      );
    },
    15_000,
  );
  await writeFile(versionFile(host), plan.pgbouncerVersion.join(".") + "\n");
}

/**
 * SIGTERM is an immediate shutdown before 1.23 and a "wait for clients" one after; a second
 * SIGTERM is immediate there. Either way the host is gone within seconds; SIGKILL is the last word.
 */
export async function stopHost(host: HostPlan): Promise<void> {
  const pid = await pgbouncerPid(host);
  if (pid === undefined) return;
  for (const signal of ["SIGTERM", "SIGTERM", "SIGKILL"] as const) {
    try {
      process.kill(pid, signal);
    } catch {
      return;
    }
    try {
      await waitFor(
        `${host.name} (pid ${pid}) to exit`,
        async () => !(await processAlive(pid)),
        5_000,
      );
      return;
    } catch {
      // escalate
    }
  }
}
