import type { Plan } from "../platform/plan.js";
import { clusterNodes } from "../local/postgres-nodes.js";
import type { LocalSecrets } from "../local/secrets.js";
import { clusterOptions } from "../local/cluster.js";
import type { Cluster } from "../local/switchover.js";
import type { HarnessResult } from "./harness.js";
import type { RunRecord, SloResult } from "./report/types.js";

/**
 * The failover drills: a fault injected into the local stack while the seven services run, and
 * the SLOs the run must meet. Each fault is a real process killed, restarted or reconfigured.
 */
export interface DrillContext {
  plan: Plan;
  secrets: LocalSecrets;
  /** Progress lines (a switchover's steps). */
  say?: (line: string) => void;
}

export interface Drill {
  name: string;
  description: string;
  faultAtMs: number;
  /** When the fault is undone (a killed process started again), if the drill undoes it. */
  healAtMs?: number;
  durationMs: number;
  /**
   * Caller-visible errors allowed over the whole run, as a share of all calls (0: none at all).
   * Absent when the fault is an outage callers must see (the primary down: writes cannot succeed);
   * the drill then only bounds recovery and requires no error after it.
   */
  maxErrorShare?: number;
  /**
   * Recovery is timed from the fault's start (a failover), its end (an outage, a restart), or the
   * end of the heal (a load that stops). Recovered means: throughput back to 80 % of what it was
   * before the fault, and no call started after that ended in a caller-visible error.
   */
  recoverFrom: "fault" | "fault-end" | "heal-end";
  /**
   * Whether a failed call ends recovery's clock (default). Not for a replica that stays dead: its
   * ro entries keep trying it, so rare failures go on until it is back; the error budget bounds them.
   */
  errorsDelayRecovery?: boolean;
  /** A number, or one derived from the plan (a PgBouncer timeout the recovery has to wait out). */
  maxRecoverySeconds: number | ((plan: Plan) => number);
  /** The one service the fault may touch: every other service must see no error at all. */
  isolates?: string;
  fault(ctx: DrillContext): Promise<void>;
  heal?(ctx: DrillContext): Promise<void>;
  /** Drill-specific SLOs, measured after the run. */
  extraSlos?(ctx: DrillContext, record: RunRecord, run: HarnessResult): Promise<SloResult[]>;
}

export function slo(
  name: string,
  measured: number,
  limit: number,
  unit: string,
  comparison: SloResult["comparison"] = "atMost",
): SloResult {
  const pass = comparison === "atMost" ? measured <= limit : measured >= limit;
  return { name, measured, limit, comparison, unit, pass };
}

export const cluster = (ctx: DrillContext): Cluster => ({
  ...ctx,
  opts: clusterOptions(ctx.plan, ctx.secrets.replicationPassword),
});
export const nodes = (ctx: DrillContext) => clusterNodes(cluster(ctx).opts);
