/**
 * How prometheus-community/pgbouncer_exporter (v0.11+, pinned in catalogue.ts) turns PgBouncer's
 * admin console into metrics: which SHOW command, which columns become labels, which become
 * samples under which name, and the unit factor. The catalogue derives its PgBouncer entries from
 * this table; a live test checks that the real exporter of the local stack serves every one.
 *
 * Names are `pgbouncer_<section>_<suffix>`; every sample of a section carries all the section's
 * label columns (NULL → ""). Columns a PgBouncer version lacks emit nothing, as in the exporter.
 */

export interface ColumnMetric {
  /** Name after `pgbouncer_<section>_`. */
  suffix: string;
  type: "gauge" | "counter";
  /** Candidate columns, first present wins (PgBouncer 1.24 renamed reserve_pool). */
  columns: readonly string[];
  /** Multiplier into the metric's unit: PgBouncer reports times in microseconds. */
  factor: number;
  help: string;
  /** The first pgbouncer_exporter release that serves it with the PgBouncer lines we run. */
  exporterSince?: string;
}

export interface SectionMapping {
  /** The metric name's middle part. */
  section: "databases" | "pools" | "stats_totals";
  labels: readonly string[];
  metrics: readonly ColumnMetric[];
}

const gauge = (suffix: string, column: string | string[], help: string): ColumnMetric => ({
  suffix,
  type: "gauge",
  columns: typeof column === "string" ? [column] : column,
  factor: 1,
  help,
});
const counter = (suffix: string, column: string, help: string, factor = 1): ColumnMetric => ({
  suffix,
  type: "counter",
  columns: [column],
  factor,
  help,
});
const MICROSECONDS = 1e-6;

/**
 * The exporter reads SHOW STATS_TOTALS (`xact_count`, …); the local exposition reads the same
 * counters from SHOW STATS (`total_xact_count`, …), which every version since 1.8 has. The columns
 * below are SHOW STATS's.
 */
export const SECTIONS: readonly SectionMapping[] = [
  {
    section: "databases",
    labels: ["name", "host", "port", "database", "force_user", "pool_mode"],
    metrics: [
      gauge("pool_size", "pool_size", "Server connections the entry's pool may open"),
      {
        // PgBouncer 1.24 renamed the column; 0.12.0 then serves nothing, 0.12.1 reads the new name.
        ...gauge(
          "reserve_pool",
          ["reserve_pool", "reserve_pool_size"],
          "Extra server connections after reserve_pool_timeout",
        ),
        exporterSince: "0.12.1",
      },
      gauge("max_connections", "max_connections", "Server connection cap of the entry"),
      gauge("current_connections", "current_connections", "Server connections of the entry now"),
      gauge("paused", "paused", "1 while the entry is paused"),
      gauge("disabled", "disabled", "1 while the entry is disabled"),
    ],
  },
  {
    section: "pools",
    labels: ["database", "user"],
    metrics: [
      gauge("client_active_connections", "cl_active", "Clients linked to a server or idle"),
      gauge("client_waiting_connections", "cl_waiting", "Clients waiting for a server"),
      gauge(
        "client_active_cancel_connections",
        "cl_active_cancel_req",
        "Clients with a forwarded cancel",
      ),
      gauge(
        "client_waiting_cancel_connections",
        "cl_waiting_cancel_req",
        "Clients with a cancel not yet forwarded",
      ),
      gauge("server_active_connections", "sv_active", "Server connections linked to a client"),
      gauge(
        "server_active_cancel_connections",
        "sv_active_cancel",
        "Server connections forwarding a cancel",
      ),
      gauge(
        "server_being_canceled_connections",
        "sv_being_canceled",
        "Server connections waiting for cancels to finish",
      ),
      gauge("server_idle_connections", "sv_idle", "Server connections idle and ready"),
      gauge(
        "server_used_connections",
        "sv_used",
        "Server connections idle beyond server_check_delay",
      ),
      gauge(
        "server_testing_connections",
        "sv_tested",
        "Server connections running a reset or check query",
      ),
      gauge("server_login_connections", "sv_login", "Server connections logging in"),
      gauge(
        "client_maxwait_seconds",
        "maxwait",
        "Wait of the oldest waiting client, whole seconds",
      ),
    ],
  },
  {
    section: "stats_totals",
    labels: ["database"],
    metrics: [
      counter(
        "server_assignments_total",
        "total_server_assignment_count",
        "Times a server was assigned to a client",
      ),
      counter("sql_transactions_pooled_total", "total_xact_count", "Transactions pooled"),
      counter("queries_pooled_total", "total_query_count", "Queries pooled"),
      counter("received_bytes_total", "total_received", "Bytes received from clients"),
      counter("sent_bytes_total", "total_sent", "Bytes sent to clients"),
      counter(
        "server_in_transaction_seconds_total",
        "total_xact_time",
        "Seconds servers spent in transactions",
        MICROSECONDS,
      ),
      counter(
        "queries_duration_seconds_total",
        "total_query_time",
        "Seconds servers spent executing queries",
        MICROSECONDS,
      ),
      counter(
        "client_wait_seconds_total",
        "total_wait_time",
        "Seconds clients waited for a server",
        MICROSECONDS,
      ),
      counter(
        "client_parses_total",
        "total_client_parse_count",
        "Parse messages received from clients",
      ),
      counter("server_parses_total", "total_server_parse_count", "Parse messages sent to servers"),
      counter("binds_total", "total_bind_count", "Bind messages of prepared statements"),
    ],
  },
];

/** SHOW LISTS rows the exporter serves, each as an unlabelled gauge `pgbouncer_<name>`. */
export const LIST_METRICS: Readonly<Record<string, { name: string; help: string }>> = {
  databases: { name: "pgbouncer_databases", help: "Configured databases" },
  users: { name: "pgbouncer_users", help: "Configured users" },
  pools: { name: "pgbouncer_pools", help: "Pools" },
  free_clients: { name: "pgbouncer_free_clients", help: "Free client slots" },
  used_clients: { name: "pgbouncer_used_clients", help: "Client connections in use" },
  login_clients: { name: "pgbouncer_login_clients", help: "Clients logging in" },
  free_servers: { name: "pgbouncer_free_servers", help: "Free server slots" },
  used_servers: { name: "pgbouncer_used_servers", help: "Server connections in use" },
  dns_names: { name: "pgbouncer_cached_dns_names", help: "DNS names in the cache" },
  dns_zones: { name: "pgbouncer_cached_dns_zones", help: "DNS zones in the cache" },
  dns_queries: { name: "pgbouncer_in_flight_dns_queries", help: "DNS queries in flight" },
};

/** SHOW CONFIG keys the exporter serves as unlabelled gauges. */
export const CONFIG_METRICS: Readonly<Record<string, { name: string; help: string }>> = {
  max_client_conn: {
    name: "pgbouncer_config_max_client_connections",
    help: "max_client_conn of the process",
  },
  max_user_connections: {
    name: "pgbouncer_config_max_user_connections",
    help: "max_user_connections of the process",
  },
};

export const VERSION_METRIC = { name: "pgbouncer_version_info", label: "version" } as const;
export const UP_METRIC = "pgbouncer_up";

export const metricName = (s: SectionMapping, m: ColumnMetric) =>
  `pgbouncer_${s.section}_${m.suffix}`;

/**
 * The pgbouncer_exporter metrics the rules, dashboards and tuning queries read, by what they are:
 * names written once, each checked against the catalogue (pgbouncer-metrics.test.ts).
 */
export const PGBOUNCER_METRICS = {
  up: UP_METRIC,
  usedClients: LIST_METRICS.used_clients!.name,
  maxClientConnections: CONFIG_METRICS.max_client_conn!.name,
  poolSize: "pgbouncer_databases_pool_size",
  serverActive: "pgbouncer_pools_server_active_connections",
  serverIdle: "pgbouncer_pools_server_idle_connections",
  clientActive: "pgbouncer_pools_client_active_connections",
  clientWaiting: "pgbouncer_pools_client_waiting_connections",
  clientMaxWait: "pgbouncer_pools_client_maxwait_seconds",
  clientWaitSeconds: "pgbouncer_stats_totals_client_wait_seconds_total",
  transactions: "pgbouncer_stats_totals_sql_transactions_pooled_total",
  transactionSeconds: "pgbouncer_stats_totals_server_in_transaction_seconds_total",
} as const;
