import { stringify } from "yaml";
import { generatedHeader } from "../pgbouncer/header.js";
import { LAG_COLUMN, LAG_PROBE_MARKER, REPLICA_LAG_EXPRESSION } from "../replicas/lag.js";

/**
 * The two Postgres measurements the alerts need, as a postgres_exporter custom query file
 * (`--extend.query-path`). Why a file rather than the exporter's built-in metrics: the built-ins
 * change between exporter releases exactly here (0.11's `pg_replication_lag` vs
 * `pg_replication_lag_seconds` later; pg_stat_activity labels changed when the collectors were
 * rewritten), and the lag must be the one definition the services' router uses. The custom query
 * format is read by every release we run (deprecated since 0.13, still served).
 *
 * The exporter names a metric `<query>_<column>`, turns LABEL columns into labels and adds a
 * `server` label (`host:port` of its DSN) to every query-file metric; checked against 0.19.1 with a
 * primary and streaming replicas, a replica's replay paused to see the lag
 * (test/integration/monitoring.test.ts).
 */

/** The label postgres_exporter adds to every query-file metric. */
export const SERVER_LABEL = "server";

interface QueryColumn {
  column: string;
  usage: "LABEL" | "GAUGE" | "COUNTER";
  description: string;
}

interface CustomQuery {
  sql: string;
  columns: readonly QueryColumn[];
}

export const POSTGRES_QUERIES: Readonly<Record<string, CustomQuery>> = {
  pgpooling_role: {
    // Client backends per login role: the services' roles are what the connection budget governs.
    sql:
      "SELECT usename, count(*) AS connections FROM pg_stat_activity " +
      "WHERE backend_type = 'client backend' AND usename IS NOT NULL GROUP BY usename",
    columns: [
      { column: "usename", usage: "LABEL", description: "Login role" },
      { column: "connections", usage: "GAUGE", description: "Client connections of the role" },
    ],
  },
  pgpooling_lag_probes: {
    // The resilience library's lag probes per service database, counted by pg_stat_statements
    // (DEFAULTS.statementStats) on the replica they ran on: npm run tune leaves them out.
    sql:
      "SELECT d.datname, sum(s.calls)::float8 AS calls_total FROM pg_stat_statements s " +
      "JOIN pg_database d ON d.oid = s.dbid " +
      `WHERE s.query LIKE '%${LAG_PROBE_MARKER}' GROUP BY d.datname`,
    columns: [
      { column: "datname", usage: "LABEL", description: "Service database" },
      {
        column: "calls_total",
        usage: "COUNTER",
        description: "Lag probes the resilience library ran (replicas/lag.ts)",
      },
    ],
  },
  pgpooling_replication: {
    // The one lag definition (replicas/lag.ts), the same the services' router reads.
    sql:
      "SELECT CASE WHEN pg_is_in_recovery() THEN 1 ELSE 0 END AS is_replica, " +
      `${REPLICA_LAG_EXPRESSION} AS ${LAG_COLUMN}`,
    columns: [
      { column: "is_replica", usage: "GAUGE", description: "1 on a replica (in recovery)" },
      {
        column: LAG_COLUMN,
        usage: "GAUGE",
        description:
          "Seconds since the last replayed transaction, 0 while nothing is left to replay (replicas/lag.ts)",
      },
    ],
  },
};

export interface CustomMetric {
  name: string;
  labels: readonly string[];
  help: string;
  type: "gauge" | "counter";
}

/** Every metric the query file produces. */
export function customQueryMetrics(): CustomMetric[] {
  return Object.entries(POSTGRES_QUERIES).flatMap(([query, q]) => {
    const labels = [
      SERVER_LABEL,
      ...q.columns.filter((c) => c.usage === "LABEL").map((c) => c.column),
    ];
    return q.columns
      .filter((c) => c.usage !== "LABEL")
      .map((c) => ({
        name: `${query}_${c.column}`,
        labels,
        help: c.description,
        type: c.usage === "COUNTER" ? ("counter" as const) : ("gauge" as const),
      }));
  });
}

/** The metric names the rules and dashboards use, derived from the queries above. */
export const POSTGRES_METRICS = {
  roleConnections: "pgpooling_role_connections",
  replicationLag: `pgpooling_replication_${LAG_COLUMN}`,
  isReplica: "pgpooling_replication_is_replica",
  lagProbes: "pgpooling_lag_probes_calls_total",
} as const;

/** The query file, deterministic: queries and keys in a fixed order, generated header first. */
export function postgresExporterQueries(): string {
  const doc: Record<string, unknown> = {};
  for (const query of Object.keys(POSTGRES_QUERIES).sort()) {
    const q = POSTGRES_QUERIES[query]!;
    doc[query] = {
      query: q.sql,
      // Run once per server, not once per discovered database.
      master: true,
      metrics: q.columns.map((c) => ({
        [c.column]: { usage: c.usage, description: c.description },
      })),
    };
  }
  return (
    generatedHeader("#", "postgres_exporter custom queries (--extend.query-path)") +
    stringify(doc, { lineWidth: 0 })
  );
}
