/**
 * The names of the Postgres nodes, in one place: the budget's rows, the per-replica PgBouncer
 * entries (`orders_ro_replica1`), the policies' node facts and the local stack's node names all
 * use these, so an entry, a budget row and a node cannot disagree about which replica they mean.
 */
export const PRIMARY_NODE = "primary";

/** `replica1`, `replica2`, … for replica index 0, 1, … (1-based, as RDS and operators count). */
export const replicaNodeName = (i: number) => `replica${i + 1}`;

/** Every replica's name, in replica order. */
export const replicaNodeNames = (replicas: number): string[] =>
  Array.from({ length: replicas }, (_, i) => replicaNodeName(i));

/**
 * A regular expression (RE2, as PromQL takes it) matching any replica's name: for dashboards
 * that select a service's entries whatever the number of replicas.
 */
export const REPLICA_NODE_PATTERN = "replica[1-9][0-9]*";
