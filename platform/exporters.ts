/**
 * The Prometheus exporters of the pooling tier and the ports they serve metrics on (each
 * project's registered default port). Named here, once: the monitoring component deploys them on
 * these ports, and the policies refuse any security group that opens them to the world.
 */
export const EXPORTERS = {
  /** Host metrics (CPU, file descriptors, network) of each PgBouncer host. */
  node: { port: 9100, what: "node_exporter" },
  /** prometheus-community/pgbouncer_exporter, one per PgBouncer host, stats-only user. */
  pgbouncer: { port: 9127, what: "pgbouncer_exporter" },
  /** prometheus-community/postgres_exporter, one per Postgres node, pg_monitor role. */
  postgres: { port: 9187, what: "postgres_exporter" },
} as const;

/**
 * PgBouncer process k's exporter: one per process (each reads its own process's admin console by
 * socket), on the exporter's port + k − 1 (the 16 processes a host may run stay below
 * postgres_exporter's 9187).
 */
export const pgbouncerExporterPort = (k: number): number => EXPORTERS.pgbouncer.port + k - 1;

export const EXPORTER_PORTS: readonly number[] = Object.values(EXPORTERS).map((e) => e.port);
