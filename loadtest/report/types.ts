/**
 * One load run or drill, as the harness records it: the input of every report renderer (JSON,
 * Markdown, SVG charts). Times are seconds since the run started; latencies are milliseconds.
 */

export type RunMode = "pooled" | "direct";

export interface RunMeta {
  /** The command that made the run, as typed: `npm run loadtest -- --clients 2000 --duration 60s`. */
  command: string;
  /** ISO 8601 start time. */
  startedAt: string;
  /** Machine facts worth printing next to numbers: CPU count, model, Node version. */
  machine: { cpus: number; cpuModel: string; memoryGiB: number; node: string };
  pgbouncerVersion: string;
  postgresVersion: string;
  mode: RunMode;
  clients: number;
  durationSeconds: number;
  /** Services driven in this run (all seven unless `--service`). */
  services: string[];
}

/** One progress tick (about one per second) over the whole run. */
export interface ThroughputSample {
  t: number;
  /** Transactions completed in this tick, per second. */
  tps: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  /** Caller-visible errors in this tick. */
  errors: number;
  /** Σ cl_waiting over every pool of every PgBouncer process at this tick. */
  clientsWaiting: number;
  /** Clients connected (pooled: to PgBouncer; direct: to Postgres). */
  clientsConnected: number;
  /**
   * Connections closed under the app so far (by PgBouncer, Postgres or the network, not by the
   * app's own pools: an idle timeout is not one), counted from the start of the run.
   */
  connectionsLost: number;
}

/** One SHOW POOLS row at one tick, summed over the PgBouncer processes of one host. */
export interface PoolSample {
  t: number;
  host: string;
  /** The [databases] entry: `orders`, `orders_ro_replica1` … */
  pool: string;
  clActive: number;
  clWaiting: number;
  svActive: number;
  svIdle: number;
  maxWaitMs: number;
}

/** Resident memory of one process of the harness or the stack, for the soak mode. */
export interface MemorySample {
  t: number;
  /** `harness`, `worker-1`, `pgbouncer-1`, `postgres-primary` … */
  process: string;
  rssMiB: number;
}

/** Errors grouped by what the caller saw. */
export interface ErrorCount {
  service: string;
  /** SQLSTATE, or the library's error class when there is none. */
  code: string;
  message: string;
  count: number;
  firstAt: number;
}

export interface ServiceSummary {
  service: string;
  /** The transaction shape driven: `insert+update`, `point read`, `long read` … */
  shape: string;
  clients: number;
  transactions: number;
  tps: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  errors: number;
}

/** A ratio measured in the same run: pooled vs direct, harness vs pgbench … */
export interface Comparison {
  name: string;
  /** What the numerator and denominator were, with their values. */
  numerator: { label: string; value: number };
  denominator: { label: string; value: number };
  ratio: number;
  /** The goal the issue sets, when there is one (ratio ≥ goal passes). */
  goal?: number;
  unit: string;
}

export interface SloResult {
  /** `caller-visible errors`, `time to recover`, `acknowledged writes present`, `duplicates`. */
  name: string;
  /** What was measured, as a number in `unit`. */
  measured: number;
  /** The bound it had to meet: measured ≤ limit (or ≥ for `atLeast`). */
  limit: number;
  comparison: "atMost" | "atLeast";
  unit: string;
  pass: boolean;
}

export interface DrillResult {
  name: string;
  description: string;
  /** Seconds since start at which the fault was injected and when it was healed (if it was). */
  faultAt: number;
  healedAt?: number;
  slos: SloResult[];
  pass: boolean;
}

export interface RunRecord {
  meta: RunMeta;
  throughput: ThroughputSample[];
  pools: PoolSample[];
  memory: MemorySample[];
  errors: ErrorCount[];
  services: ServiceSummary[];
  comparisons: Comparison[];
  /** Present when the run is a drill. */
  drill?: DrillResult;
  /** Free-text lines the harness wants in the report (what it chose, what it noticed). */
  notes: string[];
}
