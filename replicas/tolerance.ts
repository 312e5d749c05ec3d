import type { Plan } from "../platform/plan.js";

/**
 * How much lag a replica may have before it is "behind": each service judges each replica by its
 * own maxReplicaLagSeconds (the client profile carries it to the router); a replica as a whole is
 * behind when it exceeds the smallest tolerance of the services reading from it, which is what the
 * alert and the dashboards' threshold use. Every reader reads from every replica, so that smallest
 * tolerance is the same for all replicas.
 */
export interface ReplicaTolerance {
  /** The smallest tolerance of the services reading from replicas. */
  seconds: number;
  /** The services with that tolerance (named in the alert). */
  strictest: string[];
  /** The replica nodes it applies to (`replica1`, …). */
  replicas: string[];
}

/** Undefined when nothing reads from replicas or there are none. */
export function replicaTolerance(plan: Plan): ReplicaTolerance | undefined {
  const readers = plan.services.filter((s) => s.entries.some((e) => e.role === "ro"));
  const replicas = plan.budget.filter((b) => b.role === "replica").map((b) => b.node);
  if (readers.length === 0 || replicas.length === 0) return undefined;
  const seconds = Math.min(...readers.map((s) => s.maxReplicaLagSeconds));
  const strictest = readers.filter((s) => s.maxReplicaLagSeconds === seconds).map((s) => s.name);
  return { seconds, strictest, replicas };
}
