import { expect, test } from "vitest";
import { LOADTEST_DEFAULTS } from "../../loadtest/defaults.js";
import { DRILLS } from "../../loadtest/drills.js";
import type { Drill } from "../../loadtest/drill.js";
import type { RunRecord } from "../../loadtest/report/types.js";
import { onlyTimesMissed, runDrill } from "../../loadtest/run-drill.js";
import { plan, secrets } from "./helpers.js";

/**
 * Every failover drill, as `npm run drill -- <name>` runs it: the seven services' load (1000+
 * clients) through the balancer, a real fault, and the drill's SLOs. A failed SLO fails the test
 * with the measured numbers. A drill that missed only a time (its recovery, or writes back, late
 * by a fraction of a second while the machine's other tenants held the cores) runs again, at most
 * TIMING_RERUNS times, and the last run decides; every miss is printed. An error, a lost or a
 * doubled write fails at once, in any run.
 */
/** Runs more a drill gets when all it missed was a time; every run checks every SLO. */
const TIMING_RERUNS = 2;

function run(drill: Drill, attempt: string): Promise<RunRecord> {
  return runDrill(
    drill,
    { plan, secrets },
    {
      clients: plan.totalPeakClients,
      rate: LOADTEST_DEFAULTS.rate,
      workers: LOADTEST_DEFAULTS.workers,
      command: `test/integration/drills.test.ts ${drill.name}${attempt}`,
    },
  );
}

const missedSlos = (r: RunRecord) =>
  r
    .drill!.slos.filter((s) => !s.pass)
    .map((s) => `${s.name}: ${s.measured} ${s.unit} (limit ${s.limit} ${s.unit})`);

for (const drill of DRILLS) {
  test(`drill ${drill.name}: ${drill.description}`, async () => {
    let record = await run(drill, "");
    for (let rerun = 1; rerun <= TIMING_RERUNS && onlyTimesMissed(record.drill!.slos); rerun++) {
      console.warn(
        `drill ${drill.name}: run ${rerun} missed only times (${missedSlos(record).join("; ")}); running it again`,
      );
      record = await run(drill, ` (rerun ${rerun})`);
    }
    const errors = record.errors.map(
      (e) => `${e.count}× ${e.service} ${e.code} (first at ${e.firstAt} s): ${e.message}`,
    );
    expect(missedSlos(record), [...record.notes, ...errors].join("\n")).toEqual([]);
    expect(record.drill!.pass).toBe(true);
  }, 360_000);
}
