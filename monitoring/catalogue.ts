import { Counter, Gauge } from "prom-client";
import { createMetrics } from "../resilience/metrics.js";
import {
  CONFIG_METRICS,
  LIST_METRICS,
  metricName,
  SECTIONS,
  UP_METRIC,
  VERSION_METRIC,
} from "./pgbouncer-columns.js";
import { customQueryMetrics } from "./postgres-queries.js";

export { postgresExporterQueries, POSTGRES_METRICS } from "./postgres-queries.js";

/**
 * Every metric the project's PromQL may name: what the production exporters serve (at the pinned
 * versions below), what the resilience library serves, and Prometheus's own series. Alert rules and
 * dashboard queries are checked against it (promql.ts), and the real pgbouncer_exporter of the
 * local stack is tested to serve every one of its PgBouncer entries.
 */

export type MetricSource =
  | "pgbouncer_exporter"
  | "postgres_exporter"
  | "postgres_exporter_queries"
  | "resilience"
  | "prometheus";

export interface MetricSpec {
  name: string;
  type: "gauge" | "counter";
  /** Labels the source puts on the metric; target labels (labels.ts) come on top. */
  labels: readonly string[];
  help: string;
  source: MetricSource;
  /** The first release of its exporter that serves it, when that is newer than the first we know. */
  exporterSince?: string;
}

/**
 * The production pins of every exporter the PgBouncer hosts run, in one place: the catalogue
 * describes what these versions serve, and the hosts' install script fetches exactly these.
 * pgbouncer_exporter 0.11 renamed `pgbouncer_stats_*` to `pgbouncer_stats_totals_*` (it reads
 * SHOW STATS_TOTALS); 0.12.1 serves `reserve_pool` again on PgBouncer ≥ 1.24. postgres_exporter
 * still reads `--extend.query-path` (deprecated since 0.13). No rule or dashboard reads a
 * node_exporter series (only its `up`), so it has no metrics below, but its version is pinned here
 * like the others.
 */
export const EXPORTER_RELEASES = {
  node_exporter: {
    version: "1.12.1",
    repo: "https://github.com/prometheus/node_exporter",
  },
  pgbouncer_exporter: {
    version: "0.12.1",
    repo: "https://github.com/prometheus-community/pgbouncer_exporter",
  },
  postgres_exporter: {
    version: "0.20.1",
    repo: "https://github.com/prometheus-community/postgres_exporter",
  },
} as const;

function pgbouncerMetrics(): MetricSpec[] {
  const source: MetricSource = "pgbouncer_exporter";
  const unlabelled = (m: { name: string; help: string }): MetricSpec => ({
    name: m.name,
    type: "gauge",
    labels: [],
    help: m.help,
    source,
  });
  return [
    ...SECTIONS.flatMap((s) =>
      s.metrics.map((m) => ({
        name: metricName(s, m),
        type: m.type,
        labels: s.labels,
        help: m.help,
        source,
        ...(m.exporterSince ? { exporterSince: m.exporterSince } : {}),
      })),
    ),
    ...Object.values(LIST_METRICS).map(unlabelled),
    ...Object.values(CONFIG_METRICS).map(unlabelled),
    {
      name: VERSION_METRIC.name,
      type: "gauge",
      labels: [VERSION_METRIC.label],
      help: "PgBouncer version (value 1)",
      source,
    },
    unlabelled({ name: UP_METRIC, help: "1 when the last scrape of PgBouncer succeeded" }),
  ];
}

/** Built-ins both the local (0.11.1) and the pinned postgres_exporter serve identically. */
const POSTGRES_BUILTINS: MetricSpec[] = [
  {
    name: "pg_up",
    type: "gauge",
    labels: [],
    help: "1 when the exporter's last connection to Postgres succeeded",
    source: "postgres_exporter",
  },
];

/** Read from the library's own metric objects, so a renamed label shows up here. */
function resilienceMetrics(): MetricSpec[] {
  const { registry } = createMetrics();
  return registry.getMetricsAsArray().map((metric) => {
    const labels = (metric as unknown as { labelNames?: unknown }).labelNames;
    if (!Array.isArray(labels))
      throw new Error(`resilience metric ${metric.name} has no labelNames`);
    return {
      name: metric.name,
      type:
        metric instanceof Counter
          ? "counter"
          : metric instanceof Gauge
            ? "gauge"
            : fail(metric.name),
      labels: labels as string[],
      help: metric.help,
      source: "resilience",
    };
  });
}

function fail(name: string): never {
  throw new Error(`resilience metric ${name} is neither a Counter nor a Gauge`);
}

const PROMETHEUS_METRICS: MetricSpec[] = [
  {
    name: "up",
    type: "gauge",
    labels: [],
    help: "1 when the target was scraped",
    source: "prometheus",
  },
  {
    name: "ALERTS",
    type: "gauge",
    labels: ["alertname", "alertstate", "severity"],
    help: "Pending and firing alerts",
    source: "prometheus",
  },
];

export const CATALOGUE: readonly MetricSpec[] = [
  ...pgbouncerMetrics(),
  ...POSTGRES_BUILTINS,
  ...customQueryMetrics().map((m): MetricSpec => ({
    ...m,
    source: "postgres_exporter_queries",
  })),
  ...resilienceMetrics(),
  ...PROMETHEUS_METRICS,
].sort((a, b) => a.name.localeCompare(b.name));

const BY_NAME = new Map(CATALOGUE.map((m) => [m.name, m]));

/** The catalogue entry of `name`; throws naming the metric when there is none. */
export function metricSpec(name: string): MetricSpec {
  const spec = BY_NAME.get(name);
  if (!spec) throw new Error(`metric ${JSON.stringify(name)} is not in the metric catalogue`);
  return spec;
}

export function hasMetric(name: string): boolean {
  return BY_NAME.has(name);
}
