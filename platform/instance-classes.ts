import { DEFAULTS } from "./defaults.js";

/**
 * Memory (GiB) of the RDS instance classes the stacks may choose. RDS derives the default
 * max_connections from DBInstanceClassMemory, which is the class memory less what the OS and RDS
 * keep; we use the nominal memory, so the derived value is an upper bound and explicit
 * `database.maxConnections` is what prod should set.
 */
const MEMORY_GIB: Record<string, number> = {
  "db.t4g.micro": 1,
  "db.t4g.small": 2,
  "db.t4g.medium": 4,
  "db.t4g.large": 8,
  "db.m6g.large": 8,
  "db.m6g.xlarge": 16,
  "db.m6g.2xlarge": 32,
  "db.m6g.4xlarge": 64,
  "db.r6g.large": 16,
  "db.r6g.xlarge": 32,
  "db.r6g.2xlarge": 64,
  "db.r6g.4xlarge": 128,
  "db.r7g.large": 16,
  "db.r7g.xlarge": 32,
  "db.r7g.2xlarge": 64,
  "db.r7g.4xlarge": 128,
};

export const KNOWN_INSTANCE_CLASSES = Object.keys(MEMORY_GIB).sort();

/** RDS's default max_connections for a class, or undefined for a class we have no memory for. */
export function defaultMaxConnections(instanceClass: string): number | undefined {
  const gib = MEMORY_GIB[instanceClass];
  if (gib === undefined) return undefined;
  const derived = Math.floor((gib * 1024 ** 3) / DEFAULTS.rdsBytesPerConnection);
  return Math.min(derived, DEFAULTS.rdsMaxConnectionsCap);
}

/**
 * vCPUs of an EC2 instance type, from its size as AWS names them across the families PgBouncer
 * hosts use (t4g, c7g, m7g, c7i, …): medium 1 (the burstable t families: 2 up to large), large 2,
 * xlarge 4, Nxlarge 4N. Undefined for a size with no fixed count (metal, unknown names).
 */
export function ec2Vcpus(instanceType: string): number | undefined {
  const [family = "", size = ""] = instanceType.split(".");
  const burstable = /^t\d/.test(family);
  if (["nano", "micro", "small", "medium"].includes(size))
    return burstable ? 2 : size === "medium" ? 1 : undefined;
  if (size === "large") return 2;
  const m = /^(\d*)xlarge$/.exec(size);
  return m ? 4 * Number(m[1] || 1) : undefined;
}
