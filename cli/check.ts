import { formatJson, formatMarkdown, formatText } from "../policies/report.js";
import { main, parseArgs, UsageError } from "./args.js";
import { configFromArgs } from "./load.js";
import { reviewStack } from "./review.js";

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
  const { report } = reviewStack(config, label, args.stack);
  const print =
    format === "json" ? formatJson : format === "markdown" ? formatMarkdown : formatText;
  process.stdout.write(print(report));
  if (report.mandatoryViolations > 0) process.exitCode = 1;
});
