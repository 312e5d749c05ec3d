/**
 * The service's retry budget: retries in flight at once, across all calls of this instance. A retry
 * that finds the budget spent waits a little for a slot (at most the longest backoff), then fails
 * instead of piling onto a struggling database: however many calls fail at once (a PgBouncer host
 * lost cuts half the connections), no more than `capacity` retries run at a time, and a burst is
 * worked off rather than turned into errors. The plan caps the budget at the reserve pool the
 * fleet keeps for the service.
 */
export class RetryBudget {
  private inFlight = 0;
  private readonly waiters: Array<(got: boolean) => void> = [];

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new Error(`retry budget capacity must be an integer ≥ 1, got ${capacity}`);
    }
  }

  /** Take a slot for one retry; false when the budget is spent. */
  tryAcquire(): boolean {
    if (this.inFlight >= this.capacity) return false;
    this.inFlight++;
    return true;
  }

  /** Take a slot, waiting up to `timeoutMs` for one; false when none came free in time. */
  acquire(timeoutMs: number): Promise<boolean> {
    if (this.tryAcquire()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const waiter = (got: boolean) => {
        clearTimeout(timer);
        resolve(got);
      };
      const timer = setTimeout(() => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        resolve(false);
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  release(): void {
    const next = this.waiters.shift();
    if (next)
      next(true); // the slot passes straight to the longest waiter
    else if (this.inFlight > 0) this.inFlight--;
  }

  get used(): number {
    return this.inFlight;
  }
}
