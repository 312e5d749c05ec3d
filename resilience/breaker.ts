import type { CircuitState, IBreaker } from "cockatiel";

/**
 * When a target counts as dead: `consecutive` failures in a row AND at least `rate` of the calls
 * in the last `windowMs` failed. Either alone misleads. Consecutive-only opens on a burst: an ro
 * entry spans replicas, and when one replica dies, the few statements that were on it fail at
 * the same moment while the others keep answering hundreds per second. Rate-only needs traffic,
 * so a quiet service would never notice its primary is gone.
 */
export class DeadTargetBreaker implements IBreaker {
  private consecutive = 0;
  private events: { atMs: number; failed: boolean }[] = [];

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
    const failed = this.events.filter((e) => e.failed).length;
    return (
      this.consecutive >= this.options.consecutive &&
      failed / this.events.length >= this.options.rate
    );
  }

  private record(failed: boolean): void {
    const now = this.now();
    this.events.push({ atMs: now, failed });
    const from = now - this.options.windowMs;
    if (this.events[0]!.atMs < from) this.events = this.events.filter((e) => e.atMs >= from);
  }
}
