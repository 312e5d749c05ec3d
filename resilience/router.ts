import { isBulkheadRejectedError } from "cockatiel";
import { LAG_PROBE, LAG_PROBE_SQL, LAG_PROBES_JUDGED, parseLagSeconds } from "../replicas/lag.js";
import type { TypedEvents } from "./events.js";
import type { Metrics } from "./metrics.js";
import type { ResolvedOptions } from "./options.js";
import type { Target } from "./target.js";

/**
 * Where a read goes. Each replica has its own PgBouncer entry and its own target (pool, breaker,
 * bulkhead); a replica is eligible while its breaker lets calls through and its lag, as
 * replicas/lag.ts defines it, is within the service's tolerance. The first attempt takes an
 * eligible replica in turn, a retry another one, and when none is left the primary.
 */
interface ReplicaState {
  recent: number[];
  failedProbes: number;
  lagSeconds?: number;
  probing: boolean;
}

export class ReadRouter {
  private readonly state = new Map<Target, ReplicaState>();
  private readonly timer?: NodeJS.Timeout;
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
    for (const r of replicas) this.state.set(r, { recent: [], failedProbes: 0, probing: false });
    this.settled = new Promise((resolve) => (this.settle = resolve));
    if (replicas.length === 0) {
      this.settle();
      return;
    }
    this.probeAll();
    this.timer = setInterval(() => this.probeAll(), options.lagProbeIntervalMs);
    this.timer.unref();
  }

  /**
   * Resolves once every replica is settled: its lag measured, or its probes failed
   * failuresBeforeIneligible times in a row (a pooler still holding connections to a restarted
   * replica fails the first probe; that is not yet a verdict).
   */
  ready(): Promise<void> {
    return this.settled;
  }

  /** Each replica on its own: one that hangs must not hold back the others' probes. */
  private probeAll(): void {
    for (const r of this.replicas) void this.probeReplica(r);
  }

  private async probeReplica(replica: Target): Promise<void> {
    const state = this.state.get(replica)!;
    if (state.probing) return;
    state.probing = true;
    try {
      const r = await replica.probe<{ lag_seconds: string }>(
        LAG_PROBE_SQL,
        this.options.lagProbeTimeoutMs,
      );
      this.record(replica, state, parseLagSeconds(r.rows[0]?.lag_seconds));
    } catch (e) {
      // A full bulkhead means busy, not unhealthy: no verdict either way.
      if (!isBulkheadRejectedError(e)) this.record(replica, state, undefined);
    } finally {
      state.probing = false;
      this.settleWhenKnown();
    }
  }

  private record(replica: Target, state: ReplicaState, lag: number | undefined): void {
    if (lag === undefined) {
      state.failedProbes++;
      if (state.failedProbes >= LAG_PROBE.failuresBeforeIneligible) state.lagSeconds = undefined;
      return;
    }
    state.failedProbes = 0;
    state.recent = [...state.recent, lag].slice(-LAG_PROBES_JUDGED);
    state.lagSeconds = Math.min(...state.recent);
    this.metrics.replicaLag.set({ service: this.service, target: replica.name }, state.lagSeconds);
    this.events.emit("lag", { target: replica.name, seconds: state.lagSeconds });
  }

  private settleWhenKnown(): void {
    const known = [...this.state.values()].every(
      (st) => st.lagSeconds !== undefined || st.failedProbes >= LAG_PROBE.failuresBeforeIneligible,
    );
    if (known) this.settle();
  }

  lagOf(replica: Target): { lagSeconds?: number; eligible: boolean } {
    return { lagSeconds: this.state.get(replica)?.lagSeconds, eligible: this.eligible(replica) };
  }

  private eligible(replica: Target): boolean {
    const lag = this.state.get(replica)?.lagSeconds;
    return replica.available && lag !== undefined && lag <= this.options.maxReplicaLagSeconds;
  }

  /**
   * The target for attempt `n` of a read, given the targets earlier attempts of the same call
   * used: an eligible replica not tried yet, in turn; else the primary.
   */
  choose(operation: string, n: number, tried: ReadonlySet<Target>): Target {
    const candidates = this.replicas.filter((r) => this.eligible(r) && !tried.has(r));
    if (candidates.length > 0) {
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
