import { ExponentialBackoff, type IBackoff } from "cockatiel";
import type { RetryBudget } from "./budget.js";
import type { Classification } from "./classify.js";

/**
 * The retry loop: attempts with exponential backoff and decorrelated jitter (cockatiel's
 * generator), a cap on attempts, and the service-wide retry budget. A retry takes a budget slot
 * before it waits and gives it back when its attempt ends, so a database in trouble sees at most
 * `budget.capacity` retries at once from this instance, however many callers fail.
 */
export interface RetryLoop<T> {
  maxAttempts: number;
  initialDelayMs: number;
  maxDelayMs: number;
  budget: RetryBudget;
  /** Attempt number n (0 = first). */
  attempt: (n: number) => Promise<T>;
  /**
   * Whether this failure may be retried, and why it failed. `unbudgeted`: the retry adds no load
   * to the database the budget protects, so it takes no slot (it still counts as an attempt and
   * waits its backoff): it goes to another target, or the failed attempt never reached the
   * database, or it replaces work a cut connection lost.
   */
  decide: (
    error: unknown,
    n: number,
  ) => {
    retry: boolean;
    classification: Classification;
    unbudgeted?: boolean;
    free?: boolean;
    /** The retry waits at least this long, whatever the backoff says (an open breaker). */
    minDelayMs?: number;
  };
  /**
   * Retries that cost neither an attempt nor a budget slot nor a wait, for a call turned away by
   * a pooler process that is going away before anything reached the database (`free`): the next
   * attempt takes another connection, which may be one more to the same departing process.
   * @default 0
   */
  maxFreeRetries?: number;
  onRetry?: (info: { attempt: number; delayMs: number; classification: Classification }) => void;
  sleep?: (ms: number) => Promise<void>;
}

/** Thrown when the loop stops: the last error, how many attempts ran, and why it stopped. */
export class RetriesExhausted extends Error {
  constructor(
    readonly lastError: unknown,
    readonly attempts: number,
    readonly classification: Classification,
    readonly budgetSpent: boolean,
  ) {
    super(`gave up after ${attempts} attempts`, { cause: lastError });
  }
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * The first attempt runs alone, outside the loop: most calls succeed at once, and the loop's
 * async frame would cost each of them a promise and a microtask turn.
 */
export function withRetries<T>(loop: RetryLoop<T>): Promise<T> {
  let first: Promise<T>;
  try {
    first = loop.attempt(0);
  } catch (e) {
    first = Promise.reject(e); // an attempt that throws before it has a promise fails the same way
  }
  return first.then(undefined, (error: unknown) => retryAfter(loop, error));
}

/** The loop from the first attempt's failure on. */
async function retryAfter<T>(loop: RetryLoop<T>, firstError: unknown): Promise<T> {
  const sleep = loop.sleep ?? defaultSleep;
  let backoff: IBackoff<unknown> | undefined;
  let holdsSlot = false;
  let free = 0;
  let first = true; // attempt 0 has run: its failure is firstError
  for (let n = 0; ; n++) {
    let error: unknown = firstError;
    if (!first) {
      try {
        return await loop.attempt(n);
      } catch (e) {
        error = e;
      } finally {
        if (holdsSlot) loop.budget.release(); // a retry holds its slot through its wait and attempt
        holdsSlot = false;
      }
    }
    first = false;
    const {
      retry,
      classification,
      unbudgeted = false,
      free: isFree = false,
      minDelayMs = 0,
    } = loop.decide(error, n);
    if (retry && isFree && free < (loop.maxFreeRetries ?? 0)) {
      free++;
      n--; // not an attempt
      continue;
    }
    if (!retry || n + 1 >= loop.maxAttempts) {
      throw new RetriesExhausted(error, n + 1, classification, false);
    }
    if (!unbudgeted) {
      if (!(await loop.budget.acquire(loop.maxDelayMs)))
        throw new RetriesExhausted(error, n + 1, classification, true);
      holdsSlot = true;
    }
    // Built on the first retry only: most calls never need it.
    backoff = backoff
      ? backoff.next(undefined)
      : new ExponentialBackoff({
          initialDelay: loop.initialDelayMs,
          maxDelay: loop.maxDelayMs,
        }).next();
    const delayMs = Math.max(backoff.duration, minDelayMs);
    loop.onRetry?.({ attempt: n + 1, delayMs, classification });
    await sleep(delayMs);
  }
}
