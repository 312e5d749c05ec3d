import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import type { Plan } from "../platform/plan.js";
import { adminQuery, type PoolRow } from "./connect.js";
import { DEFAULT_LINE, LOCAL_LINES, lineFile, selectedLine, selectedPgbouncer } from "./lines.js";
import { rootPackages, shareWithRoot, unshareFromRoot } from "./runtime.js";
import { isPortFree } from "./daemons.js";
import {
  installedVersion,
  pgbouncerPid,
  processIds,
  startProblem,
  stopHost,
  upHost,
  type HostAction,
} from "./pgbouncer.js";
import { clusterDown, clusterStatus, clusterUp } from "./postgres.js";
import { superuserQuery, superuserScript } from "./postgres-server.js";
import { clusterNodes } from "./postgres-nodes.js";
import { clusterOptions } from "./cluster.js";
import { monitoringSql, serviceRolesSql } from "./roles.js";
import { loadOrCreateSecrets, readSecrets, secretsFile } from "./secrets.js";
import { haproxyDown, haproxyRunning, haproxyUp } from "./haproxy.js";
import { caFile, ensureLocalTls } from "./tls.js";
import { removeNodeNames, writeNodeNames } from "./node-names.js";
import { localLayout } from "./topology.js";
import { stateDir } from "./state-dir.js";
import {
  exportersRunning,
  monitoringDown,
  monitoringRunning,
  monitoringUp,
  prometheusUrl,
} from "./monitoring.js";

/**
 * The local stack from the plan: Postgres primary + streaming replicas, the service roles, and the
 * PgBouncer hosts running the rendered files. `up` is idempotent (a second run changes nothing, a
 * changed config is reloaded), `down` leaves no process, port or file behind.
 */
export async function stackUp(plan: Plan, log: (line: string) => void = () => {}): Promise<void> {
  // Refuse before starting anything: a taken port or a missing binary leaves nothing half-done.
  const problems: string[] = [];
  for (const host of plan.hosts) {
    if ((await pgbouncerPid(host)) !== undefined) continue;
    const problem = await startProblem(plan, host);
    if (problem) problems.push(`${host.name}: ${problem}`);
  }
  if (problems.length > 0) throw new Error(problems.join("\n"));
  await shareWithRoot(stateDir());
  const secrets = await loadOrCreateSecrets(plan);
  await writeFile(lineFile(), plan.pgbouncerVersion.slice(0, 2).join(".") + "\n");
  const options = clusterOptions(plan, secrets.replicationPassword);
  try {
    await ensureLocalTls(plan, clusterNodes(options));
    await writeNodeNames(clusterNodes(options));
    const nodes = await clusterUp(options);
    log(`postgres: ${nodes.map((n) => `${n.name} ${n.address}:${n.port}`).join(", ")}`);
    const primary = nodes.find((n) => n.role === "primary")!;
    await superuserScript(primary, serviceRolesSql(plan, secrets));
    await superuserScript(primary, monitoringSql(secrets));
    log(`roles and databases: ${plan.services.map((s) => s.name).join(", ")}`);
    for (const host of plan.hosts) {
      const action: HostAction = await upHost(plan, host, secrets);
      log(`${host.name} ${localLayout(host).listenAddr}:${plan.config.pgbouncer.port}: ${action}`);
    }
    await haproxyUp(plan);
    log(
      `haproxy ${plan.config.pgbouncer.endpoint}:${plan.config.pgbouncer.port}: the endpoint, in front of every host`,
    );
    await monitoringUp(plan, secrets);
    log(
      `prometheus: ${prometheusUrl()} (alerts, exporters for every Postgres node and PgBouncer process)`,
    );
  } catch (e) {
    // Nothing half-done: a failed `up` leaves no server running.
    await stackDown(plan).catch(() => {});
    throw e;
  }
}

export async function stackDown(plan: Plan): Promise<void> {
  await haproxyDown();
  await monitoringDown(plan);
  for (const host of plan.hosts) await stopHost(host);
  const secrets = existsSync(secretsFile()) ? await readSecrets() : undefined;
  await clusterDown(clusterOptions(plan, secrets?.replicationPassword ?? ""));
  await unshareFromRoot(stateDir());
  await removeNodeNames();
  const taken = [];
  for (const host of plan.hosts) {
    const { listenAddr } = localLayout(host);
    if (!(await isPortFree(listenAddr, plan.config.pgbouncer.port)))
      taken.push(`${listenAddr}:${plan.config.pgbouncer.port}`);
  }
  if (taken.length > 0) throw new Error(`down finished but ${taken.join(", ")} still in use`);
}

export interface HostStatus {
  host: string;
  address: string;
  pid?: number;
  pools: PoolRow[];
}

export async function stackStatus(plan: Plan) {
  const secrets = existsSync(secretsFile()) ? await readSecrets() : undefined;
  const nodes = await clusterStatus(clusterOptions(plan, secrets?.replicationPassword ?? ""));
  const hosts: HostStatus[] = [];
  for (const host of plan.hosts) {
    const pid = await pgbouncerPid(host);
    // Every process's own pools (its unix socket): the host's are their union.
    const pools: PoolRow[] = [];
    if (pid !== undefined && secrets) {
      for (const k of processIds(host))
        pools.push(...(await adminQuery<PoolRow>(plan, host, secrets, "SHOW POOLS", k)));
    }
    hosts.push({ host: host.name, address: localLayout(host).listenAddr, pid, pools });
  }
  const primary = nodes.find((n) => n.role === "primary" && n.running);
  const pgbouncer = selectedPgbouncer();
  const line = selectedLine() ?? DEFAULT_LINE;
  const root = rootPackages();
  return {
    nodes,
    hosts,
    /** What actually runs here, and from where; it may differ from the cloud's pins. */
    versions: {
      postgres: primary ? await superuserQuery(primary, "SHOW server_version") : undefined,
      pgbouncer: existsSync(pgbouncer.hostPath)
        ? `${(await installedVersion(pgbouncer)).join(".")} (${
            process.env.PGBOUNCER_BIN ? pgbouncer.binary : LOCAL_LINES[line].from
          })`
        : undefined,
      root: `${root.root} (${root.built})`,
      packages: root.packages,
    },
    /** The load balancer's address, while HAProxy runs. */
    balancer: (await haproxyRunning())
      ? `${plan.config.pgbouncer.endpoint}:${plan.config.pgbouncer.port}`
      : undefined,
    /** Where the local Prometheus answers, while it runs. */
    prometheus: (await monitoringRunning()) ? prometheusUrl() : undefined,
    exporters: await exportersRunning(plan),
    /** TLS on both hops, as the plan renders it, and the CA the clients verify PgBouncer with. */
    tls: { ...plan.config.pgbouncer.tls, caFile: existsSync(caFile()) ? caFile() : undefined },
    up:
      nodes.every((n) => n.running) &&
      hosts.every((h) => h.pid !== undefined) &&
      (await haproxyRunning()),
  };
}

/**
 * Runs `body` on the local stack: the running one if it is up (left up afterwards), else one
 * brought up for the occasion and taken down after, whatever happens.
 */
export async function withLocalStack<T>(
  plan: Plan,
  body: () => Promise<T>,
  log: (line: string) => void = () => {},
): Promise<T> {
  if ((await stackStatus(plan)).up) return body();
  log("local stack is not up: bringing it up for this run");
  try {
    await stackUp(plan, (l) => log(`  ${l}`));
    return await body();
  } finally {
    await stackDown(plan);
    log("local stack taken down again");
  }
}
