import { stringify } from "yaml";
import { generatedHeader } from "../pgbouncer/header.js";

/**
 * The two Postgres measurements the alerts need, as a postgres_exporter custom query file
 * (`--extend.query-path`). Why a file rather than the exporter's built-in metrics: the local stack
 * runs Debian 12's exporter 0.11.1 and production pins a current release, and their built-ins
 * disagree exactly here (0.11's `pg_replication_lag` vs `pg_replication_lag_seconds` later;
 * pg_stat_activity labels changed when the collectors were rewritten). The custom query format is
 * read by both (deprecated since 0.13, still served), so the same names reach both Prometheuses.
 *
 * The exporter names a metric `<query>_<column>`, turns LABEL columns into labels and adds a
 * `server` label (`host:port` of its DSN) to every query-file metric; checked against 0.11.1 with a
 * primary and a streaming replica, the replica's replay paused to see the lag.
 */

/** The label postgres_exporter adds to every query-file metric. */
export const SERVER_LABEL = "server";

interface QueryColumn {
  column: string;
  usage: "LABEL" | "GAUGE";
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
  pgpooling_replication: {
    // An idle primary is not lag: when everything received has been replayed the replica is
    // current, whatever the age of the last replayed transaction.
    sql:
      "SELECT CASE WHEN pg_is_in_recovery() THEN 1 ELSE 0 END AS is_replica, " +
      "CASE WHEN NOT pg_is_in_recovery() THEN 0 " +
      "WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0 " +
      "ELSE GREATEST(0, EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())) END AS lag_seconds",
    columns: [
      { column: "is_replica", usage: "GAUGE", description: "1 on a replica (in recovery)" },
      {
        column: "lag_seconds",
        usage: "GAUGE",
        description: "Seconds since the last replayed transaction while WAL is still to replay",
      },
    ],
  },
};

export interface CustomMetric {
  name: string;
  labels: readonly string[];
  help: string;
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
      .map((c) => ({ name: `${query}_${c.column}`, labels, help: c.description }));
  });
}

/** The metric names the rules and dashboards use, derived from the queries above. */
export const POSTGRES_METRICS = {
  roleConnections: "pgpooling_role_connections",
  replicationLag: "pgpooling_replication_lag_seconds",
  isReplica: "pgpooling_replication_is_replica",
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
