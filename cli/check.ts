import { renderLocalHost } from "../local/pgbouncer.js";
import { localUpstreams } from "../local/topology.js";
import { buildPlan, type HostPlan } from "../platform/plan.js";
import { factsFromPlan } from "../policies/artifacts.js";
import { checkReport, formatJson, formatMarkdown, formatText } from "../policies/report.js";
import { runRules } from "../policies/rules.js";
import { main, parseArgs, UsageError } from "./args.js";
import { configFromArgs } from "./load.js";

/**
 * npm run check -- --stack <name> | --config <file> [--format text|markdown|json]
 * The policy pack's rules, offline: on the plan and the files rendered for every host. Exit 1 on a
 * mandatory violation, 2 on an invalid config or usage; an over-budget plan is reported here
 * (with every entry's share), not refused as `npm run plan` does.
 */
await main(() => {
  const args = parseArgs(process.argv.slice(2), ["stack", "config", "format"]);
  const format = args.format ?? "text";
  if (!["text", "markdown", "json"].includes(format))
    throw new UsageError(`--format must be text, markdown or json, got ${JSON.stringify(format)}`);
  const { config, label } = configFromArgs(args);
  const plan = buildPlan(config, { enforceBudget: false });
  // The local stack's hosts render with its own layout and node names.
  const localRender =
    plan.environment === "local"
      ? {
          hostFiles: (host: HostPlan) => renderLocalHost(plan, host, "redacted"),
          upstreams: localUpstreams(plan),
        }
      : undefined;
  const facts = factsFromPlan(plan, label, args.stack ?? plan.environment, localRender);
  const report = checkReport(facts, plan, runRules(facts, plan));
  const print =
    format === "json" ? formatJson : format === "markdown" ? formatMarkdown : formatText;
  process.stdout.write(print(report));
  if (report.mandatoryViolations > 0) process.exitCode = 1;
});
