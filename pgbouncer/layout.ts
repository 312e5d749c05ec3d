import { PRIMARY_NODE, replicaNodeName } from "../platform/nodes.js";

/**
 * Where a PgBouncer host keeps its files and what it listens on. Production follows the Debian /
 * PGDG package layout (the package's pgbouncer.service runs as postgres from /etc/pgbouncer); the
 * local stack points the same renderers at its state folder.
 */
export interface HostLayout {
  /** Address PgBouncer binds: `*` on a cloud host, a loopback address locally. */
  listenAddr: string;
  iniFile: string;
  authFile: string;
  /** auth_hba_file: who may log in from where (pgbouncer/hba.ts). */
  hbaFile: string;
  logFile: string;
  pidFile: string;
  unixSocketDir: string;
  /** OS user the process runs as; owns the log and socket folders. */
  user: string;
  binary: string;
  /** Where the TLS certificate, key and CA files are. @default the stack's pgbouncer.tls.certDir */
  certDir?: string;
}

/** Addresses of the Postgres nodes the entries point at (RDS endpoints, or loopback locally). */
export interface Upstreams {
  primary: string;
  replicas: readonly string[];
  port: number;
}

/**
 * The address of one node (`primary`, `replica1`, …, as PoolEntry.node names it). An entry names
 * exactly one node, so a node with no address is a caller's mistake, named with what there is.
 */
export function upstreamHost(upstreams: Upstreams, node: string): string {
  if (node === PRIMARY_NODE) return upstreams.primary;
  const i = upstreams.replicas.findIndex((_, k) => replicaNodeName(k) === node);
  if (i < 0)
    throw new Error(
      `upstreams must give an address for node ${node}, got ${PRIMARY_NODE} and ${upstreams.replicas.length} replica(s)`,
    );
  return upstreams.replicas[i]!;
}

/** The accounts that exist only in PgBouncer: its admin console and the stats-only exporter user. */
export const ADMIN_USER = "pgbouncer_admin";
export const STATS_USER = "pgbouncer_stats";

export const PRODUCTION_LAYOUT: HostLayout = {
  listenAddr: "*",
  iniFile: "/etc/pgbouncer/pgbouncer.ini",
  authFile: "/etc/pgbouncer/userlist.txt",
  hbaFile: "/etc/pgbouncer/pgbouncer_hba.conf",
  logFile: "/var/log/pgbouncer/pgbouncer.log",
  pidFile: "/run/pgbouncer/pgbouncer.pid",
  unixSocketDir: "/run/pgbouncer",
  user: "postgres",
  binary: "/usr/sbin/pgbouncer",
};

/**
 * Upstreams of a review render of a cloud plan (`npm run render`, `npm run check`): the RDS
 * endpoints exist only after deploy, so they are named under the reserved `.invalid` domain.
 */
export function reviewUpstreams(environment: string, replicas: number, port: number): Upstreams {
  return {
    primary: `${environment}-${PRIMARY_NODE}.rds-endpoint.invalid`,
    replicas: Array.from(
      { length: replicas },
      (_, i) => `${environment}-${replicaNodeName(i)}.rds-endpoint.invalid`,
    ),
    port,
  };
}
