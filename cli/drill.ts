import { localPlan } from "../local/lines.js";
import { readSecrets } from "../local/secrets.js";
import { withLocalStack } from "../local/stack.js";
import { table } from "../platform/report.js";
import { DRILLS, drillByName } from "../loadtest/drills.js";
import { runDrill } from "../loadtest/run-drill.js";
import { writeReport } from "../loadtest/report/write.js";
import { LOADTEST_DEFAULTS } from "../loadtest/defaults.js";
import { main, parseArgs, UsageError } from "./args.js";

/**
 * npm run drill -- <name|all> [--clients N]
 * Runs a failover drill against the local stack under the services' load, prints each SLO with
 * PASS/FAIL, writes a report to reports/, and exits non-zero when any SLO fails.
 */
await main(async () => {
  const [name, ...rest] = process.argv.slice(2);
  if (!name || name.startsWith("--"))
    throw new UsageError(`name a drill: ${DRILLS.map((d) => d.name).join(", ")}, or all`);
  const args = parseArgs(rest, ["clients", "rate", "workers"]);
  const drills = name === "all" ? DRILLS : [drillByName(name)];
  const plan = localPlan();
  await withLocalStack(
    plan,
    async () => {
      const ctx = { plan, secrets: await readSecrets() };
      let failed = 0;
      for (const drill of drills) {
        const record = await runDrill(drill, ctx, {
          clients: Number(args.clients ?? plan.totalPeakClients),
          rate: Number(args.rate ?? LOADTEST_DEFAULTS.rate),
          workers: Number(args.workers ?? LOADTEST_DEFAULTS.workers),
          command: `npm run drill -- ${process.argv.slice(2).join(" ")}`,
          progress: (l) => console.log(l),
        });
        const d = record.drill!;
        console.log(
          table(
            ["SLO", "measured", "limit", "result"],
            d.slos.map((s) => [
              s.name,
              `${s.measured} ${s.unit}`,
              `${s.comparison === "atMost" ? "≤" : "≥"} ${s.limit} ${s.unit}`,
              s.pass ? "PASS" : "FAIL",
            ]),
          ),
        );
        for (const n of record.notes) console.log(n);
        const report = await writeReport(record, {});
        console.log(`${d.pass ? "PASS" : "FAIL"} ${d.name} — report: ${report.dir}/report.md\n`);
        if (!d.pass) failed++;
      }
      if (failed > 0) process.exitCode = 1;
    },
    (l) => console.log(l),
  );
});
