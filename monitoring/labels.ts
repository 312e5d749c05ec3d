/**
 * Labels Prometheus attaches at scrape time (target labels), named once: the scrape config sets
 * them, alert rules group by them, dashboards filter by them, and the catalogue check accepts them
 * on every metric.
 *
 * - PgBouncer targets: `host` = `pgbouncer-1`…, `process` = `1`… (pools are per process).
 * - Postgres targets: `node` = `primary`, `replica1`… (the names of the plan's budget table).
 * - Service targets: the resilience library's metrics already carry `service`.
 */
export const TARGET_LABELS = {
  host: "host",
  process: "process",
  node: "node",
  service: "service",
} as const;

/** Labels Prometheus itself puts on every scraped sample. */
export const SCRAPE_LABELS = ["instance", "job"] as const;

/** Scrape job names; `up{job=…}` in the alert rules must match what the scrape config uses. */
export const SCRAPE_JOBS = {
  pgbouncer: "pgbouncer",
  postgres: "postgres",
  services: "pgpooling-services",
} as const;

/** The target labels each job's targets carry (the services' metrics bring `service` themselves). */
export const JOB_TARGET_LABELS: Readonly<Record<keyof typeof SCRAPE_JOBS, readonly string[]>> = {
  pgbouncer: [TARGET_LABELS.host, TARGET_LABELS.process],
  postgres: [TARGET_LABELS.node],
  services: [],
};

/** Every label that can sit on some catalogued metric without the catalogue naming it. */
export const IMPLICIT_LABELS: readonly string[] = [
  ...Object.values(TARGET_LABELS),
  ...SCRAPE_LABELS,
];
