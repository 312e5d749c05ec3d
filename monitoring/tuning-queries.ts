import { roEntryName, serviceEntriesPattern } from "../platform/plan.js";
import { POSTGRES_METRICS } from "./postgres-queries.js";
import type { ServiceObservation } from "../platform/tuning.js";

/**
 * The PromQL npm run tune reads a service's observation with, from the series the stack already
 * scrapes (pgbouncer_exporter, every host and process): one instant query per value, evaluated at
 * the end of the window. Each is checked against the metric catalogue like the alert rules.
 * Counters go through rate()/increase(), which handle a process restart's reset.
 */
export interface TuningWindow {
  /** The window observed, in seconds, ending now. */
  seconds: number;
  /** What a peak rate is read over (DEFAULTS.tuning.rateWindowSeconds). */
  rateSeconds: number;
  /** The subquery step: the scrape interval. */
  stepSeconds: number;
}

const XACTS = "pgbouncer_stats_totals_sql_transactions_pooled_total";
const XACT_TIME = "pgbouncer_stats_totals_server_in_transaction_seconds_total";
const ACTIVE = "pgbouncer_pools_client_active_connections";
const WAITING = "pgbouncer_pools_client_waiting_connections";
const MAXWAIT = "pgbouncer_pools_client_maxwait_seconds";

/** The series whose samples say whether the window holds enough data. */
export const COVERAGE_METRIC = XACTS;

export type ObservationQueries = Record<keyof ServiceObservation | "samples", string>;

export function observationQueries(
  service: string,
  w: TuningWindow,
  replicas: number,
): ObservationQueries {
  const all = `{database=~"${serviceEntriesPattern(service)}"}`;
  const ro = `{database=~"${Array.from({ length: replicas }, (_, i) => roEntryName(service, i)).join("|") || "^$"}"}`;
  const range = `[${w.seconds}s:${w.stepSeconds}s]`;
  const tps = `sum(rate(${XACTS}${all}[${w.rateSeconds}s]))`;
  const inWindow = (m: string, sel: string) => `sum(increase(${m}${sel}[${w.seconds}s]))`;
  return {
    peakTps: `max_over_time(${tps}${range})`,
    p95Tps: `quantile_over_time(0.95, ${tps}${range})`,
    transactionMs: `1000 * ${inWindow(XACT_TIME, all)} / ${inWindow(XACTS, all)}`,
    readShare: `(${inWindow(XACTS, ro)} or vector(0)) / ${inWindow(XACTS, all)}`,
    peakClients: `max_over_time((sum(${ACTIVE}${all}) + sum(${WAITING}${all}))${range})`,
    maxWaitSeconds: `max_over_time(max(${MAXWAIT}${all})${range})`,
    // 0 without replicas (no series)
    maxReplicaLagSeconds: `max_over_time(max(${POSTGRES_METRICS.replicationLag})${range}) or vector(0)`,
    // the rw entry's counter on the process with the fewest samples: every process must have
    // been scraped long enough
    samples: `min(count_over_time(${XACTS}{database="${service}"}[${w.seconds}s]))`,
  };
}
