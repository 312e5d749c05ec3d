import { existsSync } from "node:fs";
import { join } from "node:path";
import type { HostPlan, Plan } from "../platform/plan.js";
import { pgbouncerExporterPort } from "../platform/exporters.js";
import { STATS_USER } from "../pgbouncer/layout.js";
import { writePrivateFile } from "./service-files.js";
import { daemonPid, startDaemon, stopDaemon } from "./daemons.js";
import type { LocalSecrets } from "./secrets.js";
import { localLayout, pgbouncerAddress } from "./topology.js";
import { SERVICE_USER, stateDir } from "./state-dir.js";

/**
 * prometheus-community's pgbouncer_exporter (Debian sid's package, in the production-line root),
 * one per PgBouncer process as production runs one per host process: it logs in as the stats-only
 * user over the process's own unix socket (so_reuseport would hand a TCP login to any process).
 * The connection string travels in the environment and the password in a 0600 passfile, as the
 * production unit does it (monitoring/exporter-units.ts); neither shows on a command line.
 *
 * It holds its connection, and PgBouncer 1.23+ on SIGTERM waits for every client: like the
 * production unit's PartOf=pgbouncer.service, the exporter of a process stops before the process
 * does and starts again after it (local/pgbouncer.ts).
 */
export const monitoringDir = () => join(stateDir(), "monitoring");
const file = (name: string) => join(monitoringDir(), name);
const PASSFILE = () => file("pgpass");
const name = (host: HostPlan, k: number) => `pgbouncer-exporter-${host.name}-${k}`;

/** Each process k of a host serves on the exporter port + k − 1, at the host's address. */
export const pgbouncerExporterAddress = (hostIndex: number, k: number) =>
  `${pgbouncerAddress(hostIndex)}:${pgbouncerExporterPort(k)}`;

/** A .pgpass line: `:` and `\` are escaped in every field. */
const passLine = (...fields: string[]) =>
  fields.map((f) => f.replace(/([\\:])/g, "\\$1")).join(":") + "\n";

/** The stats user's passfile, for every process socket of the stack. */
export async function writeExporterPassfile(secrets: LocalSecrets): Promise<void> {
  const password = secrets.accounts[STATS_USER]?.password;
  if (!password) throw new Error(`no local account ${STATS_USER} for pgbouncer_exporter`);
  await writePrivateFile(
    PASSFILE(),
    passLine("*", "*", "pgbouncer", STATS_USER, password),
    SERVICE_USER,
  );
}

/** Starts the exporter of process k when monitoring is set up and it does not run already. */
export async function startPgbouncerExporter(plan: Plan, host: HostPlan, k: number): Promise<void> {
  if (!existsSync(PASSFILE())) return; // monitoring not up (yet): monitoringUp starts them all
  if (await daemonPid(file(`${name(host, k)}.pid`))) return;
  const socket = localLayout(host, undefined, k).unixSocketDir;
  const port = plan.config.pgbouncer.port;
  await startDaemon(
    "prometheus-pgbouncer-exporter",
    [
      `--web.listen-address=${pgbouncerExporterAddress(host.index, k)}`,
      `--pgBouncer.pid-file=${localLayout(host, undefined, k).pidFile}`,
    ],
    {
      asUser: SERVICE_USER,
      inRoot: true,
      env: {
        PGBOUNCER_EXPORTER_CONNECTION_STRING: `postgres:///pgbouncer?host=${socket}&port=${port}&user=${STATS_USER}&sslmode=disable`,
        PGPASSFILE: PASSFILE(),
      },
      logFile: file(`${name(host, k)}.log`),
      pidFile: file(`${name(host, k)}.pid`),
    },
  );
}

/** The exporter's pid while it runs (for `status`). */
export const pgbouncerExporterPid = (host: HostPlan, k: number) =>
  daemonPid(file(`${name(host, k)}.pid`));

export function stopPgbouncerExporter(host: HostPlan, k: number): Promise<void> {
  return stopDaemon(file(`${name(host, k)}.pid`));
}
