import type { Plan } from "../platform/plan.js";
import { table } from "../platform/report.js";
import { stackDown, stackStatus, stackUp } from "../local/stack.js";
import { main, parseArgs, UsageError } from "./args.js";
import { dashboardsCommand, DASHBOARDS_OPTIONS, DASHBOARDS_SWITCHES } from "./dashboards.js";
import { isLocalLine, LOCAL_LINES, localPlan } from "../local/lines.js";

/**
 * npm run local -- up | status | down | dashboards   (the stack described by Pulumi.local.yaml;
 * dashboards' options in cli/dashboards.ts)
 */
export async function printStatus(plan: Plan): Promise<boolean> {
  const status = await stackStatus(plan);
  printVersions(plan, status);
  printNodes(status);
  printHosts(plan, status);
  printEndpoints(status);
  return status.up;
}

/** What stackStatus reports: versions, TLS, exporters, nodes, hosts, balancer and Prometheus. */
type StackStatus = Awaited<ReturnType<typeof stackStatus>>;

/**
 * What runs here against what the plan targets, the production line the binaries come from,
 * and whether TLS and the exporters are in place.
 */
function printVersions(plan: Plan, status: StackStatus): void {
  const v = status.versions;
  console.log(
    `Running here: PostgreSQL ${v.postgres ?? "(not running)"}, PgBouncer ${v.pgbouncer ?? "(not installed)"}; ` +
      `the plan targets PgBouncer ${plan.pgbouncerVersion.join(".")}, RDS PostgreSQL ${plan.config.database.engineVersion}`,
  );
  console.log(
    `Production-line root: ${v.root}\n  ${Object.entries(v.packages)
      .map(([name, version]) => `${name} ${version}`)
      .join(", ")}`,
  );
  const { tls, exporters } = status;
  console.log(
    `TLS: clients → PgBouncer ${tls.client} (the services verify-full against ${tls.caFile ?? "(no CA yet)"}), ` +
      `PgBouncer → Postgres ${tls.server}`,
  );
  console.log(
    `Exporters: pgbouncer_exporter ${exporters.pgbouncer.join(" of ")} processes, ` +
      `postgres_exporter ${exporters.postgres.join(" of ")} nodes`,
  );
}

/** Each Postgres node: where it listens, whether it runs, and as primary or replica. */
function printNodes(status: StackStatus): void {
  console.log("\nPostgres nodes");
  console.log(
    table(
      ["node", "address", "running", "role"],
      status.nodes.map((n) => [
        n.name,
        `${n.address}:${n.port}`,
        n.running ? `pid ${n.pid}` : "no",
        n.running ? (n.inRecovery ? "replica (in recovery)" : "primary") : "-",
      ]),
    ),
  );
}

/** Each PgBouncer host, and for a running one its pools live beside the plan's pool_size. */
function printHosts(plan: Plan, status: StackStatus): void {
  console.log("\nPgBouncer hosts (live from SHOW POOLS; pool_size from the plan)");
  for (const h of status.hosts) {
    console.log(
      `  ${h.host} ${h.address}:${plan.config.pgbouncer.port} ${h.pid ? `pid ${h.pid}` : "not running"}`,
    );
    if (h.pid) console.log(hostPools(plan, h));
  }
}

/** One host's pools, one row per entry of the plan, each figure summed over the host's processes. */
function hostPools(plan: Plan, h: StackStatus["hosts"][number]): string {
  return table(
    ["entry", "mode", "pool_size", "cl_active", "cl_waiting", "sv_active", "sv_idle"],
    plan.entries.map((e) => {
      // One row per process that has the entry: the host's figure is their sum.
      const rows = h.pools.filter((p) => p.database === e.name);
      const sum = (k: "cl_active" | "cl_waiting" | "sv_active" | "sv_idle") =>
        rows.reduce((n, r) => n + Number(r[k]), 0);
      return [
        e.name,
        e.poolMode,
        e.poolSize,
        sum("cl_active"),
        sum("cl_waiting"),
        sum("sv_active"),
        sum("sv_idle"),
      ];
    }),
  );
}

/** The endpoints an operator opens next: the balancer every client goes through, and Prometheus. */
function printEndpoints(status: StackStatus): void {
  console.log(
    status.balancer
      ? `\nLoad balancer: HAProxy on ${status.balancer}, the endpoint every client uses (pgbouncer.endpoint)`
      : "\nLoad balancer: HAProxy not running",
  );
  console.log(
    status.prometheus
      ? `\nPrometheus: ${status.prometheus} (alerts: ${status.prometheus}/alerts, targets: ${status.prometheus}/targets)`
      : "\nPrometheus: not running",
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await main(async () => {
    const command = process.argv[2];
    const pictures = command === "dashboards";
    const args = parseArgs(
      process.argv.slice(3),
      ["pgbouncer", ...(pictures ? DASHBOARDS_OPTIONS : [])],
      pictures ? DASHBOARDS_SWITCHES : [],
    );
    if (args.pgbouncer) {
      if (!isLocalLine(args.pgbouncer)) {
        throw new UsageError(
          `--pgbouncer must be one of ${Object.keys(LOCAL_LINES).join(", ")}, got ${JSON.stringify(args.pgbouncer)}`,
        );
      }
      process.env.PG_POOLING_PGBOUNCER = args.pgbouncer;
    }
    const plan = localPlan();
    switch (command) {
      case "up":
        await stackUp(plan, (line) => console.log(line));
        console.log("local stack is up: npm run local -- status");
        break;
      case "status":
        if (!(await printStatus(plan))) process.exitCode = 3;
        break;
      case "down":
        await stackDown(plan);
        console.log("local stack is down: no process, port or state left");
        break;
      case "dashboards":
        await dashboardsCommand(plan, args);
        break;
      default:
        throw new UsageError(
          `usage: npm run local -- up | status | down | dashboards (got ${JSON.stringify(command ?? "")})`,
        );
    }
  });
}
