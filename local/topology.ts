import { join } from "node:path";
import { PRIMARY_NODE, replicaNodeName } from "../platform/nodes.js";
import type { HostPlan, Plan } from "../platform/plan.js";
import type { HostLayout, Upstreams } from "../pgbouncer/layout.js";
import { selectedBinary, selectedPgbouncer } from "./lines.js";
import { SERVICE_USER, stateDir } from "./state-dir.js";

/**
 * Where the local stack puts things. Loopback only: Postgres nodes share one port on their own
 * addresses (PgBouncer 1.18 takes several hosts per entry but one port), and each PgBouncer host
 * gets its own address too, so the local fleet is addressed like the real one.
 */
/**
 * Each node its own address, none of them 127.0.0.1: the root's resolver (c-ares) merges hosts-file
 * entries that share an address or a name, so a node named at localhost's address would also
 * resolve to ::1, where nothing listens.
 */
export const PRIMARY_ADDRESS = "127.0.0.2";
export const replicaAddress = (i: number) => `127.0.0.${3 + i}`;
export const pgbouncerAddress = (i: number) => `127.0.0.${11 + i}`;

/**
 * Every Postgres node has a DNS name, as each RDS node has an endpoint name: `primary.db.test`,
 * `replica1.db.test`, … (`.test` is reserved for testing, RFC 6761), in the production-line
 * root's own /etc/hosts (local/node-names.ts), so a failover can move a name as RDS moves its.
 */
/** Every Postgres node of the local stack by name, with its loopback address: primary first. */
export function localNodeAddresses(plan: Plan): { name: string; address: string }[] {
  return [
    { name: PRIMARY_NODE, address: PRIMARY_ADDRESS },
    ...Array.from({ length: plan.config.database.replicas }, (_, i) => ({
      name: replicaNodeName(i),
      address: replicaAddress(i),
    })),
  ];
}

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
export const tlsDir = (state = stateDir()) => join(state, "tls");

export function hostDir(host: HostPlan, state = stateDir()): string {
  return join(state, host.name);
}

/**
 * Files of PgBouncer process `process` (1-based) on a host. Process 1 keeps the plain names, so a
 * one-process host looks as it always did; others get a `-<n>` suffix and their own socket folder
 * (their sockets share the port number). The state folder is a parameter so golden files can render
 * with a path that is the same everywhere.
 */
export function localLayout(host: HostPlan, state = stateDir(), process = 1): HostLayout {
  const dir = hostDir(host, state);
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
    certDir: tlsDir(state),
  };
}

/** logrotate's postrotate locally: no systemd here, so signal each process from its pidfile. */
export function localReloadCommand(...layouts: HostLayout[]): string {
  return `/bin/kill -HUP ${layouts.map((l) => `"$(cat ${l.pidFile})"`).join(" ")}`;
}
