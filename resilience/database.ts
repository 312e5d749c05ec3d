import type pg from "pg";
import type { ClientProfile } from "../platform/profiles.js";
import { RetryBudget } from "./budget.js";
import { isRetryable } from "./classify.js";
import { DatabaseCallError, isCommittedResultLostError, isNotCommittedError } from "./errors.js";
import { TypedEvents } from "./events.js";
import { createMetrics } from "./metrics.js";
import { resolveOptions, type ResilienceOptions } from "./options.js";
import { ReadRouter } from "./router.js";
import { RetriesExhausted, withRetries } from "./retry.js";
import { GOODBYES, Target, type Runners, type StatementRunner } from "./target.js";
import { phaseOf } from "./wire.js";
import {
  classifyAny,
  inTransaction,
  inWriteTransaction,
  resolvedError,
  resolveFailedWrite,
  type Resolution,
} from "./transactions.js";

/**
 * createDatabase(profile, options): what a service uses instead of a bare pg.Pool. Reads go to a
 * replica whose lag is within the service's tolerance and fail over to the primary; writes go to
 * the primary; every call retries what is safe to retry within the service's retry budget, behind
 * a breaker and a bulkhead per target, and may name a fallback for when the database is down.
 */
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

export type Database = ReturnType<typeof createDatabase>;

export function createDatabase(profile: ClientProfile, options: ResilienceOptions) {
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

  function call<T>(
    operation: string,
    kind: { idempotent: boolean; transaction: boolean; resolvesOutcome?: boolean },
    choose: (n: number, tried: ReadonlySet<Target>) => Target,
    work: (runners: Runners, client: pg.PoolClient, target: Target) => Promise<T>,
    fallback?: (error: DatabaseCallError) => T | Promise<T>,
  ): Promise<T> {
    let target = primary;
    // A replica refused a write (25006): the statement belongs on the primary, not on another
    // replica, which would refuse it too.
    let toPrimary = false;
    const tried = new Set<Target>();
    return withRetries({
      maxAttempts: o.maxAttempts,
      initialDelayMs: o.initialDelayMs,
      maxDelayMs: o.maxDelayMs,
      budget,
      // Every pooled connection may lead to the same departing process: one free retry each.
      maxFreeRetries: target.endpoint.poolMax + 1,
      // Promise handlers on the hot path (one attempt that works), async only for a failure.
      attempt: (n) => {
        const t = (target = toPrimary ? primary : choose(n, tried));
        tried.add(t);
        return t
          .attempt((runners, client) => work(runners, client, t))
          .then(
            (result) => {
              t.recordAttempt("ok");
              return result;
            },
            async (e: unknown) => {
              let error = e;
              const resolution = kind.resolvesOutcome ? await resolve(operation, error) : undefined;
              if (resolution) {
                t.recordAttempt(`resolved-${resolution.outcome}`);
                error = resolvedError(error, resolution);
                if (error === undefined) return resolution.value!.value as T;
              } else {
                t.recordAttempt(classifyAny(error).class);
              }
              throw error;
            },
          );
      },
      decide: (error) => {
        const classification = classifyAny(error);
        // Load shedding and statement timeouts are answers, not accidents: retrying them adds
        // load. Except a replica's full bulkhead: its callers are stuck on that replica (it
        // died under them), and another replica or the primary can answer.
        const shed =
          (classification.reason === "pool-exhausted" && target === primary) ||
          classification.reason === "statement-timeout";
        // Committed, but its result was lost with the connection: work that is safe to apply
        // twice runs again for a result, rather than failing a call whose write is in.
        const rerunForResult = kind.idempotent && isCommittedResultLostError(error);
        const breakerOpen = classification.reason === "breaker-open";
        if (classification.reroute === "primary" && target !== primary) {
          toPrimary = true;
          events.emit("route", {
            operation,
            target: primary.name,
            reason: classification.reason,
          });
        }
        return {
          // An open breaker is retried too: the attempt never reaches the database (no storm).
          // On a replica the router picks another target at once; on the primary the retry
          // after halfOpenAfter is the probe that closes it again, so it waits that long (a
          // shorter backoff would spend the attempts against the open breaker).
          retry: !shed && (isRetryable(classification, kind) || rerunForResult),
          minDelayMs: breakerOpen && target === primary ? o.halfOpenAfterMs : 0,
          classification,
          // The budget bounds the load retries add to the database. None is added by a retry
          // that goes to another target (after a replica attempt the router picks another,
          // never the same one), by one whose failed attempt never reached the database
          // (refused or cut at connect, an open breaker: a PgBouncer process going away), or
          // by one replacing work a cut connection lost (a host lost cuts half of them at once).
          unbudgeted:
            target !== primary ||
            isNotCommittedError(error) ||
            rerunForResult ||
            phaseOf(error) === "connect" ||
            breakerOpen,
          free: GOODBYES.has(classification.reason),
        };
      },
      onRetry: ({ attempt, delayMs, classification }) => {
        metrics.retries.inc({
          service,
          class: classification.class,
          reason: classification.reason,
        });
        events.emit("retry", {
          operation,
          target: target.name,
          attempt,
          delayMs,
          reason: classification.reason,
        });
      },
    }).then(undefined, (e: unknown) => {
      const stop = e as RetriesExhausted;
      const classification = stop.budgetSpent
        ? { ...stop.classification, reason: `${stop.classification.reason}, retry budget spent` }
        : stop.classification;
      const error = new DatabaseCallError(
        operation,
        `${service}/${target.name}`,
        stop.attempts,
        classification,
        stop.lastError,
      );
      if (fallback && classification.class !== "permanent") {
        metrics.fallbacks.inc({ service, operation });
        events.emit("fallback", { operation, reason: classification.reason });
        return fallback(error);
      }
      throw error;
    });
  }

  const begin = (o: TransactionOptions<unknown>) =>
    `BEGIN ISOLATION LEVEL ${(o.isolation ?? "read committed").toUpperCase()}${o.readOnly ? " READ ONLY" : ""}`;

  /** A failed write whose connection died: what the primary says became of it. */
  async function resolve(operation: string, error: unknown): Promise<Resolution | undefined> {
    const r = await resolveFailedWrite(error, {
      query: (sql, params) => primary.attempt(({ run }) => run(sql, params)),
      deadlineMs: o.outcomeCheckMs,
    });
    if (r) events.emit("outcome", { operation, outcome: r.outcome });
    return r;
  }

  return {
    events,
    /** prom-client registry holding this database's metrics. */
    metrics: metrics.registry,

    /** Resolves once replica lag has been measured, so reads can go to replicas. */
    ready: () => router.ready(),

    read<R extends pg.QueryResultRow = pg.QueryResultRow>(
      sql: string,
      params?: unknown[],
      opts: ReadOptions<pg.QueryResult<R>> = {},
    ) {
      return call(
        "read",
        { idempotent: true, transaction: false },
        (n, tried) => router.choose("read", n, tried),
        async (runners, client, target) => {
          let result: pg.QueryResult<R>;
          if (opts.minLsn && target !== primary) {
            // Read-your-writes on a replica: check, in the same transaction, that it has replayed
            // the caller's last commit; if not, this attempt fails over to the primary.
            result = await inTransaction(runners, client, "BEGIN READ ONLY", async (run) => {
              const replayed = await run<{ ok: boolean }>(
                "SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS ok",
                [opts.minLsn],
              );
              if (!replayed.rows[0]?.ok)
                throw Object.assign(new Error("replica has not replayed the caller's last write"), {
                  code: "25006",
                });
              return run<R>(sql, params);
            });
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

    /** The primary's current WAL position: pass it as `minLsn` to read your own writes. */
    async currentLsn(): Promise<string> {
      const r = await call(
        "lsn",
        { idempotent: true, transaction: false },
        () => primary,
        ({ run }) => run<{ lsn: string }>("SELECT pg_current_wal_lsn()::text AS lsn"),
      );
      return r.rows[0]!.lsn;
    },

    health() {
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
    },

    /**
     * Opens every pool connection now, so the first burst of calls does not wait for connects
     * (pg opens them lazily). Returns the connections opened; refused ones are left closed.
     */
    async warm(): Promise<number> {
      const opened = await Promise.all([primary, ...replicas].map((t) => t.warm()));
      return opened.reduce((a, b) => a + b, 0);
    },

    async close(): Promise<void> {
      router.stop();
      await Promise.all([primary, ...replicas].map((t) => t.close()));
    },
  };
}
