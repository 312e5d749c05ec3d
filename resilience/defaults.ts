/**
 * The library's own defaults, in one place: what a service gets for every option it does not pass
 * (resilience/options.ts). What must agree with PgBouncer (pool sizes, connect and statement
 * timeouts, the retry budget, lag tolerance) is not here: it comes from the plan, in the profile.
 */
export const DEFAULTS = {
  retry: {
    /** First backoff delay; later ones grow exponentially with decorrelated jitter. */
    initialDelayMs: 25,
    /** The longest backoff. */
    maxDelayMs: 1000,
  },
  breaker: {
    /** Consecutive failures that open a target's breaker… */
    consecutiveFailures: 5,
    /** …when also at least this share of the calls in the window failed. */
    failureRate: 0.5,
    /** The window that share is measured over. */
    failureWindowMs: 2000,
    /**
     * How long an open breaker waits before letting probes through; a call it turned away on the
     * primary retries then. With PgBouncer's server_login_retry of 0.5 s, a returning node is
     * found within about a second.
     */
    halfOpenAfterMs: 500,
    /** Successful probes needed, while half-open, to close again. */
    halfOpenProbes: 3,
  },
  /**
   * How long a write whose connection died may wait for the primary to say whether it committed:
   * the primary may be restarting or failing over (writes are back within about 5 s of a kill).
   */
  outcomeCheckMs: 5000,
} as const;
