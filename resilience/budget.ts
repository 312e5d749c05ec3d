/**
 * The service's retry budget: retries in flight at once, across all calls of this instance. A retry
 * that finds the budget spent fails at once instead of piling onto a struggling database; the
 * plan caps the budget at the reserve pool the fleet keeps for the service.
 */
export class RetryBudget {
  private inFlight = 0;

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

  release(): void {
    if (this.inFlight > 0) this.inFlight--;
  }

  get used(): number {
    return this.inFlight;
  }
}
