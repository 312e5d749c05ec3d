import { table } from "../platform/report.js";
import { localPlan } from "../local/lines.js";
import { readSecrets } from "../local/secrets.js";
import { withLocalStack } from "../local/stack.js";
import { runHarness, type HarnessOptions } from "../loadtest/harness.js";
import { comparisons } from "../loadtest/compare.js";
import { writeReport } from "../loadtest/report/write.js";
import { runDashboards } from "../loadtest/dashboards.js";
import { parseDuration } from "../loadtest/stats.js";
import { LOADTEST_DEFAULTS } from "../loadtest/defaults.js";
import { main, parseArgs, UsageError } from "./args.js";

/**
 * npm run loadtest -- --clients N --duration D [--direct] [--service S] [--rate R] [--workers W]
 *                     [--compare]
 * Drives the plan's services against the local stack (brought up for the run if it is not up) and
 * writes a report to reports/, with the generated dashboards over the run in its dashboards/
 * folder. --compare adds, in the same run, direct Postgres at the same client
 * count, direct at its best concurrency, and the harness against pgbench on the same target.
 */

await main(async () => {
  const args = parseArgs(
    process.argv.slice(2),
    ["clients", "duration", "service", "rate", "workers"],
    ["direct", "compare"],
  );
  const plan = localPlan();
  const number = (flag: string, fallback: number) => {
    if (args[flag] === undefined) return fallback;
    const n = Number(args[flag]);
    if (!Number.isFinite(n)) throw new UsageError(`--${flag} must be a number, got ${args[flag]}`);
    return n;
  };
  const durationMs = parseDuration("--duration", args.duration ?? LOADTEST_DEFAULTS.duration);
  const command = `npm run loadtest -- ${process.argv.slice(2).join(" ")}`.trim();
  await withLocalStack(
    plan,
    async () => {
      const secrets = await readSecrets();
      const options: HarnessOptions = {
        plan,
        secrets,
        clients: number("clients", plan.totalPeakClients),
        durationMs,
        rate: number("rate", LOADTEST_DEFAULTS.rate),
        workers: number("workers", LOADTEST_DEFAULTS.workers),
        services: args.service?.split(",").filter(Boolean),
        direct: args.direct === "true",
        // Every 5 s, whatever the duration: a soak run (--duration 10m) shows whether any process grows.
        memory: true,
        command,
        progress: (l) => console.log(l),
      };
      console.log(
        `load: ${options.clients} clients, ${durationMs / 1000}s, ${options.direct ? "straight to Postgres" : `through PgBouncer ${plan.pgbouncerVersion.join(".")}`}`,
      );
      const run = await runHarness(options);
      let compareFailed = false;
      if (args.compare === "true") {
        // The main run's report is written whatever happens to the comparisons.
        try {
          run.record.comparisons.push(...(await comparisons(options, run.record)));
        } catch (e) {
          compareFailed = true;
          run.record.notes.push(`the comparisons did not finish: ${(e as Error).message}`);
          console.error(`comparisons failed: ${(e as Error).message}`);
        }
      }
      const r = run.record;
      console.log(
        "\n" +
          table(
            ["service", "shape", "clients", "tx/s", "p50 ms", "p99 ms", "errors"],
            r.services.map((s) => [
              s.service,
              s.shape,
              String(s.clients),
              s.tps.toFixed(0),
              s.p50Ms.toFixed(1),
              s.p99Ms.toFixed(1),
              String(s.errors),
            ]),
          ),
      );
      for (const c of r.comparisons) {
        const verdict =
          c.goal === undefined ? "" : c.ratio >= c.goal ? " (goal met)" : " (goal NOT met)";
        console.log(
          `${c.name}: ${c.ratio.toFixed(2)}${c.unit}${verdict} = ${c.numerator.label} ${c.numerator.value} / ${c.denominator.label} ${c.denominator.value}`,
        );
      }
      // The dashboards over the run, beside its charts: what an operator would have seen.
      const report = await writeReport(r, { dashboards: await runDashboards(plan, r) });
      console.log(`\nreport: ${report.dir}/report.md`);
      const errors = r.services.reduce((n, s) => n + s.errors, 0);
      if ((errors > 0 && !options.direct) || compareFailed) process.exitCode = 1;
    },
    (l) => console.log(l),
  );
});
