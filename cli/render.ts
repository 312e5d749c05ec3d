import { mkdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { buildPlan } from "../platform/plan.js";
import { reviewAgentSettings } from "../pgbouncer/agent.js";
import { deliveredFiles, publicFiles } from "../pgbouncer/delivered-files.js";
import { renderCloudInit } from "../pgbouncer/cloud-init.js";
import { renderHostFiles, userlistEntries, type HostFiles } from "../pgbouncer/render.js";
import { PRODUCTION_LAYOUT, reviewUpstreams } from "../pgbouncer/layout.js";
import { renderLocalHost } from "../local/pgbouncer.js";
import { main, parseArgs, UsageError } from "./args.js";
import { configFromArgs } from "./load.js";

/**
 * npm run render -- --stack <name> --out <dir>: every generated file per PgBouncer host, for review,
 * and for dev/prod the cloud-init user-data each host boots with. No secret: userlist verifiers
 * are redacted, and the user-data never writes the userlist (the hosts fetch it from Parameter
 * Store). Cloud upstreams are only known after deploy, so the review render names them
 * under the reserved `.invalid` domain.
 */
await main(async () => {
  const args = parseArgs(process.argv.slice(2), ["stack", "config", "out"]);
  if (!args.out) throw new UsageError("give --out <dir>");
  const { config, label } = configFromArgs(args);
  const plan = buildPlan(config);
  const out = resolve(args.out);
  for (const host of plan.hosts) {
    const files: HostFiles & { "user-data.yaml"?: string } =
      plan.environment === "local"
        ? renderLocalHost(plan, host, "redacted")
        : renderHostFiles({
            plan,
            host,
            upstreams: reviewUpstreams(
              plan.environment,
              config.database.replicas,
              config.database.port,
            ),
            layout: PRODUCTION_LAYOUT,
            users: userlistEntries(plan, "redacted"),
          });
    if (plan.environment !== "local") {
      // What the host boots with; the region and target group are known only at deploy.
      files["user-data.yaml"] = renderCloudInit({
        plan,
        host,
        files: publicFiles(deliveredFiles(plan, files)),
        agent: reviewAgentSettings(args.stack ?? plan.environment, host.name),
      });
    }
    const dir = join(out, host.name);
    await mkdir(dir, { recursive: true });
    for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
    console.log(`${join(dir)}: ${Object.keys(files).join(", ")}`);
  }
  console.log(
    `rendered ${label} for PgBouncer ${plan.pgbouncerVersion.join(".")} (userlist verifiers redacted)`,
  );
});
