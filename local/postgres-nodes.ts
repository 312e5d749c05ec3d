import path from "node:path";
import { PRIMARY_NODE, replicaNodeName } from "../platform/nodes.js";

/**
 * What a local Postgres cluster is: its options and where each node keeps its files. Layout under
 * stateDir: cluster.json (settings fingerprint) and one folder per node holding data/, socket/ (its
 * own unix_socket_directories, so equal ports don't clash), postgres.log and a `ready` marker
 * written once the node is fully provisioned.
 */
export interface PgClusterOptions {
  stateDir: string;
  port: number;
  primaryAddress: string;
  replicaAddresses: string[];
  /** Same on every node: a hot standby refuses to run with less than its primary. */
  maxConnections: number;
  superuserReservedConnections: number;
  /** At least replicas + 2, leaving room for pg_basebackup's own WAL stream while cloning. */
  maxWalSenders: number;
  /** For the `replicator` role; stored only as a SCRAM verifier and never logged. */
  replicationPassword: string;
  /**
   * TLS for every TCP connection (clients, PgBouncer, replication), plain text refused as RDS's
   * rds.force_ssl does: each node's certificate and key, and the CA replicas verify the primary by.
   */
  tls?: { caFile: string; nodeCert: (node: string) => { cert: string; key: string } };
  /**
   * The name replicas reach the primary by (primary_conninfo), as RDS replicas follow the
   * primary's endpoint: a failover that moves the name is followed without reconfiguring them.
   * @default primaryAddress
   */
  primaryHost?: string;
  /**
   * Commits wait for one replica's flush (`ANY 1 (replica1, …)`), as a Multi-AZ primary waits
   * for its standby: a crashed primary loses no acknowledged commit to the replica promoted.
   * @default false
   */
  synchronousReplicas?: boolean;
  extraSettings?: Record<string, string>;
}

export interface PgNode {
  name: string;
  role: "primary" | "replica";
  address: string;
  port: number;
  dataDir: string;
  socketDir: string;
  logFile: string;
}

/** The node's folder: its data, socket and log live under it. */
export const nodeDir = (n: PgNode) => path.dirname(n.dataDir);
/** A node folder without it is left over from a failed `up` and is rebuilt on the next `up`. */
export const readyMarker = (n: PgNode) => path.join(nodeDir(n), "ready");

export function clusterNodes(opts: PgClusterOptions): PgNode[] {
  const node = (name: string, role: PgNode["role"], address: string): PgNode => {
    const dir = (f: string) => path.join(opts.stateDir, name, f);
    const { port } = opts;
    return {
      name,
      role,
      address,
      port,
      dataDir: dir("data"),
      socketDir: dir("socket"),
      logFile: dir("postgres.log"),
    };
  };
  return [
    node(PRIMARY_NODE, "primary", opts.primaryAddress),
    ...opts.replicaAddresses.map((a, i) => node(replicaNodeName(i), "replica", a)),
  ];
}
