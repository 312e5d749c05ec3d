import { table } from "../platform/report.js";
import { localPlan } from "../local/lines.js";
import { readSecrets, type LocalSecrets } from "../local/secrets.js";
import { withLocalStack } from "../local/stack.js";
import { runHarness, type HarnessOptions, type HarnessResult } from "../loadtest/harness.js";
import type { RunRecord } from "../loadtest/report/types.js";
import type { Plan } from "../platform/plan.js";
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
  const durationMs = parseDuration("--duration", args.duration ?? LOADTEST_DEFAULTS.duration);
  const command = `npm run loadtest -- ${process.argv.slice(2).join(" ")}`.trim();
  await withLocalStack(
    plan,
    async () => {
      const secrets = await readSecrets();
      const options = harnessOptions(plan, secrets, args, durationMs, command);
      console.log(
        `load: ${options.clients} clients, ${durationMs / 1000}s, ${options.direct ? "straight to Postgres" : `through PgBouncer ${plan.pgbouncerVersion.join(".")}`}`,
      );
      const run = await runHarness(options);
      const compareFailed = args.compare === "true" && !(await addComparisons(options, run));
      const r = run.record;
      printServices(r);
      printComparisons(r);
      // The dashboards over the run, beside its charts: what an operator would have seen.
      const report = await writeReport(r, { dashboards: await runDashboards(plan, r) });
      console.log(`\nreport: ${report.dir}/report.md`);
      const errors = r.services.reduce((n, s) => n + s.errors, 0);
      if ((errors > 0 && !options.direct) || compareFailed) process.exitCode = 1;
    },
    (l) => console.log(l),
  );
});

/** A numeric flag's value, or the fallback when it is not given; a usage error when not a number. */
function numberFlag(args: Record<string, string>, flag: string, fallback: number): number {
  if (args[flag] === undefined) return fallback;
  const n = Number(args[flag]);
  if (!Number.isFinite(n)) throw new UsageError(`--${flag} must be a number, got ${args[flag]}`);
  return n;
}

/**
 * The harness run the flags ask for: the plan's peak client count and the defaults unless told
 * otherwise, memory sampled, progress printed.
 */
function harnessOptions(
  plan: Plan,
  secrets: LocalSecrets,
  args: Record<string, string>,
  durationMs: number,
  command: string,
): HarnessOptions {
  return {
    plan,
    secrets,
    clients: numberFlag(args, "clients", plan.totalPeakClients),
    durationMs,
    rate: numberFlag(args, "rate", LOADTEST_DEFAULTS.rate),
    workers: numberFlag(args, "workers", LOADTEST_DEFAULTS.workers),
    services: args.service?.split(",").filter(Boolean),
    direct: args.direct === "true",
    // Every 5 s, whatever the duration: a soak run (--duration 10m) shows whether any process grows.
    memory: true,
    command,
    progress: (l) => console.log(l),
  };
}

/**
 * --compare: the comparison runs, added to the main run's record. Whether they finished; when
 * they did not, the record says so and the main run's report is still written.
 */
async function addComparisons(options: HarnessOptions, run: HarnessResult): Promise<boolean> {
  try {
    run.record.comparisons.push(...(await comparisons(options, run.record)));
    return true;
  } catch (e) {
    run.record.notes.push(`the comparisons did not finish: ${(e as Error).message}`);
    console.error(`comparisons failed: ${(e as Error).message}`);
    return false;
  }
}

/** The per-service table: each service's shape, clients, throughput, latencies and errors. */
function printServices(r: RunRecord): void {
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
}

/** One line per comparison: the ratio, whether it meets its goal (if it has one), and its terms. */
function printComparisons(r: RunRecord): void {
  for (const c of r.comparisons) {
    const verdict =
      c.goal === undefined ? "" : c.ratio >= c.goal ? " (goal met)" : " (goal NOT met)";
    console.log(
      `${c.name}: ${c.ratio.toFixed(2)}${c.unit}${verdict} = ${c.numerator.label} ${c.numerator.value} / ${c.denominator.label} ${c.denominator.value}`,
    );
  }
}
