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

/** A host's PgBouncer processes, numbered from 1. */
export const processNumbers = (host: { processes: number }): number[] =>
  Array.from({ length: host.processes }, (_, i) => i + 1);

/**
 * Process k's peer_id: unique across the fleet, numbered host by host from 1 (host index ×
 * processes + k), so a cancel key names the one process that owns it.
 */
export const peerId = (host: { index: number; processes: number }, k: number): number =>
  host.index * host.processes + k;

/**
 * Process k of a cloud host: process 1 is the package layout itself (a host running one process
 * is unchanged), process k > 1 has its own ini, log, socket folder and pidfile, suffixed `-k`
 * as on the local stack. The processes share the port (so_reuseport) and each keeps its own
 * unix socket, which is how the exporter, an operator and a peer reach one of them.
 */
export function productionLayout(k: number): HostLayout {
  if (k === 1) return PRODUCTION_LAYOUT;
  return {
    ...PRODUCTION_LAYOUT,
    iniFile: `/etc/pgbouncer/pgbouncer-${k}.ini`,
    logFile: `/var/log/pgbouncer/pgbouncer-${k}.log`,
    pidFile: `/run/pgbouncer-${k}/pgbouncer.pid`,
    unixSocketDir: `/run/pgbouncer-${k}`,
  };
}

/** The systemd unit of process k: `pgbouncer.service` (the package's name), `pgbouncer-k.service`. */
export const unitName = (k: number): string =>
  k === 1 ? "pgbouncer.service" : `pgbouncer-${k}.service`;

/** The ini of process k by file name: `pgbouncer.ini`, `pgbouncer-k.ini`. */
export const iniName = (k: number): string => (k === 1 ? "pgbouncer.ini" : `pgbouncer-${k}.ini`);

/** Where systemd units go on a cloud host. */
export const SYSTEMD_UNIT_DIR = "/etc/systemd/system";

/**
 * Which process a file name belongs to, when it is one of iniName's or unitName's (the reverse of
 * both, for those who read files by name: the rollout, the policies), or undefined.
 */
export function processFile(name: string): { k: number; kind: "ini" | "unit" } | undefined {
  const m = /^pgbouncer(?:-([1-9]\d*))?\.(ini|service)$/.exec(name);
  const k = m?.[1] ? Number(m[1]) : 1;
  const kind = m?.[2] === "ini" ? "ini" : "unit";
  // `pgbouncer-1.ini` is no name we give: process 1 keeps the package's names
  if (!m || (m[1] !== undefined && k === 1)) return undefined;
  return (kind === "ini" ? iniName(k) : unitName(k)) === name ? { k, kind } : undefined;
}

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
