import { mkdir, rm, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { main, parseArgs, UsageError } from "./args.js";
import { configFromArgs } from "./load.js";
import { reviewStack } from "./review.js";

/**
 * npm run render -- --stack <name> --out <dir>: every generated artifact of the stack, for review
 * (cli/review.ts): each PgBouncer host's files and, for dev/prod, its user-data; the alert rules
 * and their tests, the scrape configs, the dashboards and the policy report. No secret: userlist
 * verifiers are redacted, and the user-data never writes the userlist (the hosts fetch it from
 * Parameter Store). The folder is emptied first, so a file the stack no longer generates is gone.
 */
await main(async () => {
  const args = parseArgs(process.argv.slice(2), ["stack", "config", "out"]);
  if (!args.out) throw new UsageError("give --out <dir>");
  const { config, label } = configFromArgs(args);
  const { plan, files, report } = reviewStack(config, label, args.stack);
  const out = resolve(args.out);
  await rm(out, { recursive: true, force: true });
  for (const { path, text } of files) {
    await mkdir(dirname(join(out, path)), { recursive: true });
    await writeFile(join(out, path), text);
  }
  console.log(`${out}: ${files.length} files`);
  console.log(
    `rendered ${label} for PgBouncer ${plan.pgbouncerVersion.join(".")} (userlist verifiers redacted); ` +
      `policies: ${report.mandatoryViolations} mandatory violation(s)`,
  );
});
