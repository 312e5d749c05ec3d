import { slo, type Drill, type DrillContext } from "./drill.js";
import { restoreStack } from "./drills.js";
import { runHarness, type HarnessOptions } from "./harness.js";
import type { RunRecord } from "./report/types.js";
import { round } from "./stats.js";
import { recoverySeconds, verifyWrites } from "./verify.js";

/**
 * One drill: the stack put back in order, the services' load started through the balancer, the
 * fault injected (and healed) on time, then the SLOs measured: caller-visible errors, time to
 * recover, every acknowledged write present, none twice, plus the drill's own.
 */
const RECOVER_FROM = {
  fault: "the fault",
  "fault-end": "the fault's end",
  "heal-end": "the heal",
} as const;

export type DrillRunOptions = Pick<
  HarnessOptions,
  "clients" | "rate" | "workers" | "command" | "progress"
>;

export async function runDrill(
  drill: Drill,
  ctx: DrillContext,
  o: DrillRunOptions,
): Promise<RunRecord> {
  const say = o.progress ?? (() => {});
  ctx = { ...ctx, say };
  await restoreStack(ctx);
  const faultLabel = `fault: ${drill.name}`;
  say(`drill ${drill.name}: ${drill.description}`);
  try {
    const hooks = [{ atMs: drill.faultAtMs, label: faultLabel, run: () => drill.fault(ctx) }];
    if (drill.heal && drill.healAtMs !== undefined) {
      const heal = drill.heal;
      hooks.push({ atMs: drill.healAtMs, label: "heal", run: () => heal(ctx) });
    }
    const run = await runHarness({
      ...o,
      plan: ctx.plan,
      secrets: ctx.secrets,
      durationMs: drill.durationMs,
      direct: false,
      memory: false,
      hooks,
    });
    const r = run.record;
    const calls = r.services.reduce((n, s) => n + s.transactions + s.errors, 0);
    const errors = r.services.reduce((n, s) => n + s.errors, 0);
    const fault = run.hookTimes[faultLabel] ?? { start: drill.faultAtMs, end: drill.faultAtMs };
    const heal = run.hookTimes.heal;
    const from = { fault: fault.start, "fault-end": fault.end, "heal-end": heal?.end ?? fault.end }[
      drill.recoverFrom
    ];
    const lastError = run.failedCallStarts.at(-1) ?? 0;
    // Recovered: throughput back, and no call started after that failed.
    const recovery = round(
      Math.max(
        recoverySeconds(run.completions, from, drill.durationMs),
        drill.errorsDelayRecovery !== false && lastError > from ? (lastError - from) / 1000 : 0,
      ),
    );
    const maxRecovery =
      typeof drill.maxRecoverySeconds === "number"
        ? drill.maxRecoverySeconds
        : drill.maxRecoverySeconds(ctx.plan);
    const writes = await verifyWrites(ctx.plan, ctx.secrets, run.runId, run.acked);
    const errorsOf = (keep: (s: string) => boolean) =>
      r.services.filter((s) => keep(s.service)).reduce((n, s) => n + s.errors, 0);
    const slos = [
      ...(drill.maxErrorShare === undefined
        ? []
        : [slo("caller-visible errors", errors, Math.floor(calls * drill.maxErrorShare), "calls")]),
      slo(`time to recover (from ${RECOVER_FROM[drill.recoverFrom]})`, recovery, maxRecovery, "s"),
      slo("acknowledged writes missing", writes.missing, 0, "writes"),
      slo("writes applied twice", writes.duplicated, 0, "writes"),
      ...(drill.isolates
        ? [
            slo(
              `errors outside ${drill.isolates}`,
              errorsOf((s) => s !== drill.isolates),
              0,
              "calls",
            ),
          ]
        : []),
      ...((await drill.extraSlos?.(ctx, r, run)) ?? []),
    ];
    r.drill = {
      name: drill.name,
      description: drill.description,
      faultAt: fault.start / 1000,
      ...(heal
        ? { healedAt: heal.end / 1000 }
        : fault.end > fault.start + 500
          ? { healedAt: fault.end / 1000 }
          : {}),
      slos,
      pass: slos.every((s) => s.pass),
    };
    r.notes.push(
      `${calls} calls, ${errors} caller-visible errors; ${writes.acknowledged} writes acknowledged, ` +
        `${writes.missing} missing, ${writes.duplicated} duplicated, ` +
        `${writes.unacknowledgedPresent} committed although the caller saw an error (outcome unknown)`,
    );
    return r;
  } finally {
    await restoreStack(ctx);
  }
}
