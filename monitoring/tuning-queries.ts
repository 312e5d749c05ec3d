import type { ServicePlan } from "../platform/plan.js";
import { serviceEntriesPattern } from "../platform/plan.js";
import type { ServiceObservation } from "../platform/tuning.js";
import { LAG_PROBE } from "../replicas/lag.js";
import { POSTGRES_METRICS } from "./postgres-queries.js";

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

/**
 * Transactions per second the resilience library adds on the service's ro entries itself: every
 * instance probes every replica's lag (replicas/lag.ts). PgBouncer counts them like any other;
 * they are not the service's load, so the observation leaves them out.
 */
export function lagProbeTps(service: Pick<ServicePlan, "instances" | "entries">): number {
  const ro = service.entries.filter((e) => e.role === "ro").length;
  return (service.instances * ro * 1000) / LAG_PROBE.intervalMs;
}

export type ObservationQueries = Record<keyof ServiceObservation | "samples", string>;

export function observationQueries(
  service: Pick<ServicePlan, "name" | "instances" | "entries">,
  w: TuningWindow,
): ObservationQueries {
  const name = service.name;
  const all = `{database=~"${serviceEntriesPattern(name)}"}`;
  const roNames = service.entries.filter((e) => e.role === "ro").map((e) => e.name);
  const ro = `{database=~"${roNames.join("|") || "^$"}"}`;
  const probes = lagProbeTps(service);
  const range = `[${w.seconds}s:${w.stepSeconds}s]`;
  const tps = `clamp_min(sum(rate(${XACTS}${all}[${w.rateSeconds}s])) - ${probes}, 0)`;
  const inWindow = (m: string, sel: string) => `sum(increase(${m}${sel}[${w.seconds}s]))`;
  const probesInWindow = probes * w.seconds;
  const transactions = `clamp_min(${inWindow(XACTS, all)} - ${probesInWindow}, 0)`;
  const roTransactions = `clamp_min(${inWindow(XACTS, ro)} - ${probesInWindow}, 0)`;
  return {
    peakTps: `max_over_time(${tps}${range})`,
    p95Tps: `quantile_over_time(0.95, ${tps}${range})`,
    // the probes' own time stays in (well under a millisecond each): a slight overestimate
    transactionMs: `1000 * ${inWindow(XACT_TIME, all)} / ${transactions}`,
    readShare: `(${roTransactions} or vector(0)) / ${transactions}`,
    peakClients: `max_over_time((sum(${ACTIVE}${all}) + sum(${WAITING}${all}))${range})`,
    maxWaitSeconds: `max_over_time(max(${MAXWAIT}${all})${range})`,
    // 0 without replicas (no series)
    maxReplicaLagSeconds: `max_over_time(max(${POSTGRES_METRICS.replicationLag})${range}) or vector(0)`,
    // the rw entry's counter on the process with the fewest samples: every process must have
    // been scraped long enough
    samples: `min(count_over_time(${XACTS}{database="${name}"}[${w.seconds}s]))`,
  };
}
