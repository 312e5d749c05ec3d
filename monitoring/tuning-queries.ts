import { PGBOUNCER_METRICS } from "./pgbouncer-columns.js";
import type { ServicePlan } from "../platform/plan.js";
import { serviceEntriesPattern } from "../platform/plan.js";
import type { ServiceObservation } from "../platform/tuning.js";
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

const XACTS = PGBOUNCER_METRICS.transactions;
const XACT_TIME = PGBOUNCER_METRICS.transactionSeconds;
const ACTIVE = PGBOUNCER_METRICS.clientActive;
const WAITING = PGBOUNCER_METRICS.clientWaiting;
const MAXWAIT = PGBOUNCER_METRICS.clientMaxWait;

/** The series whose samples say whether the window holds enough data. */
export const COVERAGE_METRIC = XACTS;

/**
 * The resilience library's own lag probes on the service's ro entries: every instance probes every
 * replica 4 times a second (replicas/lag.ts). PgBouncer counts them like any transaction; they are
 * not the service's load, so the observation leaves them out, as pg_stat_statements counted them
 * on the replicas (postgres_exporter's pgpooling_lag_probes_calls).
 */
const PROBES = POSTGRES_METRICS.lagProbes;

export type ObservationQueries = Record<
  keyof ServiceObservation | "samples" | "transactions",
  string
>;

export function observationQueries(
  service: Pick<ServicePlan, "name" | "entries">,
  w: TuningWindow,
): ObservationQueries {
  const name = service.name;
  const all = `{database=~"${serviceEntriesPattern(name)}"}`;
  const roNames = service.entries.filter((e) => e.role === "ro").map((e) => e.name);
  const ro = `{database=~"${roNames.join("|") || "^$"}"}`;
  const probes = `{datname="${service.entries[0]!.dbname}"}`;
  const range = `[${w.seconds}s:${w.stepSeconds}s]`;
  const probeRate = `(sum(rate(${PROBES}${probes}[${w.rateSeconds}s])) or vector(0))`;
  const tps = `clamp_min(sum(rate(${XACTS}${all}[${w.rateSeconds}s])) - ${probeRate}, 0)`;
  const inWindow = (m: string, sel: string) => `sum(increase(${m}${sel}[${w.seconds}s]))`;
  const probesInWindow = `(${inWindow(PROBES, probes)} or vector(0))`;
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
    // the service's own transactions in the window: none, and there is nothing to tune from
    transactions,
    // the rw entry's counter on the process with the fewest samples: every process must have
    // been scraped long enough
    samples: `min(count_over_time(${XACTS}{database="${name}"}[${w.seconds}s]))`,
  };
}
