import { circuitBreaker, handleWhen, type CircuitState, type IBreaker } from "cockatiel";
import type { ResolvedOptions } from "./options.js";

/**
 * A target's breaker: opens on a dead target (DeadTargetBreaker), lets calls through again after
 * `halfOpenAfterMs`, and closes only after `halfOpenProbes` of them succeeded; any failing probe
 * opens it again.
 */
export function targetBreaker(
  o: Pick<
    ResolvedOptions,
    "consecutiveFailures" | "failureRate" | "failureWindowMs" | "halfOpenAfterMs" | "halfOpenProbes"
  >,
  isFailure: (error: unknown) => boolean,
) {
  return circuitBreaker(handleWhen(isFailure), {
    halfOpenAfter: o.halfOpenAfterMs,
    breaker: new DeadTargetBreaker({
      consecutive: o.consecutiveFailures,
      rate: o.failureRate,
      windowMs: o.failureWindowMs,
    }),
    halfOpenSampling: { calls: o.halfOpenProbes, threshold: 0 },
  });
}

/**
 * When a target counts as dead: `consecutive` failures in a row AND at least `rate` of the calls
 * in the last `windowMs` failed. Either alone misleads. Consecutive-only opens on a burst: an ro
 * entry spans replicas, and when one replica dies, the few statements that were on it fail at
 * the same moment while the others keep answering hundreds per second. Rate-only needs traffic,
 * so a quiet service would never notice its primary is gone.
 */
export class DeadTargetBreaker implements IBreaker {
  private consecutive = 0;
  /** Calls and failures per bucket of windowMs / BUCKETS: O(1) per call at any rate. */
  private readonly calls = new Array<number>(BUCKETS).fill(0);
  private readonly failures = new Array<number>(BUCKETS).fill(0);
  private bucket = 0;
  private bucketStartMs = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly options: { consecutive: number; rate: number; windowMs: number },
    private readonly now: () => number = Date.now,
  ) {}

  /** Serialisable state, as cockatiel's IBreaker asks. */
  get state(): unknown {
    return { consecutive: this.consecutive };
  }
  set state(value: unknown) {
    this.consecutive = (value as { consecutive?: number } | undefined)?.consecutive ?? 0;
  }

  success(_state: CircuitState): void {
    this.consecutive = 0;
    this.record(false);
  }

  failure(_state: CircuitState): boolean {
    this.consecutive++;
    this.record(true);
    if (this.consecutive < this.options.consecutive) return false;
    const calls = this.calls.reduce((a, b) => a + b, 0);
    const failed = this.failures.reduce((a, b) => a + b, 0);
    return failed / calls >= this.options.rate;
  }

  private record(failed: boolean): void {
    const now = this.now();
    const width = this.options.windowMs / BUCKETS;
    if (now - this.bucketStartMs >= width) {
      // move forward, clearing the buckets that fell out of the window
      const steps = Math.min(BUCKETS, Math.floor((now - this.bucketStartMs) / width));
      for (let i = 0; i < steps; i++) {
        this.bucket = (this.bucket + 1) % BUCKETS;
        this.calls[this.bucket] = 0;
        this.failures[this.bucket] = 0;
      }
      this.bucketStartMs = Number.isFinite(this.bucketStartMs)
        ? this.bucketStartMs + steps * width
        : now;
      if (now - this.bucketStartMs >= width) this.bucketStartMs = now;
    }
    this.calls[this.bucket]!++;
    if (failed) this.failures[this.bucket]!++;
  }
}

const BUCKETS = 10;
