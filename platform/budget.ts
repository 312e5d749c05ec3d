import type { Problem } from "./errors.js";
import type { PoolEntry } from "./plan.js";
import type { StackConfig } from "./schema.js";

/**
 * The connection budget of every Postgres node. A node's usable connections are what is left of
 * max_connections after the superuser reserve and the connections held for replication, exporters
 * and admin/migrations. Every PgBouncer host may open each entry's full max_db_connections, so a
 * node must hold hosts × Σ max_db_connections of the entries that reach it.
 *
 * Replicas: an ro entry lists every replica, and PgBouncer caps the entry, not the host it lands
 * on. When a replica is lost, all of the entry's connections go to the others, so EACH replica is
 * budgeted for the whole ro load.
 */
export interface BudgetShare {
  entry: string;
  perHost: number;
  hosts: number;
  total: number;
}

export interface NodeBudget {
  node: string;
  role: "primary" | "replica";
  maxConnections: number;
  superuserReserved: number;
  replication: number;
  exporters: number;
  admin: number;
  usable: number;
  required: number;
  free: number;
  shares: BudgetShare[];
}

export function nodeBudgets(
  config: StackConfig,
  maxConnections: number,
  entries: readonly PoolEntry[],
): NodeBudget[] {
  const { superuserReservedConnections: superuserReserved, reservedConnections: r } =
    config.database;
  const hosts = config.pgbouncer.hosts;
  const budget = (node: string, role: NodeBudget["role"]): NodeBudget => {
    const target = role === "primary" ? "primary" : "replicas";
    const shares = entries
      .filter((e) => e.target === target)
      .map((e) => ({
        entry: e.name,
        perHost: e.maxDbConnections,
        hosts,
        total: e.maxDbConnections * hosts,
      }));
    const usable = maxConnections - superuserReserved - r.replication - r.exporters - r.admin;
    const required = shares.reduce((sum, s) => sum + s.total, 0);
    return {
      node,
      role,
      maxConnections,
      superuserReserved,
      replication: r.replication,
      exporters: r.exporters,
      admin: r.admin,
      usable,
      required,
      free: usable - required,
      shares,
    };
  };
  return [
    budget("primary", "primary"),
    ...Array.from({ length: config.database.replicas }, (_, i) =>
      budget(`replica${i + 1}`, "replica"),
    ),
  ];
}

/** One problem per node over budget, listing every entry's share: never a silent clamp. */
export function budgetProblems(budget: readonly NodeBudget[], maxConnections: number): Problem[] {
  return budget
    .filter((b) => b.free < 0)
    .map((b) => ({
      path: "database.maxConnections",
      got: String(maxConnections),
      message:
        `leaves ${b.node} ${b.usable} usable connections (max_connections ${b.maxConnections} − ` +
        `superuser ${b.superuserReserved} − replication ${b.replication} − exporters ${b.exporters} − ` +
        `admin ${b.admin}) but its pools need ${b.required}: ` +
        b.shares.map((s) => `${s.entry} ${s.hosts}×${s.perHost}=${s.total}`).join(", "),
    }));
}
