import { killNode, restartNode } from "../local/failover.js";
import {
  crashAndFailOver,
  switchover,
  type FailedOver,
  type Switched,
} from "../local/switchover.js";
import { cluster, nodes, slo, type Drill } from "./drill.js";
import type { HarnessResult } from "./harness.js";
import { round } from "./stats.js";

/**
 * Seconds from the fault until the first write that was called after it was acknowledged: writes
 * are back. (A write in flight at the fault that was answered later does not count.)
 */
function writesBackSeconds(run: HarnessResult, faultAtMs: number): number {
  const after = run.acked.filter((w) => w.calledAt >= faultAtMs).map((w) => w.at);
  return after.length ? (Math.min(...after) - faultAtMs) / 1000 : Infinity;
}

/** The longest stretch, after the first read, without a read completing. */
function longestReadGapSeconds(run: HarnessResult): number {
  const r = run.readCompletions;
  let gap = 0;
  for (let i = 1; i < r.length; i++) gap = Math.max(gap, r[i]! - r[i - 1]!);
  return gap / 1000;
}

let failedOver: FailedOver | undefined;
let switched: Switched | undefined;

/** The database's faults: a replica or the primary killed or restarted, a failover, a switchover. */
export const POSTGRES_DRILLS: Drill[] = [
  {
    name: "replica-kill",
    description:
      "replica1 is killed (no shutdown) while reads run on both replicas, and stays down for the run",
    faultAtMs: 4_000,
    durationMs: 12_000,
    // Each replica has its own entries: a read that meets the dead one fails over to the other
    // replica (or the primary) inside the library, and its breaker and lag probe take it out.
    maxErrorShare: 0,
    recoverFrom: "fault",
    maxRecoverySeconds: 2,
    fault: (ctx) => killNode(nodes(ctx)[1]!),
  },
  {
    name: "primary-restart",
    description: "the primary restarts (fast shutdown, start) under write load",
    faultAtMs: 4_000,
    durationMs: 15_000,
    recoverFrom: "fault-end",
    // From the moment Postgres accepts connections again: PgBouncer's next login (it retries every
    // server_login_retry, 0.5 s) and the client breakers' probes (half-open after 0.5 s). Writes
    // are back within 1 s (the SLO below); the whole load within 3 s (throughput, four 250 ms
    // windows in a row), as the other drills: measured 1.06 s, and 2.06 s once on a busy CI box.
    maxRecoverySeconds: 3,
    fault: (ctx) => restartNode(nodes(ctx)[0]!),
    extraSlos: async (_ctx, _record, run) => [
      slo(
        "writes back after Postgres accepts connections",
        round(writesBackSeconds(run, run.hookTimes["fault: primary-restart"]?.end ?? 4_000)),
        1,
        "s",
      ),
    ],
  },
  {
    name: "primary-failover",
    description:
      "the primary's host dies (every process SIGKILLed) under write load; the replica with the most WAL is promoted, the primary's name moves to it, the other replica follows",
    faultAtMs: 4_000,
    durationMs: 18_000,
    recoverFrom: "fault",
    // Writes cannot succeed while there is no primary: an outage callers see. What is bounded:
    // writes back, nothing acknowledged lost (commits wait for a replica), nothing applied twice.
    maxRecoverySeconds: 10,
    fault: async (ctx) => {
      failedOver = await crashAndFailOver(cluster(ctx));
    },
    extraSlos: async (_ctx, _record, run) => [
      slo(
        "writes back after the kill",
        // From the moment the old primary was dead: writes called before then may still have
        // been answered by it.
        round(
          writesBackSeconds(
            run,
            (run.hookTimes["fault: primary-failover"]?.start ?? 4_000) +
              (failedOver?.deadAfterMs ?? 0),
          ),
        ),
        10,
        "s",
      ),
      slo("longest stretch without a read", round(longestReadGapSeconds(run)), 1, "s"),
      slo(
        "promoted (name moved) after the kill",
        round((failedOver?.promotedAfterMs ?? Infinity) / 1000),
        10,
        "s",
      ),
    ],
  },
  {
    name: "switchover",
    description:
      "planned: PgBouncer pauses, the primary stops cleanly, replica1 replays its last WAL and is promoted, the name moves, PgBouncer resumes",
    faultAtMs: 3_000,
    durationMs: 16_000,
    maxErrorShare: 0,
    recoverFrom: "fault-end",
    maxRecoverySeconds: 2,
    fault: async (ctx) => {
      switched = await switchover(cluster(ctx), nodes(ctx)[1]!);
    },
    extraSlos: async () => [
      slo("PgBouncer pause", round((switched?.pauseMs ?? Infinity) / 1000), 2, "s"),
    ],
  },
];
