/** What `npm run loadtest` and `npm run drill` use when a flag is not given. */
export const LOADTEST_DEFAULTS = {
  duration: "30s",
  /**
   * Share of the plan's per-client peak rate. The plan's peaks (5710 tx/s for the local stack) are
   * the cloud's; on a 2-core machine shared by Postgres, both PgBouncers and the harness, 0.2 keeps
   * the run below saturation with 1000–2000 clients, so latency reflects pooling, not a full CPU.
   */
  rate: 0.2,
  /** Worker threads driving the instances: one per core of this machine. */
  workers: 2,
} as const;
