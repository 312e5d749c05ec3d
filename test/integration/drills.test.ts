import { expect, test } from "vitest";
import { LOADTEST_DEFAULTS } from "../../loadtest/defaults.js";
import { DRILLS } from "../../loadtest/drills.js";
import { runDrill } from "../../loadtest/run-drill.js";
import { plan, secrets } from "./helpers.js";

/**
 * Every failover drill, as `npm run drill -- <name>` runs it: the seven services' load (1000+
 * clients) through the balancer, a real fault, and the drill's SLOs. A failed SLO fails the test
 * with the measured numbers.
 */
for (const drill of DRILLS) {
  test(`drill ${drill.name}: ${drill.description}`, async () => {
    const record = await runDrill(
      drill,
      { plan, secrets },
      {
        clients: plan.totalPeakClients,
        rate: LOADTEST_DEFAULTS.rate,
        workers: LOADTEST_DEFAULTS.workers,
        command: `test/integration/drills.test.ts ${drill.name}`,
      },
    );
    const failed = record.drill!.slos.filter((s) => !s.pass);
    const errors = record.errors.map(
      (e) => `${e.count}× ${e.service} ${e.code} (first at ${e.firstAt} ms): ${e.message}`,
    );
    expect(failed, [...record.notes, ...errors].join("\n")).toEqual([]);
    expect(record.drill!.pass).toBe(true);
  }, 180_000);
}
