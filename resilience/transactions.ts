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
import type { StatementRunner } from "./target.js";
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

/** A lost connection, as opposed to an answer from the server (a timeout is an answer too). */
function connectionLost(error: unknown): boolean {
  return !(error instanceof QueryTimeoutError) && classifyAny(error).class === "outcome-unknown";
}

export async function inTransaction<T>(
  run: StatementRunner,
  client: pg.PoolClient,
  statement: string,
  body: () => Promise<T>,
): Promise<T> {
  await run(statement);
  try {
    const result = await body();
    await run("COMMIT");
    return result;
  } catch (e) {
    await client.query("ROLLBACK").catch(() => {});
    throw e;
  }
}

/**
 * A write transaction whose id is known: read with BEGIN in the same round trip (a simple-protocol
 * query of two statements, so it costs nothing extra). A connection lost before COMMIT is
 * "not committed"; one lost during COMMIT carries the xid and the body's result.
 */
export async function inWriteTransaction<T>(
  run: StatementRunner,
  client: pg.PoolClient,
  begin: string,
  body: () => Promise<T>,
): Promise<T> {
  let tx: TxRef | undefined;
  try {
    const results = (await run(`${begin}; ${XID_SQL}`)) as unknown;
    tx = (results as pg.QueryResult<TxRef>[])[1]?.rows[0];
  } catch (e) {
    throw connectionLost(e) ? new NotCommittedError(`${classifyAny(e).reason} at BEGIN`, e) : e;
  }
  let result: T;
  try {
    result = await body();
  } catch (e) {
    await client.query("ROLLBACK").catch(() => {});
    throw connectionLost(e)
      ? new NotCommittedError(`${classifyAny(e).reason} before COMMIT`, e)
      : e;
  }
  try {
    await run("COMMIT");
  } catch (e) {
    throw tagXid(e, tx, { value: result });
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
