import { isBrokenCircuitError } from "cockatiel";
import type pg from "pg";
import { classifyError, type Classification } from "./classify.js";
import {
  CommittedResultLostError,
  isCommittedResultLostError,
  isNotCommittedError,
  isPoolExhaustedError,
  NotCommittedError,
  QueryTimeoutError,
} from "./errors.js";
import {
  partialResultOf,
  resolveOutcome,
  tagXid,
  txOf,
  wasUnsent,
  XID_SQL,
  type Outcome,
  type TxRef,
} from "./outcome.js";
import type { Runners, StatementRunner } from "./statements.js";
import { phaseOf } from "./wire.js";

/**
 * Transactions as the library runs them, and what a lost connection means for each part:
 * before COMMIT was sent nothing can have committed (the server rolls back a transaction whose
 * client is gone), so the work may run again; during COMMIT, or during an autocommit statement,
 * the transaction id decides (resilience/outcome.ts).
 */

/** Errors that mean "unavailable", as opposed to "your SQL is wrong": fallbacks apply to these. */
export function classifyAny(error: unknown): Classification {
  if (isBrokenCircuitError(error)) return { class: "retry-safe", reason: "breaker-open" };
  if (isPoolExhaustedError(error)) return { class: "retry-safe", reason: "pool-exhausted" };
  if (error instanceof QueryTimeoutError)
    return { class: "outcome-unknown", reason: "statement-timeout" };
  if (isNotCommittedError(error)) return { class: "retry-safe", reason: error.why };
  if (isCommittedResultLostError(error))
    return { class: "permanent", reason: "committed-result-lost" };
  return classifyError(error, phaseOf(error));
}

/**
 * A server that was being stopped (57P01, a switchover's clean stop) ended the transaction before
 * its COMMIT: nothing committed, and the next pooled connection may lead to the same departing
 * server (a session pool's keep theirs through PgBouncer's pause), so, like a pooler's goodbye,
 * the retry costs no attempt (up to one per pooled connection).
 */
export function stoppedBeforeCommit(error: unknown): boolean {
  return isNotCommittedError(error) && classifyAny(error.cause).reason === "admin-shutdown";
}

/** A lost connection, as opposed to an answer from the server (a timeout is an answer too). */
function connectionLost(error: unknown): boolean {
  return !(error instanceof QueryTimeoutError) && classifyAny(error).class === "outcome-unknown";
}

/**
 * The runner a transaction's body gets. Its first statement carries BEGIN (and, for a write, the
 * xid query) in the same round trip, as pgjdbc sends it: a transaction costs one round trip less
 * than BEGIN sent alone, and under transaction pooling its server connection is held one client
 * turnaround less. A statement that comes while the first is in flight (a Promise.all) waits for
 * it: nothing is sent before BEGIN has run, so nothing can run outside the transaction.
 */
class Opening {
  /** The first statement, with BEGIN in front; undefined until the body runs one. */
  private first?: Promise<pg.QueryResult[]>;
  private open = false;
  /** The transaction's xid and timeline, once the first statement's results are in. */
  tx?: TxRef;

  /**
   * The runner the body gets, bound once here: under tsx, a class field's arrow would also cost a
   * name definition per transaction.
   */
  readonly run: StatementRunner;

  constructor(
    private readonly runners: Runners,
    private readonly prefix: readonly string[],
  ) {
    this.run = (sql, params) => this.statement(sql, params);
  }

  /** Whether BEGIN went out: only then is there a transaction to commit or roll back. */
  get sent(): boolean {
    return this.first !== undefined;
  }

  private statement<R extends pg.QueryResultRow>(
    sql: string,
    params?: unknown[],
  ): Promise<pg.QueryResult<R>> {
    if (this.open) return this.runners.run<R>(sql, params);
    if (this.first) return this.first.then(() => this.runners.run<R>(sql, params));
    this.first = this.runners.runBehind(this.prefix, sql, params);
    return this.first.then((results) => {
      this.open = true;
      this.tx = this.prefix[1] === XID_SQL ? (results[1]?.rows[0] as TxRef) : undefined;
      // the caller's own result; a simple-protocol text of several statements gets them all
      const own = results.slice(this.prefix.length);
      return (own.length === 1 ? own[0] : own) as pg.QueryResult<R>;
    });
  }
}

export async function inTransaction<T>(
  runners: Runners,
  client: pg.PoolClient,
  begin: string,
  body: (run: StatementRunner) => Promise<T>,
): Promise<T> {
  const opening = new Opening(runners, [begin]);
  try {
    const result = await body(opening.run);
    if (opening.sent) await runners.run("COMMIT");
    return result;
  } catch (e) {
    if (opening.sent) await client.query("ROLLBACK").catch(() => {});
    throw e;
  }
}

/**
 * A write transaction whose id is known: read with BEGIN, in front of the first statement, so it
 * costs nothing extra. A connection lost before COMMIT is "not committed" (BEGIN opened an
 * explicit transaction, which the server rolls back when its client is gone); one lost during
 * COMMIT carries the xid and the body's result.
 */
export async function inWriteTransaction<T>(
  runners: Runners,
  client: pg.PoolClient,
  begin: string,
  body: (run: StatementRunner) => Promise<T>,
): Promise<T> {
  const opening = new Opening(runners, [begin, XID_SQL]);
  let result: T;
  try {
    result = await body(opening.run);
  } catch (e) {
    if (opening.sent) await client.query("ROLLBACK").catch(() => {});
    throw connectionLost(e)
      ? new NotCommittedError(`${classifyAny(e).reason} before COMMIT`, e)
      : e;
  }
  if (!opening.sent) return result; // the body ran no statement: nothing to commit
  try {
    await runners.run("COMMIT");
  } catch (e) {
    throw tagXid(e, opening.tx, { value: result });
  }
  return result;
}

export interface Resolution {
  outcome: Outcome;
  /** Present when the write committed and its result had arrived. */
  value?: { value: unknown };
  /** Why it is known not to have committed, when not from pg_xact_status. */
  why?: string;
}

/**
 * After a failed write attempt: undefined when there is nothing to resolve (an answer, not a lost
 * connection, or no xid learnt); else what the primary says, with `query` running the check.
 */
export async function resolveFailedWrite(
  error: unknown,
  check: Parameters<typeof resolveOutcome>[1],
): Promise<Resolution | undefined> {
  if (!connectionLost(error)) return undefined;
  if (wasUnsent(error))
    return { outcome: "not-committed", why: "connection lost before the statement was sent" };
  const tx = txOf(error);
  if (!tx) return undefined;
  const outcome = await resolveOutcome(tx, check);
  return { outcome, value: partialResultOf(error) };
}

/** The error a resolution turns the attempt's failure into (undefined: it succeeded). */
export function resolvedError(error: unknown, r: Resolution): unknown {
  if (r.outcome === "not-committed")
    return new NotCommittedError(r.why ?? "pg_xact_status aborted", error);
  if (r.outcome === "committed" && !r.value) return new CommittedResultLostError(error);
  return r.outcome === "unknown" ? error : undefined;
}
