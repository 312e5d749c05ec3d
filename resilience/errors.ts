import { isBrokenCircuitError, isBulkheadRejectedError } from "cockatiel";
import type { Classification } from "./classify.js";

/**
 * Errors the library itself raises, branded so callers can tell them apart without instanceof
 * across package copies (cockatiel's style): `isQueryTimeoutError(e)`, …
 */
const BRAND = Symbol.for("pg-pooling.resilience.error");

abstract class ResilienceError extends Error {
  readonly [BRAND]: string;
  constructor(kind: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = kind;
    this[BRAND] = kind;
  }
}

/** The statement ran past its timeout and was cancelled on the server. */
export class QueryTimeoutError extends ResilienceError {
  constructor(
    readonly target: string,
    readonly timeoutMs: number,
    cause?: unknown,
  ) {
    super(
      "QueryTimeoutError",
      `${target}: statement cancelled after ${timeoutMs} ms (statement timeout)`,
      { cause },
    );
  }
}

/** Every connection of a target is busy and its wait queue is full. */
export class PoolExhaustedError extends ResilienceError {
  constructor(
    readonly target: string,
    readonly poolSize: number,
    readonly queueSize: number,
    cause?: unknown,
  ) {
    super(
      "PoolExhaustedError",
      `${target}: all ${poolSize} connections busy and ${queueSize} callers already waiting; call rejected (bulkhead)`,
      { cause },
    );
  }
}

/**
 * TLS to PgBouncer failed: its certificate did not verify against the profile's CA (wrong CA,
 * expired, another name), or one side offers no TLS. Retrying cannot help: it is configuration.
 */
export class TlsError extends ResilienceError {
  readonly code: string | undefined;
  constructor(
    readonly target: string,
    readonly caFile: string | undefined,
    cause: unknown,
  ) {
    const why = (cause as Error)?.message ?? String(cause);
    super(
      "TlsError",
      `${target}: TLS to PgBouncer failed${caFile ? ` (verified against ${caFile})` : ""}: ${why}`,
      { cause },
    );
    this.code = (cause as { code?: string })?.code;
  }
}

/**
 * The connection died before the write committed, and the library knows it did not: the work ran
 * in a transaction whose COMMIT was never sent, or pg_xact_status() on the primary said aborted.
 * Safe to run again.
 */
export class NotCommittedError extends ResilienceError {
  constructor(
    readonly why: string,
    cause: unknown,
  ) {
    super("NotCommittedError", `not committed (${why}): ${(cause as Error)?.message ?? cause}`, {
      cause,
    });
  }
}

/**
 * The primary says the write committed, but its result never reached the library (the connection
 * died between the commit and the reply). Not retried and no fallback: either would apply it twice.
 */
export class CommittedResultLostError extends ResilienceError {
  constructor(cause: unknown) {
    super(
      "CommittedResultLostError",
      `committed, but its result was lost with the connection: ${(cause as Error)?.message ?? cause}`,
      { cause },
    );
  }
}

/** The call failed after its retries (or was not retryable); `classification` says why. */
export class DatabaseCallError extends ResilienceError {
  constructor(
    readonly operation: string,
    readonly target: string,
    readonly attempts: number,
    readonly classification: Classification,
    cause: unknown,
  ) {
    super(
      "DatabaseCallError",
      `${operation} on ${target} failed after ${attempts} attempt${attempts === 1 ? "" : "s"} ` +
        `(${classification.class}: ${classification.reason}): ${(cause as Error)?.message ?? String(cause)}`,
      { cause },
    );
  }
}

const is =
  (kind: string) =>
  (e: unknown): boolean =>
    typeof e === "object" && e !== null && (e as Record<symbol, unknown>)[BRAND] === kind;

export const isQueryTimeoutError = is("QueryTimeoutError") as (
  e: unknown,
) => e is QueryTimeoutError;
export const isPoolExhaustedError = is("PoolExhaustedError") as (
  e: unknown,
) => e is PoolExhaustedError;
export const isNotCommittedError = is("NotCommittedError") as (
  e: unknown,
) => e is NotCommittedError;
export const isCommittedResultLostError = is("CommittedResultLostError") as (
  e: unknown,
) => e is CommittedResultLostError;
export const isTlsError = is("TlsError") as (e: unknown) => e is TlsError;
export const isDatabaseCallError = is("DatabaseCallError") as (
  e: unknown,
) => e is DatabaseCallError;
export { isBrokenCircuitError, isBulkheadRejectedError };
