import { processTarget, queryOnce } from "../local/connect.js";
import { processIds, processPid, startProcess, upHost } from "../local/pgbouncer.js";
import { restoreTopology } from "../local/switchover.js";
import { waitFor } from "../local/daemons.js";
import { cluster, type Drill, type DrillContext } from "./drill.js";
import { PGBOUNCER_DRILLS, stopRunawayJob } from "./pgbouncer-drills.js";
import { POSTGRES_DRILLS } from "./postgres-drills.js";

/** Every drill; `all` runs them in this order. */
export const DRILLS: Drill[] = [...POSTGRES_DRILLS, ...PGBOUNCER_DRILLS];

export function drillByName(name: string): Drill {
  const d = DRILLS.find((x) => x.name === name);
  if (!d)
    throw new Error(
      `drill must be one of ${DRILLS.map((x) => x.name).join(", ")}, got ${JSON.stringify(name)}`,
    );
  return d;
}

/**
 * Every entry of every process logs in to its node. A pool whose last server login failed (during a
 * drill's outage) and has not been used since turns its first client away ("server login has been
 * failing") until one login succeeds: touch each until it answers.
 */
async function everyPoolAnswers(ctx: DrillContext): Promise<void> {
  for (const host of ctx.plan.hosts)
    for (const k of processIds(host))
      for (const e of ctx.plan.entries) {
        const target = processTarget(ctx.plan, host, k, ctx.secrets, e.service, e.name);
        await waitFor(
          `${host.name} process ${k} ${e.name} to answer`,
          async () =>
            await queryOnce(target, "SELECT 1").then(
              () => true,
              () => false,
            ),
          10_000,
          100,
        );
      }
}

/** Everything a drill may have left behind, put back: run before and after each drill. */
export async function restoreStack(ctx: DrillContext): Promise<void> {
  await stopRunawayJob();
  await restoreTopology(cluster(ctx));
  for (const host of ctx.plan.hosts) {
    for (const k of processIds(host)) {
      if ((await processPid(host, k)) === undefined) await startProcess(ctx.plan, host, k);
    }
    await upHost(ctx.plan, host, ctx.secrets);
  }
  await everyPoolAnswers(ctx);
}
