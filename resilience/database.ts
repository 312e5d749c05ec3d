import type pg from "pg";
import type { Registry } from "prom-client";
import type { ClientProfile } from "../platform/profiles.js";
import { RetryBudget } from "./budget.js";
import { call, type Wiring } from "./call.js";
import type { DatabaseCallError } from "./errors.js";
import { TypedEvents } from "./events.js";
import { createMetrics } from "./metrics.js";
import { resolveOptions, type ResilienceOptions } from "./options.js";
import { ReadRouter } from "./router.js";
import type { Runners, StatementRunner } from "./statements.js";
import { Target } from "./target.js";
import { inTransaction, inWriteTransaction } from "./transactions.js";

export type Isolation = "read committed" | "repeatable read" | "serializable";

export interface CallOptions<T> {
  /** Used when the database is unavailable (not for errors in the SQL itself). */
  fallback?: (error: DatabaseCallError) => T | Promise<T>;
}
export interface ReadOptions<T> extends CallOptions<T> {
  /** Read-your-writes: only a replica that has replayed this WAL position may serve the read. */
  minLsn?: string;
}
export interface WriteOptions<T> extends CallOptions<T> {
  /** Safe to apply twice (upsert, keyed insert): may be retried when the outcome is unknown. */
  idempotent?: boolean;
  /**
   * When the connection dies mid-write, ask the primary whether it committed (pg_xact_status)
   * instead of reporting outcome-unknown. Costs a small statement; a single-statement write()
   * also waits one round trip for its xid before the statement is sent (transaction() carries
   * it on BEGIN). Turn it off for writes that are idempotent anyway and very hot. @default true
   */
  resolveOutcome?: boolean;
}
export interface TransactionOptions<T> extends WriteOptions<T> {
  isolation?: Isolation;
  /** Runs on a replica when one is eligible. */
  readOnly?: boolean;
}

/** What createDatabase returns: the calls a service makes, and the state it can watch. */
export interface Database {
  /** Retries, breaker changes, fallbacks, reroutes, replica lag and write outcomes as they happen. */
  events: TypedEvents;
  /** prom-client registry holding this database's metrics. */
  metrics: Registry;
  /** Resolves once replica lag has been measured, so reads can go to replicas. */
  ready(): Promise<void>;
  /**
   * One statement on a replica whose lag is within the service's tolerance, else on the primary;
   * retried while safe (a read may run more than once).
   */
  read<R extends pg.QueryResultRow = pg.QueryResultRow>(
    sql: string,
    params?: unknown[],
    opts?: ReadOptions<pg.QueryResult<R>>,
  ): Promise<pg.QueryResult<R>>;
  /**
   * One autocommit statement on the primary; retried only when it cannot have been applied, or
   * when it is idempotent, and looked up on the primary when its connection died (resolveOutcome).
   */
  write<R extends pg.QueryResultRow = pg.QueryResultRow>(
    sql: string,
    params?: unknown[],
    opts?: WriteOptions<pg.QueryResult<R>>,
  ): Promise<pg.QueryResult<R>>;
  /**
   * `fn` inside BEGIN … COMMIT on one connection (the primary, or a replica when read-only); the
   * whole transaction is what is retried, so `fn` may run more than once.
   */
  transaction<T>(
    fn: (query: StatementRunner) => Promise<T>,
    opts?: TransactionOptions<T>,
  ): Promise<T>;
  /** The primary's current WAL position: pass it as `minLsn` to read your own writes. */
  currentLsn(): Promise<string>;
  /** The retry budget, each target's breaker and pool, and each replica's lag, right now. */
  health(): DatabaseHealth;
  /**
   * Opens every pool connection now, so the first burst of calls does not wait for connects
   * (pg opens them lazily). Returns the connections opened; refused ones are left closed.
   */
  warm(): Promise<number>;
  /** Stops the lag probes and closes every pool. */
  close(): Promise<void>;
}

/** What Database.health() reports. */
export interface DatabaseHealth {
  service: string;
  /** Retries allowed at once, and how many hold a slot now. */
  retryBudget: { capacity: number; inFlight: number };
  primary: { breaker: Target["breakerState"]; connections: Target["connections"] };
  /** Per replica, with the lag the router last measured and whether it may serve reads. */
  replicas: ({
    target: string;
    breaker: Target["breakerState"];
    connections: Target["connections"];
  } & ReturnType<ReadRouter["lagOf"]>)[];
}

/**
 * createDatabase(profile, options): what a service uses instead of a bare pg.Pool. Reads go to a
 * replica whose lag is within the service's tolerance and fail over to the primary; writes go to
 * the primary; every call retries what is safe to retry within the service's retry budget, behind
 * a breaker and a bulkhead per target, and may name a fallback for when the database is down.
 */
export function createDatabase(profile: ClientProfile, options: ResilienceOptions): Database {
  const db = wire(profile, options);
  return {
    events: db.events,
    metrics: db.metrics.registry,
    ready: () => db.router.ready(),
    ...queries(db),
    currentLsn: () => currentLsn(db),
    health: () => health(db),
    warm: () => warm(db),
    close: () => close(db),
  };
}

/** The targets (primary, one per replica), the router between them, the budget and metrics. */
function wire(profile: ClientProfile, options: ResilienceOptions): Wiring {
  const o = resolveOptions(profile, options);
  const service = profile.service;
  const events = new TypedEvents();
  const metrics = createMetrics(options.registry);
  const budget = new RetryBudget(o.retryBudget);
  const primary = new Target("primary", profile.rw, o, service, metrics, events);
  // One target per replica (its own PgBouncer entry): a dead one fails alone, the router moves on.
  const replicas = profile.replicas.map(
    (endpoint) => new Target(endpoint.database, endpoint, o, service, metrics, events),
  );
  const router = new ReadRouter(primary, replicas, o, service, metrics, events);
  for (const operation of ["read", "write", "transaction"])
    metrics.fallbacks.inc({ service, operation }, 0);
  return { options: o, service, events, metrics, budget, primary, replicas, router };
}

/** The calls that run SQL. */
function queries(db: Wiring): Pick<Database, "read" | "write" | "transaction"> {
  const { primary, router } = db;
  return {
    read<R extends pg.QueryResultRow = pg.QueryResultRow>(
      sql: string,
      params?: unknown[],
      opts: ReadOptions<pg.QueryResult<R>> = {},
    ) {
      return call(
        db,
        "read",
        { idempotent: true, transaction: false },
        (n, tried) => router.choose("read", n, tried),
        async (runners, client, target) => {
          let result: pg.QueryResult<R>;
          if (opts.minLsn && target !== primary) {
            result = await readReplayed<R>(runners, client, opts.minLsn, sql, params);
          } else {
            result = await runners.run<R>(sql, params);
          }
          target.recordRead();
          return result;
        },
        opts.fallback,
      );
    },

    write<R extends pg.QueryResultRow = pg.QueryResultRow>(
      sql: string,
      params?: unknown[],
      opts: WriteOptions<pg.QueryResult<R>> = {},
    ) {
      const resolvesOutcome = opts.resolveOutcome ?? true;
      return call(
        db,
        "write",
        { idempotent: opts.idempotent ?? false, transaction: false, resolvesOutcome },
        () => primary,
        ({ run, runWithXid }) =>
          resolvesOutcome ? runWithXid<R>(sql, params) : run<R>(sql, params),
        opts.fallback,
      );
    },

    transaction<T>(fn: (query: StatementRunner) => Promise<T>, opts: TransactionOptions<T> = {}) {
      // A read-only transaction changes nothing: no outcome to learn.
      const resolvesOutcome = !opts.readOnly && (opts.resolveOutcome ?? true);
      return call(
        db,
        "transaction",
        { idempotent: opts.idempotent ?? false, transaction: true, resolvesOutcome },
        (n, tried) => (opts.readOnly ? router.choose("transaction", n, tried) : primary),
        (runners, client) =>
          resolvesOutcome
            ? inWriteTransaction(runners, client, begin(opts), fn)
            : inTransaction(runners, client, begin(opts), fn),
        opts.fallback,
      );
    },
  };
}

async function currentLsn(db: Wiring): Promise<string> {
  const r = await call(
    db,
    "lsn",
    { idempotent: true, transaction: false },
    () => db.primary,
    ({ run }) => run<{ lsn: string }>("SELECT pg_current_wal_lsn()::text AS lsn"),
  );
  return r.rows[0]!.lsn;
}

/**
 * Read-your-writes on a replica: check, in the same transaction, that it has replayed the
 * caller's last commit; if not, this attempt fails over to the primary.
 */
function readReplayed<R extends pg.QueryResultRow>(
  runners: Runners,
  client: pg.PoolClient,
  minLsn: string,
  sql: string,
  params?: unknown[],
): Promise<pg.QueryResult<R>> {
  return inTransaction(runners, client, "BEGIN READ ONLY", async (run) => {
    const replayed = await run<{ ok: boolean }>(
      "SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS ok",
      [minLsn],
    );
    if (!replayed.rows[0]?.ok)
      throw Object.assign(new Error("replica has not replayed the caller's last write"), {
        code: "25006",
      });
    return run<R>(sql, params);
  });
}

const begin = (o: TransactionOptions<unknown>) =>
  `BEGIN ISOLATION LEVEL ${(o.isolation ?? "read committed").toUpperCase()}${o.readOnly ? " READ ONLY" : ""}`;

function health({ service, budget, primary, replicas, router }: Wiring): DatabaseHealth {
  return {
    service,
    retryBudget: { capacity: budget.capacity, inFlight: budget.used },
    primary: { breaker: primary.breakerState, connections: primary.connections },
    replicas: replicas.map((r) => ({
      target: r.name,
      breaker: r.breakerState,
      connections: r.connections,
      ...router.lagOf(r),
    })),
  };
}

async function warm({ primary, replicas }: Wiring): Promise<number> {
  const opened = await Promise.all([primary, ...replicas].map((t) => t.warm()));
  return opened.reduce((a, b) => a + b, 0);
}

async function close({ primary, replicas, router }: Wiring): Promise<void> {
  router.stop();
  await Promise.all([primary, ...replicas].map((t) => t.close()));
}
