import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { REPO_ROOT } from "../platform/config.js";
import { PRIMARY_NODE, replicaNodeName } from "../platform/nodes.js";
import type { HostPlan, Plan } from "../platform/plan.js";
import type { HostLayout, Upstreams } from "../pgbouncer/layout.js";
import { selectedBinary, selectedPgbouncer } from "./lines.js";

/**
 * Where the local stack puts things. Loopback only: Postgres nodes share one port on their own
 * addresses (PgBouncer 1.18 takes several hosts per entry but one port), and each PgBouncer host
 * gets its own address too, so the local fleet is addressed like the real one.
 */
/** The OS user the local servers run as when we are root (they refuse root). */
export const SERVICE_USER = "postgres";
export const STATE_DIR = chooseStateDir();
/**
 * Each node its own address, none of them 127.0.0.1: the root's resolver (c-ares) merges hosts-file
 * entries that share an address or a name, so a node named at localhost's address would also
 * resolve to ::1, where nothing listens.
 */
export const PRIMARY_ADDRESS = "127.0.0.2";
export const replicaAddress = (i: number) => `127.0.0.${3 + i}`;
export const pgbouncerAddress = (i: number) => `127.0.0.${11 + i}`;

/**
 * The gitignored `.stack` folder of the checkout, unless the servers' user cannot reach it (a
 * checkout under /root, mode 0700): then a folder of this checkout's own under /var/tmp, because
 * Postgres and PgBouncer must open their files by path. PG_POOLING_STATE_DIR overrides both.
 */
function chooseStateDir(): string {
  if (process.env.PG_POOLING_STATE_DIR) return process.env.PG_POOLING_STATE_DIR;
  const inCheckout = join(REPO_ROOT, ".stack");
  if (process.getuid?.() !== 0) return inCheckout;
  const reachable =
    spawnSync("runuser", ["-u", SERVICE_USER, "--", "test", "-x", REPO_ROOT]).status === 0;
  if (reachable) return inCheckout;
  return `/var/tmp/pg-pooling-${createHash("sha256").update(REPO_ROOT).digest("hex").slice(0, 12)}`;
}

/**
 * Every Postgres node has a DNS name, as each RDS node has an endpoint name: `primary.db.test`,
 * `replica1.db.test`, … (`.test` is reserved for testing, RFC 6761), in the production-line
 * root's own /etc/hosts (local/node-names.ts), so a failover can move a name as RDS moves its.
 */
export const NODE_DOMAIN = "db.test";
export const nodeHostName = (node: string) => `${node}.${NODE_DOMAIN}`;
/** The nodes' names are the plan's (platform/nodes.ts); re-exported for the local stack's users. */
export { replicaNodeName };

/**
 * What PgBouncer's entries point at: the nodes' names when PgBouncer runs in the root, which
 * resolves them; their addresses for Debian 12's binary, which must leave this machine's
 * /etc/hosts alone.
 */
export function localUpstreams(plan: Plan): Upstreams {
  const byName = selectedPgbouncer().inRoot;
  const replicas = Array.from({ length: plan.config.database.replicas }, (_, i) =>
    byName ? nodeHostName(replicaNodeName(i)) : replicaAddress(i),
  );
  return {
    primary: byName ? nodeHostName(PRIMARY_NODE) : PRIMARY_ADDRESS,
    replicas,
    port: plan.config.database.port,
  };
}

/** The local stack's CA and certificates (local/tls.ts makes them). */
export const tlsDir = (stateDir = STATE_DIR) => join(stateDir, "tls");

export function hostDir(host: HostPlan, stateDir = STATE_DIR): string {
  return join(stateDir, host.name);
}

/**
 * Files of PgBouncer process `process` (1-based) on a host. Process 1 keeps the plain names, so a
 * one-process host looks as it always did; others get a `-<n>` suffix and their own socket folder
 * (their sockets share the port number). `stateDir` is a parameter so golden files can render
 * with a path that is the same everywhere.
 */
export function localLayout(host: HostPlan, stateDir = STATE_DIR, process = 1): HostLayout {
  const dir = hostDir(host, stateDir);
  const suffix = process === 1 ? "" : `-${process}`;
  return {
    listenAddr: pgbouncerAddress(host.index),
    iniFile: join(dir, `pgbouncer${suffix}.ini`),
    authFile: join(dir, "userlist.txt"),
    hbaFile: join(dir, "pgbouncer_hba.conf"),
    logFile: join(dir, `pgbouncer${suffix}.log`),
    pidFile: join(dir, `pgbouncer${suffix}.pid`),
    unixSocketDir: join(dir, `socket${suffix}`),
    user: SERVICE_USER,
    binary: selectedBinary(),
    certDir: tlsDir(stateDir),
  };
}

/** logrotate's postrotate locally: no systemd here, so signal each process from its pidfile. */
export function localReloadCommand(...layouts: HostLayout[]): string {
  return `/bin/kill -HUP ${layouts.map((l) => `"$(cat ${l.pidFile})"`).join(" ")}`;
}
