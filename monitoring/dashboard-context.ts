import { serviceEntriesPattern, type Plan } from "../platform/plan.js";
import { replicaTolerance } from "../replicas/tolerance.js";
import { ALERT_SHARES } from "./alert-model.js";
import { q, ts } from "./dashboard-model.js";
import { PGBOUNCER_METRICS } from "./pgbouncer-columns.js";

/** The names and thresholds every dashboard is built from, derived once from the plan. */
export function dashboardContext(plan: Plan) {
  const entries = plan.entries.map((e) => e.name).join("|");
  const roEntries = plan.entries
    .filter((e) => e.role === "ro")
    .map((e) => e.name)
    .join("|");
  const roles = plan.services.map((s) => s.name).join("|");
  const replicas = plan.budget
    .filter((b) => b.role === "replica")
    .map((b) => b.node)
    .join("|");
  const queryWait = plan.config.pgbouncer.timeouts.queryWaitSeconds;
  const lagTolerance = replicaTolerance(plan)?.seconds ?? Infinity;
  const pools = `database=~"${entries}"`;
  const services = plan.services.map((s) => s.name);
  // the service's rw entry and its entry on each replica, whatever the number of replicas
  const mine = `database=~"${serviceEntriesPattern("$service")}"`;
  const budgets = plan.budget.map((b) => `${b.node} ${b.usable}`).join(", ");
  const waitPanel = (by: string, selector: string) =>
    ts(
      "Longest client wait",
      "s",
      [
        q(
          `max by (${by}) (${PGBOUNCER_METRICS.clientMaxWait}{${selector}})`,
          `{{${by.split(", ").pop()}}}`,
        ),
      ],
      {
        thresholds: [
          [queryWait * ALERT_SHARES.maxWaitOfQueryWait, "orange"],
          [queryWait, "red"],
        ],
        description: `PgBouncer disconnects a client that waits query_wait_timeout (${queryWait}s).`,
      },
    );

  return {
    entries,
    roEntries,
    roles,
    replicas,
    queryWait,
    lagTolerance,
    pools,
    services,
    mine,
    budgets,
    waitPanel,
  };
}

export type DashboardContext = ReturnType<typeof dashboardContext>;
