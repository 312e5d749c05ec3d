import { join } from "node:path";
import { REPO_ROOT } from "../platform/config.js";
import type { HostPlan, Plan } from "../platform/plan.js";
import type { HostLayout, Upstreams } from "../pgbouncer/layout.js";

/**
 * Where the local stack puts things. Loopback only: Postgres nodes share one port on their own
 * addresses (PgBouncer 1.18 takes several hosts per entry but one port), and each PgBouncer host
 * gets its own address too, so the local fleet is addressed like the real one.
 */
export const STATE_DIR = join(REPO_ROOT, ".stack");
export const PRIMARY_ADDRESS = "127.0.0.1";
export const replicaAddress = (i: number) => `127.0.0.${2 + i}`;
export const pgbouncerAddress = (i: number) => `127.0.0.${11 + i}`;
/** The OS user the local servers run as (they refuse root). */
export const SERVICE_USER = "postgres";

export function localUpstreams(plan: Plan): Upstreams {
  return {
    primary: PRIMARY_ADDRESS,
    replicas: Array.from({ length: plan.config.database.replicas }, (_, i) => replicaAddress(i)),
    port: plan.config.database.port,
  };
}

export function hostDir(host: HostPlan, stateDir = STATE_DIR): string {
  return join(stateDir, host.name);
}

/** `stateDir` is a parameter so golden files can render with a path that is the same everywhere. */
export function localLayout(host: HostPlan, stateDir = STATE_DIR): HostLayout {
  const dir = hostDir(host, stateDir);
  return {
    listenAddr: pgbouncerAddress(host.index),
    iniFile: join(dir, "pgbouncer.ini"),
    authFile: join(dir, "userlist.txt"),
    logFile: join(dir, "pgbouncer.log"),
    pidFile: join(dir, "pgbouncer.pid"),
    unixSocketDir: join(dir, "socket"),
    user: SERVICE_USER,
    binary: pgbouncerBinary(),
  };
}

/**
 * Debian's PgBouncer unless PGBOUNCER_BIN names another build (a newer line built from source).
 * The local stack's `status` says which binary and version run.
 */
export function pgbouncerBinary(): string {
  return process.env.PGBOUNCER_BIN || "/usr/sbin/pgbouncer";
}

/** logrotate's postrotate locally: no systemd here, so signal the pid from the pidfile. */
export function localReloadCommand(layout: HostLayout): string {
  return `/bin/kill -HUP "$(cat ${layout.pidFile})"`;
}
