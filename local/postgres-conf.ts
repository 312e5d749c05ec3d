import { DEFAULTS } from "../platform/defaults.js";
import { PRIMARY_NODE, replicaNodeNames } from "../platform/nodes.js";
import type { PgClusterOptions, PgNode } from "./postgres-nodes.js";

/**
 * The local nodes' configuration files: what every node shares (postgresql.conf's tail), each
 * node's identity (node.conf) and who may connect (pg_hba.conf).
 */
export const quote = (v: string | number) => `'${String(v).replace(/'/g, "''")}'`;
export const confLines = (s: Record<string, string | number>) =>
  Object.entries(s)
    .map(([k, v]) => `${k} = ${quote(v)}\n`)
    .join("");

/** Settings shared by every node; replicas inherit them through pg_basebackup. */
export function sharedConf(opts: PgClusterOptions): string {
  const base = {
    max_connections: opts.maxConnections,
    superuser_reserved_connections: opts.superuserReservedConnections,
    password_encryption: "scram-sha-256",
    wal_level: "replica",
    max_wal_senders: opts.maxWalSenders,
    max_replication_slots: opts.maxWalSenders,
    hot_standby: "on",
    hot_standby_feedback: "on",
    // A replica whose primary vanished asks again after 250 ms, not 5 s: after a failover it
    // finds the promoted node (the primary's name moved) that much sooner, and after a restart
    // the primary's commits, which wait for one replica (ANY 1, Multi-AZ's stand-in), resume as
    // soon as one streams again (replicas streamed 0.23–0.26 s after the primary accepted).
    wal_retrieve_retry_interval: "250ms",
    // As the cloud's parameter group: a statement whose client is gone stops (DEFAULTS).
    client_connection_check_interval: `${DEFAULTS.clientConnectionCheckMs}ms`,
    // As the cloud's parameter group: npm run tune reads the query patterns (DEFAULTS).
    shared_preload_libraries: DEFAULTS.statementStats.library,
    logging_collector: "off",
    log_line_prefix: "%m [%p] %q%u@%d ",
  };
  // node.conf comes last so per-node identity wins over anything shared.
  const extra = opts.extraSettings ?? {};
  return `\n# --- pg-pooling local stack ---\n${confLines(base)}${confLines(extra)}include 'node.conf'\n`;
}

/** Per-node identity, rewritten in each replica after cloning (the clone copies the primary's). */
export function nodeConf(opts: PgClusterOptions, n: PgNode): string {
  const tls = opts.tls ? opts.tls.nodeCert(n.name) : undefined;
  return confLines({
    listen_addresses: n.address,
    port: n.port,
    unix_socket_directories: n.socketDir,
    cluster_name: n.name, // shows in `ps` and becomes the walreceiver's application_name
    ...(tls ? { ssl: "on", ssl_cert_file: tls.cert, ssl_key_file: tls.key } : {}),
  });
}

/** Every node but `primary` may acknowledge its commits: any one of them suffices. */
export function synchronousStandbyNames(opts: PgClusterOptions, primary: string): string {
  const names = [PRIMARY_NODE, ...replicaNodeNames(opts.replicaAddresses.length)];
  return `ANY 1 (${names.filter((n) => n !== primary).join(", ")})`;
}

/** Sockets are trusted (their folder is 0700); TCP needs SCRAM, and TLS when the stack has it. */
export const hba = (opts: PgClusterOptions) => {
  const host = opts.tls ? "hostssl" : "host";
  return `# pg-pooling local stack: sockets are trusted (folder is 0700), TCP needs SCRAM${opts.tls ? " over TLS" : ""}.
local     all         all                      trust
${host.padEnd(9)} replication replicator 127.0.0.0/8   scram-sha-256
${host.padEnd(9)} all         all        127.0.0.0/8   scram-sha-256
`;
};
