import { createServer } from "node:http";
import {
  pgbouncerDownExposition,
  pgbouncerExposition,
  SHOW_COMMANDS,
  versionText,
  type ShowResults,
} from "../monitoring/pgbouncer-metrics.js";
import { STATS_USER } from "../pgbouncer/layout.js";
import { connect, processTarget } from "./connect.js";
import { localPlan } from "./lines.js";
import { pgbouncerExporterAddress } from "./monitoring.js";
import { readSecrets } from "./secrets.js";

/**
 * The local stack's PgBouncer exporter (a daemon started by monitoringUp): one HTTP endpoint per
 * PgBouncer process, answering /metrics with that process's SHOW output under
 * pgbouncer_exporter's names (monitoring/pgbouncer-metrics.ts). It logs in as the stats-only user
 * over the process's own unix socket for each scrape. When the process is down it serves
 * `pgbouncer_up 0`.
 */
const plan = localPlan();
const secrets = await readSecrets();

for (const host of plan.hosts) {
  for (let k = 1; k <= host.processes; k++) {
    // A connection per scrape, closed after it: PgBouncer 1.23+ on SIGTERM waits until every
    // client is gone, and a held stats connection would keep it from ever exiting.
    const scrape = async (): Promise<string> => {
      const c = await connect(
        processTarget(plan, host, k, secrets, STATS_USER, "pgbouncer"),
        2_000,
      );
      try {
        const rows = async (sql: string) => (await c.query(sql)).rows;
        const show: ShowResults = {
          version: versionText(await rows(SHOW_COMMANDS.version)),
          config: await rows(SHOW_COMMANDS.config),
          databases: await rows(SHOW_COMMANDS.databases),
          pools: await rows(SHOW_COMMANDS.pools),
          stats: await rows(SHOW_COMMANDS.stats),
          lists: await rows(SHOW_COMMANDS.lists),
        };
        return pgbouncerExposition(show);
      } finally {
        await c.end().catch(() => {});
      }
    };
    const [address, port] = pgbouncerExporterAddress(host.index, k).split(":");
    createServer((req, res) => {
      if (req.url !== "/metrics") {
        res.writeHead(404).end();
        return;
      }
      scrape()
        .catch((e: Error) => {
          process.stderr.write(`${host.name}/${k}: ${e.message}\n`);
          return pgbouncerDownExposition();
        })
        .then((body) => {
          res.writeHead(200, { "content-type": "text/plain; version=0.0.4" }).end(body);
        });
    }).listen(Number(port), address);
  }
}
