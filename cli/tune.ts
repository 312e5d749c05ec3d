import { readFileSync, writeFileSync } from "node:fs";
import { parseDocument } from "yaml";
import { loadConfigFile, PROJECT, stackFile } from "../platform/config.js";
import { DEFAULTS } from "../platform/defaults.js";
import { buildPlan, type Plan } from "../platform/plan.js";
import { planChanges, tune, type TuneResult } from "../platform/tuning.js";
import { queryPatterns } from "../platform/query-patterns.js";
import { formatPatterns, formatTune } from "../platform/tuning-report.js";
import { main, parseArgs, UsageError } from "./args.js";
import { observeServices, parseWindow } from "./observe.js";
import { localAccess, readStatements, remoteAccess } from "./statements.js";

/**
 * npm run tune -- --stack <name> | --config <file> --prometheus <url> [--window 7d]
 *   [--rate-window 60s] [--services a,b] [--format text|json] [--out <file>]
 *   [--nodes primary=host:port,… --ca <file>] (the local stack's nodes are known)
 * Each service's declarations against what PgBouncer counted over the window, the proposal, and
 * what it changes in the plan; --out writes the proposed stack file (comments kept), which is
 * loaded and planned again before the command succeeds. A refused proposal writes nothing.
 */
const FLAGS = "stack config prometheus window rate-window services format out nodes ca".split(" ");

await main(async () => {
  const args = parseArgs(process.argv.slice(2), FLAGS);
  const o = options(args);
  const plan = buildPlan(o.config, { enforceBudget: false });
  const { observed, idle } = await observeServices(o.prometheus, plan, o.window, o.services);
  const result = tune(o.config, observed, o.services, idle);
  const statements = await statementsOf(plan, args);
  const patterns = statements
    ? Object.fromEntries(
        Object.entries(queryPatterns(plan, statements.rows)).filter(([s]) =>
          o.services.includes(s),
        ),
      )
    : undefined;
  if (args.format === "json") {
    const json = { ...asJson(result), patterns, statementsSince: statements?.since };
    process.stdout.write(JSON.stringify(json, null, 2) + "\n");
  } else {
    process.stdout.write(formatTune(result, o.label, o.windowText));
    process.stdout.write(
      patterns
        ? formatPatterns(patterns, statements!.since)
        : "\nQuery patterns: pass --nodes (and --ca, PGPOOLING_MONITOR_PASSWORD) to read pg_stat_statements\n",
    );
  }
  if ("refused" in result.outcome) process.exitCode = 1;
  else if (args.out) writeProposal(o.source, args.out, result);
});

/** The command's inputs, each checked: a usage error names the flag and the value it got. */
function options(args: Record<string, string>) {
  if (args.stack && args.config) throw new UsageError("give --stack or --config, not both");
  const source = args.stack ? stackFile(args.stack) : args.config;
  if (!source) throw new UsageError("give --stack <local|dev|prod> or --config <file>");
  if (!args.prometheus)
    throw new UsageError("give --prometheus <url> (the Prometheus the stack scrapes into)");
  if (args.format && !["text", "json"].includes(args.format))
    throw new UsageError(`--format must be text or json; got ${JSON.stringify(args.format)}`);
  const config = loadConfigFile(source);
  const windowText = args.window ?? DEFAULTS.tuning.window;
  const window = {
    seconds: parseWindow(windowText),
    rateSeconds: args["rate-window"]
      ? parseWindow(args["rate-window"], "--rate-window")
      : DEFAULTS.tuning.rateWindowSeconds,
    stepSeconds: config.monitoring.scrapeIntervalSeconds,
  };
  const all = Object.keys(config.services);
  const services = args.services ? args.services.split(",") : all;
  const unknown = services.filter((s) => !config.services[s]);
  if (unknown.length > 0)
    throw new UsageError(
      `--services names ${unknown.map((s) => JSON.stringify(s)).join(", ")}, not a service of ${source}; its services: ${all.join(", ")}`,
    );
  const label = args.stack ? `stack ${args.stack}` : source;
  return { source, config, window, windowText, services, label, prometheus: args.prometheus };
}

/** pg_stat_statements of every node: the local stack's are known, another's come from --nodes. */
async function statementsOf(plan: Plan, args: Record<string, string>) {
  if (plan.environment === "local") return readStatements(plan, await localAccess(plan));
  if (args.nodes) return readStatements(plan, remoteAccess(plan, args.nodes, args.ca));
  return undefined;
}

function asJson(r: TuneResult) {
  return {
    services: Object.fromEntries(
      Object.entries(r.verdicts).map(([s, verdicts]) => [s, { observed: r.observed[s], verdicts }]),
    ),
    idle: r.idle,
    ...("refused" in r.outcome
      ? { refused: r.outcome.refused, grow: r.outcome.grow }
      : { planChanges: planChanges(r.current, r.outcome.plan) }),
  };
}

/** The source file with the proposed values set in place, then loaded and planned like any other. */
function writeProposal(source: string, out: string, r: TuneResult): void {
  const doc = parseDocument(readFileSync(source, "utf8"));
  const base = doc.has("config") ? ["config", `${PROJECT}:services`] : ["services"];
  for (const [service, verdicts] of Object.entries(r.verdicts))
    for (const v of verdicts) if (v.changed) doc.setIn([...base, service, v.field], v.proposed);
  writeFileSync(out, doc.toString());
  buildPlan(loadConfigFile(out));
  process.stderr.write(`wrote ${out}: loads and plans\n`);
}
