import { DEFAULTS } from "../platform/defaults.js";
import type { HostPlan, Plan } from "../platform/plan.js";
import type { PoolEntry } from "../platform/pool-entry.js";
import { capability, databaseReserveKey, knows } from "../platform/capabilities.js";
import type { ForcedKey } from "../platform/forced-keys.js";
import { generatedHeader } from "./header.js";
import { ADMIN_USER, STATS_USER, upstreamHost, type HostLayout, type Upstreams } from "./layout.js";
import { absolutePath, connstringValue, iniKey, iniValue } from "./sanitize.js";

/**
 * pgbouncer.ini for one host. Layers, later wins: tunables (sane defaults an operator may override
 * through `pgbouncer.settings`) < overrides < forced keys (derived from the plan or required for
 * security). Only keys the target version knows are written; keys are sorted; the output is the
 * same for the same input, byte for byte.
 */
export type IniValue = string | number | boolean;

/**
 * Where a peer process takes cancel requests: its unix socket folder (processes of the same
 * machine) or its host's address (another cloud host: its kernel hands the cancel to any of the
 * host's processes, which passes it on by socket), and the port.
 */
export interface PeerAddress {
  /** peer_id: unique across the fleet, so a cancel key names the one process that owns it. */
  id: number;
  /** A unix socket folder (absolute path) or a host name/address. */
  host: string;
  port: number;
}

/**
 * Process `id` of the fleet: behind a load balancer a cancel request reaches any process of any
 * host, so each knows every other ([peers]) and passes on a cancel that is not its own.
 */
export interface HostProcess {
  id: number;
  peers: readonly PeerAddress[];
}

export function forcedSettings(
  plan: Plan,
  host: HostPlan,
  layout: HostLayout,
  process?: HostProcess,
): Partial<Record<ForcedKey, IniValue>> {
  const { pgbouncer: p } = plan.config;
  const t = p.timeouts;
  const tls = p.tls;
  const forced: Partial<Record<ForcedKey, IniValue>> = {
    listen_addr: layout.listenAddr,
    listen_port: p.port,
    unix_socket_dir: absolutePath("layout.unixSocketDir", layout.unixSocketDir),
    // Every login goes through the hba rules (pgbouncer/hba.ts): SCRAM (p.auth) for all, and
    // the admin console on the unix socket only.
    auth_type: "hba",
    auth_hba_file: absolutePath("layout.hbaFile", layout.hbaFile),
    auth_file: absolutePath("layout.authFile", layout.authFile),
    admin_users: ADMIN_USER,
    stats_users: STATS_USER,
    logfile: absolutePath("layout.logFile", layout.logFile),
    pidfile: absolutePath("layout.pidFile", layout.pidFile),
    max_client_conn: host.maxClientConn,
    // Every entry sets its own mode and sizes; these apply to nothing but make intent explicit.
    pool_mode: "transaction",
    default_pool_size: DEFAULTS.minPoolSize,
    query_wait_timeout: t.queryWaitSeconds,
    client_idle_timeout: t.clientIdleSeconds,
    client_login_timeout: t.clientLoginSeconds,
    idle_transaction_timeout: t.idleTransactionSeconds,
    query_timeout: t.querySeconds,
    server_idle_timeout: t.serverIdleSeconds,
    server_lifetime: t.serverLifetimeSeconds,
    server_connect_timeout: t.serverConnectSeconds,
    server_login_retry: t.serverLoginRetrySeconds,
    client_tls_sslmode: tls.client,
    server_tls_sslmode: tls.server,
    // A failover moves the primary's name and a lost node goes silent: see DEFAULTS.pgbouncer.
    dns_max_ttl: DEFAULTS.pgbouncer.dnsMaxTtlSeconds,
    tcp_keepalive: 1,
    tcp_keepidle: DEFAULTS.pgbouncer.tcpKeepIdleSeconds,
    tcp_keepintvl: DEFAULTS.pgbouncer.tcpKeepIntervalSeconds,
    tcp_keepcnt: DEFAULTS.pgbouncer.tcpKeepCount,
    tcp_user_timeout: DEFAULTS.pgbouncer.tcpUserTimeoutMs,
  };
  const certDir = layout.certDir ?? tls.certDir;
  if (tls.client !== "disable") {
    forced.client_tls_key_file = `${certDir}/pgbouncer.key`;
    forced.client_tls_cert_file = `${certDir}/pgbouncer.crt`;
  }
  if (tls.server === "verify-ca" || tls.server === "verify-full") {
    forced.server_tls_ca_file = `${certDir}/server-ca.pem`;
  }
  // Processes of one host share its port; the kernel spreads new connections over them.
  if (host.processes > 1) forced.so_reuseport = 1;
  if (process && process.peers.length > 1) forced.peer_id = process.id;
  if (knows(plan.pgbouncerVersion, "pgbouncer", "max_prepared_statements")) {
    forced.max_prepared_statements = DEFAULTS.pgbouncer.maxPreparedStatements;
  }
  return forced;
}

/** Defaults an operator may change per stack (`pgbouncer.settings`). */
export function tunableSettings(): Record<string, IniValue> {
  return {
    application_name_add_host: 1,
    ignore_startup_parameters: "extra_float_digits",
    log_connections: 0,
    log_disconnections: 0,
    log_pooler_errors: 1,
    reserve_pool_timeout: DEFAULTS.pgbouncer.reservePoolTimeoutSeconds,
    server_check_delay: DEFAULTS.pgbouncer.serverCheckDelaySeconds,
    stats_period: DEFAULTS.pgbouncer.statsPeriodSeconds,
  };
}

/**
 * One [databases] line. Every entry names exactly one node (the rw entry the primary, each ro
 * entry its own replica), so no line has a host list, and none gets `load_balance_hosts`: that key
 * only chooses among the hosts of a multi-host entry (it stays in the capability table, as a fact
 * about the versions).
 */
export function databaseLine(plan: Plan, entry: PoolEntry, upstreams: Upstreams): string {
  const version = plan.pgbouncerVersion;
  const field = `databases.${entry.name}`;
  const params: [string, string | number][] = [
    ["host", upstreamHost(upstreams, entry.node)],
    ["port", upstreams.port],
    ["dbname", entry.dbname],
    ["pool_mode", entry.poolMode],
    ["pool_size", entry.poolSize],
    ["min_pool_size", entry.minPoolSize],
    [databaseReserveKey(version), entry.reservePoolSize],
    ["max_db_connections", entry.maxDbConnections],
  ];
  // A queued read on a dead replica is sent elsewhere by the library (DEFAULTS.pgbouncer).
  if (entry.role === "ro" && knows(version, "databases", "query_wait_timeout"))
    params.push(["query_wait_timeout", DEFAULTS.pgbouncer.replicaQueryWaitSeconds]);
  const text = params.map(([k, v]) => `${k}=${connstringValue(`${field}.${k}`, v)}`).join(" ");
  return `${iniKey(field, entry.name)} = ${text}`;
}

export function renderIni(
  plan: Plan,
  host: HostPlan,
  upstreams: Upstreams,
  layout: HostLayout,
  process?: HostProcess,
): string {
  const version = plan.pgbouncerVersion;
  const settings: Record<string, IniValue> = {
    ...tunableSettings(),
    ...plan.config.pgbouncer.settings,
    ...forcedSettings(plan, host, layout, process),
  };
  const peers =
    process && process.peers.length > 1 && knows(version, "pgbouncer", "peer_id")
      ? "\n\n[peers]\n" + process.peers.map((p) => peerLine(p)).join("\n")
      : "";
  const lines = Object.keys(settings)
    // capability() throws for a key missing from the table: a typo never silently disappears.
    .filter((key) => capability("pgbouncer", key) && knows(version, "pgbouncer", key))
    .sort()
    .map(
      (key) => `${iniKey("pgbouncer key", key)} = ${iniValue(`pgbouncer.${key}`, settings[key]!)}`,
    );
  return (
    generatedHeader(
      ";",
      `pgbouncer.ini for ${host.name} (PgBouncer ${version.join(".")}, ${plan.environment})`,
    ) +
    "\n[databases]\n" +
    plan.entries.map((e) => databaseLine(plan, e, upstreams)).join("\n") +
    peers +
    "\n\n[pgbouncer]\n" +
    lines.join("\n") +
    "\n"
  );
}

/** `1 = host=/run/pgbouncer-1 port=6432`: a socket folder must be absolute, a host a plain name. */
function peerLine(p: PeerAddress): string {
  const field = `peers.${p.id}`;
  const host = p.host.startsWith("/") ? absolutePath(field, p.host) : p.host;
  return `${p.id} = host=${connstringValue(`${field}.host`, host)} port=${p.port}`;
}
