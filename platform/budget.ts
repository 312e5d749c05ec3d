import type { Problem } from "./errors.js";
import { PRIMARY_NODE, replicaNodeNames } from "./nodes.js";
import type { PoolEntry } from "./pool-entry.js";
import type { StackConfig } from "./schema.js";

/**
 * The connection budget of every Postgres node. A node's usable connections are what is left of
 * max_connections after the superuser reserve and the connections held for replication, exporters
 * and admin/migrations. Every PgBouncer host may open each entry's full max_db_connections, so a
 * node must hold hosts × Σ max_db_connections of the entries that reach it.
 *
 * Each entry reaches one node (PoolEntry.node), and a node is charged the entries that reach it:
 * the primary its rw entries, each replica its own per-replica ro entries. Those are each sized for
 * the whole ro load (when a replica is lost the client library sends every read to the others),
 * so EACH replica is budgeted for the whole ro load.
 *
 * The same arithmetic serves the plan (identical hosts) and the policies, which read each host's
 * real pgbouncer.ini and may find hosts that differ (a hand edit): `byHost` then lists each one.
 */
export interface BudgetShare {
  entry: string;
  /** max_db_connections per host (the largest, when hosts differ). */
  perHost: number;
  hosts: number;
  total: number;
  /** Each host's max_db_connections, when they are not all equal. */
  byHost?: number[];
}

/** The connections a node holds back from the pools. */
export interface BudgetReserves {
  superuserReserved: number;
  replication: number;
  exporters: number;
  admin: number;
}

export interface NodeBudget extends BudgetReserves {
  node: string;
  role: "primary" | "replica";
  maxConnections: number;
  usable: number;
  required: number;
  free: number;
  shares: BudgetShare[];
}

/** The stack config's reserves of every node. */
export function configReserves(config: StackConfig): BudgetReserves {
  const r = config.database.reservedConnections;
  return {
    superuserReserved: config.database.superuserReservedConnections,
    replication: r.replication,
    exporters: r.exporters,
    admin: r.admin,
  };
}

/** An entry's share of a node: each host's max_db_connections, summed. */
export function budgetShare(entry: string, byHost: readonly number[]): BudgetShare {
  const perHost = Math.max(0, ...byHost);
  const total = byHost.reduce((sum, n) => sum + n, 0);
  const uniform = byHost.every((n) => n === byHost[0]);
  return {
    entry,
    perHost,
    hosts: byHost.length,
    total,
    ...(uniform ? {} : { byHost: [...byHost] }),
  };
}

/** One node's budget: usable connections against the shares of the entries that reach it. */
export function nodeBudget(
  node: string,
  role: NodeBudget["role"],
  maxConnections: number,
  reserves: BudgetReserves,
  shares: BudgetShare[],
): NodeBudget {
  const usable =
    maxConnections -
    reserves.superuserReserved -
    reserves.replication -
    reserves.exporters -
    reserves.admin;
  const required = shares.reduce((sum, s) => sum + s.total, 0);
  return {
    node,
    role,
    maxConnections,
    ...reserves,
    usable,
    required,
    free: usable - required,
    shares,
  };
}

export function nodeBudgets(
  config: StackConfig,
  maxConnections: number,
  entries: readonly PoolEntry[],
): NodeBudget[] {
  const hosts = config.pgbouncer.hosts;
  const reserves = configReserves(config);
  const budget = (node: string, role: NodeBudget["role"]): NodeBudget => {
    const shares = entries
      .filter((e) => e.node === node)
      // every process of every host may open the entry's max_db_connections
      .map((e) =>
        budgetShare(
          e.name,
          Array<number>(hosts).fill(e.maxDbConnections * config.pgbouncer.processesPerHost),
        ),
      );
    return nodeBudget(node, role, maxConnections, reserves, shares);
  };
  return [
    budget(PRIMARY_NODE, "primary"),
    ...replicaNodeNames(config.database.replicas).map((node) => budget(node, "replica")),
  ];
}

/** `orders 3×10=30`, or `orders 10+10+50=70` when the hosts differ. */
export function shareText(s: BudgetShare): string {
  return s.byHost
    ? `${s.entry} ${s.byHost.join("+")}=${s.total}`
    : `${s.entry} ${s.hosts}×${s.perHost}=${s.total}`;
}

/** What a node over budget is short of, with every entry's share. */
export function overBudgetText(b: NodeBudget): string {
  return (
    `leaves ${b.node} ${b.usable} usable connections (max_connections ${b.maxConnections} − ` +
    `superuser ${b.superuserReserved} − replication ${b.replication} − exporters ${b.exporters} − ` +
    `admin ${b.admin}) but its pools need ${b.required}: ` +
    b.shares.map(shareText).join(", ")
  );
}

/** One problem per node over budget, listing every entry's share: never a silent clamp. */
export function budgetProblems(budget: readonly NodeBudget[], maxConnections: number): Problem[] {
  return budget
    .filter((b) => b.free < 0)
    .map((b) => ({
      path: "database.maxConnections",
      got: String(maxConnections),
      message: overBudgetText(b),
    }));
}
