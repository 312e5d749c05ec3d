import { join } from "node:path";
import { PRIMARY_NODE } from "../platform/nodes.js";
import type { Plan } from "../platform/plan.js";
import { clusterNodes, type PgClusterOptions, type PgNode } from "./postgres-nodes.js";
import type { LocalSecrets } from "./secrets.js";
import { stateDir } from "./state-dir.js";
import { caFile, nodeCert } from "./tls.js";
import { nodeHostName, PRIMARY_ADDRESS, replicaAddress } from "./topology.js";

/** The plan's Postgres cluster as the local stack runs it: its options, from the plan. */
export function clusterOptions(plan: Plan, replicationPassword: string): PgClusterOptions {
  const db = plan.config.database;
  return {
    stateDir: join(stateDir(), "postgres"),
    port: db.port,
    primaryAddress: PRIMARY_ADDRESS,
    replicaAddresses: Array.from({ length: db.replicas }, (_, i) => replicaAddress(i)),
    maxConnections: plan.maxConnections,
    superuserReservedConnections: db.superuserReservedConnections,
    maxWalSenders: db.replicas + 2,
    replicationPassword,
    tls: { caFile: caFile(), nodeCert },
    primaryHost: nodeHostName(PRIMARY_NODE),
    synchronousReplicas: db.multiAz,
  };
}

/** The running cluster's primary node. */
export const primaryNode = (plan: Plan, secrets: LocalSecrets): PgNode =>
  clusterNodes(clusterOptions(plan, secrets.replicationPassword)).find(
    (n) => n.role === "primary",
  )!;
