import type { RetryBudget } from "./budget.js";
import { isRetryable, type Classification } from "./classify.js";
import { DatabaseCallError, isCommittedResultLostError, isNotCommittedError } from "./errors.js";
import type { TypedEvents } from "./events.js";
import type { Metrics } from "./metrics.js";
import type { ResolvedOptions } from "./options.js";
import type { ReadRouter } from "./router.js";
import { withRetries, type RetriesExhausted, type RetryLoop } from "./retry.js";
import { GOODBYES, type Target, type Work } from "./target.js";
import { phaseOf } from "./wire.js";
import {
  classifyAny,
  resolvedError,
  resolveFailedWrite,
  stoppedBeforeCommit,
  type Resolution,
} from "./transactions.js";

/** What one database is made of, built once by createDatabase and shared by every call. */
export interface Wiring {
  options: ResolvedOptions;
  service: string;
  events: TypedEvents;
  metrics: Metrics;
  budget: RetryBudget;
  primary: Target;
  /** One target per replica (its own PgBouncer entry): a dead one fails alone. */
  replicas: Target[];
  router: ReadRouter;
}

/** What kind of work a call is: what may be retried, and whether a lost write is looked up. */
export interface CallKind {
  idempotent: boolean;
  transaction: boolean;
  resolvesOutcome?: boolean;
}

/**
 * One call: attempts on the targets `choose` picks, retried within the service's retry budget
 * while the failure is safe to retry; when it still fails, the fallback (if any) answers for an
 * unavailable database.
 */
export function call<T>(
  db: Wiring,
  operation: string,
  kind: CallKind,
  choose: (n: number, tried: ReadonlySet<Target>) => Target,
  work: Work<T>,
  fallback?: (error: DatabaseCallError) => T | Promise<T>,
): Promise<T> {
  const attempts = new Attempts(db, operation, kind, choose, work);
  return withRetries(attempts).then(undefined, (e: unknown) =>
    callFailed(db, operation, attempts.target, e, fallback),
  );
}

/**
 * A call's retry loop: which target each attempt goes to, what a failure means for the next one.
 * One object per call whose methods the loop calls: the hot path (one attempt that works) makes
 * no closure of its own but the attempt's promise handlers.
 */
class Attempts<T> implements RetryLoop<T> {
  readonly maxAttempts: number;
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  readonly budget: RetryBudget;
  /** Every pooled connection may lead to the same departing process: one free retry each. */
  readonly maxFreeRetries: number;
  /** The target of the latest attempt. */
  target: Target;
  /**
   * A replica refused a write (25006): the statement belongs on the primary, not on another
   * replica, which would refuse it too.
   */
  private toPrimary = false;
  private readonly tried = new Set<Target>();

  constructor(
    private readonly db: Wiring,
    private readonly operation: string,
    private readonly kind: CallKind,
    private readonly choose: (n: number, tried: ReadonlySet<Target>) => Target,
    private readonly work: Work<T>,
  ) {
    this.maxAttempts = db.options.maxAttempts;
    this.initialDelayMs = db.options.initialDelayMs;
    this.maxDelayMs = db.options.maxDelayMs;
    this.budget = db.budget;
    this.target = db.primary;
    this.maxFreeRetries = db.primary.endpoint.poolMax + 1;
  }

  /** Promise handlers on the hot path (one attempt that works), async only for a failure. */
  attempt(n: number): Promise<T> {
    const t = (this.target = this.toPrimary ? this.db.primary : this.choose(n, this.tried));
    this.tried.add(t);
    return t.attempt(this.work).then(
      (result) => {
        t.recordAttempt("ok");
        return result;
      },
      (e: unknown) => attemptFailed<T>(this.db, this.operation, this.kind, t, e),
    );
  }

  decide(error: unknown): ReturnType<RetryLoop<T>["decide"]> {
    const { db, target } = this;
    const classification = classifyAny(error);
    if (classification.reroute === "primary" && target !== db.primary) {
      this.toPrimary = true;
      db.events.emit("route", {
        operation: this.operation,
        target: db.primary.name,
        reason: classification.reason,
      });
    }
    return retryDecision(db, this.kind, target, error, classification);
  }

  onRetry({
    attempt,
    delayMs,
    classification,
  }: Parameters<NonNullable<RetryLoop<T>["onRetry"]>>[0]) {
    const { db } = this;
    db.metrics.retries.inc({
      service: db.service,
      class: classification.class,
      reason: classification.reason,
    });
    db.events.emit("retry", {
      operation: this.operation,
      target: this.target.name,
      attempt,
      delayMs,
      reason: classification.reason,
    });
  }
}

/**
 * A failed attempt, recorded; a write whose connection died is looked up on the primary first,
 * and one that committed with its result in hand is the attempt's answer.
 */
async function attemptFailed<T>(
  db: Wiring,
  operation: string,
  kind: CallKind,
  t: Target,
  e: unknown,
): Promise<T> {
  let error = e;
  const resolution = kind.resolvesOutcome ? await resolve(db, operation, error) : undefined;
  if (resolution) {
    t.recordAttempt(`resolved-${resolution.outcome}`);
    error = resolvedError(error, resolution);
    if (error === undefined) return resolution.value!.value as T;
  } else {
    t.recordAttempt(classifyAny(error).class);
  }
  throw error;
}

/** Whether a failed attempt on `target` is retried, how soon, and what the retry costs. */
function retryDecision(
  db: Wiring,
  kind: CallKind,
  target: Target,
  error: unknown,
  classification: Classification,
): ReturnType<RetryLoop<unknown>["decide"]> {
  // Load shedding and statement timeouts are answers, not accidents: retrying them adds
  // load. Except a replica's full bulkhead: its callers are stuck on that replica (it
  // died under them), and another replica or the primary can answer.
  const shed =
    (classification.reason === "pool-exhausted" && target === db.primary) ||
    classification.reason === "statement-timeout";
  // Committed, but its result was lost with the connection: work that is safe to apply
  // twice runs again for a result, rather than failing a call whose write is in.
  const rerunForResult = kind.idempotent && isCommittedResultLostError(error);
  const breakerOpen = classification.reason === "breaker-open";
  return {
    // An open breaker is retried too: the attempt never reaches the database (no storm).
    // On a replica the router picks another target at once; on the primary the retry
    // waits until the breaker lets probes through (a shorter backoff would spend the
    // attempts against the open breaker), so the first retries there are its probes, and
    // the calls behind them wait in cockatiel for the probes' verdict.
    retry: !shed && (isRetryable(classification, kind) || rerunForResult),
    minDelayMs: breakerOpen && target === db.primary ? target.msUntilHalfOpen + 1 : 0,
    classification,
    // The budget bounds the load retries add to the database. None is added by a retry
    // that goes to another target (after a replica attempt the router picks another,
    // never the same one), by one whose failed attempt never reached the database
    // (refused or cut at connect, an open breaker: a PgBouncer process going away), or
    // by one replacing work a cut connection lost (a host lost cuts half of them at once).
    unbudgeted:
      target !== db.primary ||
      isNotCommittedError(error) ||
      rerunForResult ||
      phaseOf(error) === "connect" ||
      breakerOpen,
    free: GOODBYES.has(classification.reason) || stoppedBeforeCommit(error),
  };
}

/** The call's failure once retries stop: the fallback's answer, or a DatabaseCallError. */
function callFailed<T>(
  db: Wiring,
  operation: string,
  target: Target,
  e: unknown,
  fallback?: (error: DatabaseCallError) => T | Promise<T>,
): T | Promise<T> {
  const stop = e as RetriesExhausted;
  const classification = stop.budgetSpent
    ? { ...stop.classification, reason: `${stop.classification.reason}, retry budget spent` }
    : stop.classification;
  const error = new DatabaseCallError(
    operation,
    `${db.service}/${target.name}`,
    stop.attempts,
    classification,
    stop.lastError,
  );
  if (fallback && classification.class !== "permanent") {
    db.metrics.fallbacks.inc({ service: db.service, operation });
    db.events.emit("fallback", { operation, reason: classification.reason });
    return fallback(error);
  }
  throw error;
}

/** A failed write whose connection died: what the primary says became of it. */
async function resolve(
  db: Wiring,
  operation: string,
  error: unknown,
): Promise<Resolution | undefined> {
  const r = await resolveFailedWrite(error, {
    query: (sql, params) => db.primary.attempt(({ run }) => run(sql, params)),
    deadlineMs: db.options.outcomeCheckMs,
  });
  if (r) db.events.emit("outcome", { operation, outcome: r.outcome });
  return r;
}
