import { buildPlan } from "../platform/plan.js";
import { clientProfiles } from "../platform/profiles.js";
import { formatPlan } from "../platform/report.js";
import { main, parseArgs } from "./args.js";
import { configFromArgs } from "./load.js";

/** npm run plan -- --stack <name> | --config <file> [--format text|json] */
await main(() => {
  const args = parseArgs(process.argv.slice(2), ["stack", "config", "format"]);
  const { config, label } = configFromArgs(args);
  const plan = buildPlan(config);
  if (args.format === "json") {
    const { config: _config, ...rest } = plan;
    process.stdout.write(
      JSON.stringify({ ...rest, profiles: clientProfiles(plan) }, null, 2) + "\n",
    );
  } else {
    process.stdout.write(formatPlan(plan, label));
  }
});
