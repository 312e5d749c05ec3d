import type { TypedEvents } from "./events.js";
import { LagEstimator, parseLsn } from "./lag.js";
import type { Metrics } from "./metrics.js";
import type { ResolvedOptions } from "./options.js";
import type { Target } from "./target.js";

/**
 * Where a read goes. A replica target is eligible while its breaker lets calls through and its
 * measured lag is within the service's tolerance; the first attempt takes an eligible replica, a
 * retry takes another one, and when none is left the primary. Replica → replica failover inside an
 * ro entry is PgBouncer's (the entry lists every replica); this adds the last step to the primary.
 */
const LAG_WINDOW = 4; // an ro entry spans replicas: judge it by the worst of its recent probes
/** Probes failing in a row before the target is ineligible; one failure is a replica restarting. */
const PROBE_FAILURES = 3;

interface ReplicaState {
  recent: number[];
  failedProbes: number;
  lagSeconds?: number;
}

export class ReadRouter {
  private readonly estimator = new LagEstimator();
  private readonly state = new Map<Target, ReplicaState>();
  private readonly timer?: NodeJS.Timeout;
  private probing = false;
  private next = 0;
  private readonly settled: Promise<void>;
  private settle: () => void = () => {};

  constructor(
    private readonly primary: Target,
    private readonly replicas: readonly Target[],
    private readonly options: ResolvedOptions,
    private readonly service: string,
    private readonly metrics: Metrics,
    private readonly events: TypedEvents,
  ) {
    for (const r of replicas) this.state.set(r, { recent: [], failedProbes: 0 });
    this.settled = new Promise((resolve) => (this.settle = resolve));
    if (replicas.length === 0) this.settle();
    else void this.probe();
    if (replicas.length > 0) {
      this.timer = setInterval(() => void this.probe(), options.lagProbeIntervalMs);
      this.timer.unref();
    }
  }

  /**
   * Resolves once every replica target is settled: its lag measured, or its probes failed
   * PROBE_FAILURES times in a row (a pooler still holding connections to a restarted replica
   * fails the first probe; that is not yet a verdict).
   */
  ready(): Promise<void> {
    return this.settled;
  }

  private async probe(): Promise<void> {
    if (this.probing) return;
    this.probing = true;
    try {
      try {
        const r = await this.primary.pool.query<{ lsn: string }>(
          "SELECT pg_current_wal_lsn()::text AS lsn",
        );
        this.estimator.recordPrimary(parseLsn(r.rows[0]!.lsn), Date.now());
      } catch {
        // A primary we cannot sample leaves the last samples in place: replicas caught up with
        // them stay readable while the primary is away.
      }
      await Promise.all(this.replicas.map((r) => this.probeReplica(r)));
      const settled = [...this.state.values()].every(
        (st) => st.lagSeconds !== undefined || st.failedProbes >= PROBE_FAILURES,
      );
      if (settled) this.settle();
    } finally {
      this.probing = false;
    }
  }

  private async probeReplica(replica: Target): Promise<void> {
    const state = this.state.get(replica)!;
    let lag: number | undefined;
    try {
      const r = await replica.pool.query<{ lsn: string | null }>(
        "SELECT pg_last_wal_replay_lsn()::text AS lsn",
      );
      const lsn = r.rows[0]?.lsn;
      lag = lsn ? this.estimator.lagSeconds(parseLsn(lsn), Date.now()) : undefined;
    } catch {
      lag = undefined;
    }
    if (lag === undefined) {
      state.failedProbes++;
      if (state.failedProbes >= PROBE_FAILURES) state.lagSeconds = undefined;
      return;
    }
    state.failedProbes = 0;
    state.recent = [...state.recent, lag].slice(-LAG_WINDOW);
    state.lagSeconds = Math.max(...state.recent);
    this.metrics.replicaLag.set({ service: this.service, target: replica.name }, state.lagSeconds);
    this.events.emit("lag", { target: replica.name, seconds: state.lagSeconds });
  }

  lagOf(replica: Target): { lagSeconds?: number; eligible: boolean } {
    return { lagSeconds: this.state.get(replica)?.lagSeconds, eligible: this.eligible(replica) };
  }

  private eligible(replica: Target): boolean {
    const lag = this.state.get(replica)?.lagSeconds;
    return replica.available && lag !== undefined && lag <= this.options.maxReplicaLagSeconds;
  }

  /** The target for attempt `n` of a read; `previous` is the one attempt n − 1 used. */
  choose(operation: string, n: number, previous?: Target): Target {
    const candidates = this.replicas.filter((r) => this.eligible(r) && !(n > 0 && r === previous));
    if (candidates.length > 0 && (n === 0 || previous !== this.primary)) {
      this.next = (this.next + 1) % candidates.length;
      return candidates[this.next]!;
    }
    if (this.replicas.length > 0) {
      const reason =
        n > 0
          ? "failover after a failed attempt"
          : "no replica within lag tolerance and breaker closed";
      this.events.emit("route", { operation, target: this.primary.name, reason });
    }
    return this.primary;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
