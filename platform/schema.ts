import { z } from "zod";
import { DEFAULTS } from "./defaults.js";
import { isVpcCidr, parseCidr, VPC_PREFIX } from "./network.js";

/**
 * The stack config, as declared in Pulumi.<stack>.yaml under the `pg-pooling:` namespace. A service
 * declares what it IS (load, features, tolerances), never pool numbers: those are derived in plan.ts.
 * Every string that reaches a generated file is constrained here, so renderers never see text that
 * could add a key or a line.
 */

/** Service names become database names, role names and ini keys: keep them plain identifiers. */
export const IDENTIFIER = /^[a-z][a-z0-9_]{0,39}$/;
const HOSTNAME = /^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/;

const count = (min = 0) => z.int().min(min);
const seconds = z.number().min(0).max(86_400);
const port = z.int().min(1024).max(65_535);

export const SESSION_FEATURES = [
  "listenNotify",
  "sessionAdvisoryLocks",
  "sessionSet",
  "tempTables",
  "preparedStatements",
] as const;
export type SessionFeature = (typeof SESSION_FEATURES)[number];

export const PRIORITIES = ["critical", "high", "normal", "low"] as const;
export const SSL_MODES = [
  "disable",
  "allow",
  "prefer",
  "require",
  "verify-ca",
  "verify-full",
] as const;
export const ENVIRONMENTS = ["local", "dev", "prod"] as const;
export type SslMode = (typeof SSL_MODES)[number];

/** The sslmodes that refuse a connection without TLS, in PgBouncer's and libpq's meaning. */
export const TLS_ENFORCING_MODES = ["require", "verify-ca", "verify-full"] as const;

export function enforcesTls(mode: string): boolean {
  return (TLS_ENFORCING_MODES as readonly string[]).includes(mode);
}

export const serviceSchema = z.strictObject({
  /** Concurrent client connections the service opens at peak, summed over its instances. */
  peakClients: count(1).max(100_000),
  /** Application instances (pods); each gets peakClients / instances connections. */
  instances: count(1).max(10_000),
  /** Transactions per second at peak. */
  peakTps: z.number().positive().max(1_000_000),
  /**
   * Statements per transaction at peak, BEGIN and COMMIT included (an autocommit statement is 1):
   * PgBouncer's CPU goes by the statement, and the plan sizes its processes by it.
   * @default DEFAULTS.service.statementsPerTransaction
   */
  statementsPerTransaction: z
    .number()
    .min(1)
    .max(1000)
    .default(DEFAULTS.service.statementsPerTransaction),
  /** Typical transaction time, first statement to COMMIT, in milliseconds. */
  transactionMs: z.number().positive().max(600_000),
  /** Share (0–1) of transactions that are reads allowed to run on a replica. */
  readShare: z.number().min(0).max(1),
  /** Largest replica lag, in seconds, the service's replica reads tolerate. */
  maxReplicaLagSeconds: z.number().positive().max(86_400),
  /** Session state the service relies on; any but preparedStatements forces session pooling. */
  sessionFeatures: z
    .array(z.enum(SESSION_FEATURES))
    .default([])
    .refine((list) => new Set(list).size === list.length, "must not repeat a feature"),
  priority: z.enum(PRIORITIES),
});

export const databaseSchema = z.strictObject({
  /** RDS engine major version; the local stack runs the machine's PostgreSQL and says which. */
  engineVersion: z.string().regex(/^\d{2}(\.\d{1,2})?$/, "must look like 16 or 16.4"),
  /** RDS instance class; sets max_connections unless maxConnections is explicit. */
  instanceClass: z.string().regex(/^db\.[a-z0-9]+\.[a-z0-9]+$/, "must look like db.r6g.large"),
  /** Explicit max_connections for the parameter group. @default derived from instanceClass */
  maxConnections: count(20).max(262_143).optional(),
  /** @default 3 */
  superuserReservedConnections: count(0).max(100).default(DEFAULTS.superuserReservedConnections),
  /** Connections held back from the pools on every node. */
  reservedConnections: z.strictObject({
    replication: count(0).max(100),
    exporters: count(0).max(100),
    admin: count(0).max(1000),
  }),
  replicas: count(0).max(15),
  port,
  /** A synchronous standby in another AZ that RDS fails over to (Multi-AZ). @default false */
  multiAz: z.boolean().default(DEFAULTS.cloud.multiAz),
  /** Storage allocated at creation, in GiB (gp3, encrypted). @default 50 */
  storageGb: count(20).max(65_536).default(DEFAULTS.cloud.storageGb),
  /** Ceiling of RDS storage autoscaling, in GiB; equal to storageGb turns it off. @default 200 */
  maxStorageGb: count(20).max(65_536).default(DEFAULTS.cloud.maxStorageGb),
  /** Days of automated backups; read replicas need at least one. @default 7 */
  backupRetentionDays: count(1).max(35).default(DEFAULTS.cloud.backupRetentionDays),
  /** RDS refuses to delete the primary and the replicas while this is on. @default false */
  deletionProtection: z.boolean().default(DEFAULTS.cloud.deletionProtection),
  /** Take a snapshot of the primary when it is deleted. @default false */
  finalSnapshot: z.boolean().default(DEFAULTS.cloud.finalSnapshot),
});

/** The VPC dev and prod run in; the local stack ignores it. */
export const networkSchema = z.strictObject({
  /** IPv4 range of the VPC; every AZ gets a private and a public subnet of 1/16 of it. */
  vpcCidr: z
    .string()
    .refine(
      isVpcCidr,
      `must be a network address with a prefix from /${VPC_PREFIX.min} to /${VPC_PREFIX.max}, like 10.40.0.0/16`,
    ),
  /** Availability zones to spread over: the region's first N. RDS needs two. @default 2 */
  azs: count(2).max(6).default(DEFAULTS.cloud.azs),
  /** NAT gateways for the hosts' outbound traffic (packages, SSM); one per AZ survives an AZ. @default 1 */
  natGateways: count(1).max(6).default(DEFAULTS.cloud.natGateways),
});

const timeoutsSchema = z
  .strictObject({
    queryWaitSeconds: seconds.positive().default(DEFAULTS.timeouts.queryWaitSeconds),
    clientIdleSeconds: seconds.default(DEFAULTS.timeouts.clientIdleSeconds),
    clientLoginSeconds: seconds.positive().default(DEFAULTS.timeouts.clientLoginSeconds),
    idleTransactionSeconds: seconds.default(DEFAULTS.timeouts.idleTransactionSeconds),
    querySeconds: seconds.default(DEFAULTS.timeouts.querySeconds),
    serverIdleSeconds: seconds.default(DEFAULTS.timeouts.serverIdleSeconds),
    serverLifetimeSeconds: seconds.default(DEFAULTS.timeouts.serverLifetimeSeconds),
    serverConnectSeconds: seconds.positive().default(DEFAULTS.timeouts.serverConnectSeconds),
    serverLoginRetrySeconds: seconds.default(DEFAULTS.timeouts.serverLoginRetrySeconds),
  })
  .prefault({});

const pathText = z
  .string()
  .regex(/^\/[A-Za-z0-9._/-]*$/, "must be an absolute path of letters, digits, . _ / -");

export const MAX_HOSTS = 32;
export const MAX_PROCESSES_PER_HOST = 16;

export const pgbouncerSchema = z.strictObject({
  /** PgBouncer release the hosts run; renders emit only the keys it knows. */
  version: z.string().regex(/^\d+\.\d+(\.\d+)?$/, "must look like 1.25.1"),
  hosts: count(1).max(MAX_HOSTS),
  /**
   * PgBouncer processes per host, sharing the port (so_reuseport) and forwarding cancel requests
   * to each other ([peers], from 1.19): one process uses one core, and a host with several can
   * restart them one at a time. Each process gets 1/N of the host's pools. @default DEFAULTS.pgbouncer
   */
  processesPerHost: count(1)
    .max(MAX_PROCESSES_PER_HOST)
    .default(DEFAULTS.pgbouncer.processesPerHost),
  port,
  /**
   * EC2 instance type of the hosts; a Graviton family (c7g, t4g, …) gets the arm64 image.
   * @default "t4g.small"
   */
  instanceType: z
    .string()
    .regex(/^[a-z][a-z0-9-]*\.[a-z0-9]+$/, "must look like c7g.large")
    .default(DEFAULTS.cloud.pgbouncerInstanceType),
  /** DNS name (or address) the services connect to: the load balancer in the cloud. */
  endpoint: z.string().regex(HOSTNAME, "must be a hostname or address"),
  timeouts: timeoutsSchema,
  tls: z.strictObject({
    client: z.enum(SSL_MODES),
    server: z.enum(SSL_MODES),
    /** Where the host keeps its certificate, key and CA bundle when client TLS is on. */
    certDir: pathText.default(DEFAULTS.pgbouncer.certDir),
  }),
  /** Only SCRAM: md5 and plain are not offered (docs/security.md). */
  auth: z.literal("scram-sha-256"),
  /**
   * Overrides of PgBouncer's [pgbouncer] tunables (log_connections, stats_period, …). Keys the plan
   * derives are refused, and so are keys the target version does not know. @default {}
   */
  settings: z
    .record(
      z.string().regex(/^[a-z_]{1,64}$/, "must be a pgbouncer.ini key"),
      z.union([
        z.int().min(0),
        z.string().regex(/^[A-Za-z0-9._,:/-]{1,200}$/, "must be letters, digits and . _ , : / -"),
      ]),
    )
    .default({}),
});

const labelValue = z.string().regex(/^[A-Za-z0-9._-]{1,63}$/, "must be a Kubernetes label value");

/**
 * Every IPv4 address: refused here so the mistake is caught with the rest of the config, before
 * any resource. Narrower public ranges are the policies' to refuse (pooling-no-world-ingress).
 */
const WORLD_V4 = "0.0.0.0/0";

const scrapeCidr = z
  .string()
  .refine((c) => parseCidr(c) !== undefined, "must be an IPv4 network address, like 10.40.0.0/16")
  .refine((c) => c !== WORLD_V4, "must not be the whole internet (exporters stay private)");

/** The section is required: `scrapeFrom` has no default to fall back on. */
export const monitoringSchema = z.strictObject({
  /**
   * IPv4 ranges Prometheus scrapes the PgBouncer hosts' exporters from (its cluster's nodes or
   * pods, or the VPC): the hosts' security group admits exactly these on the exporter ports.
   * Required in every stack file, with no default: only the operator knows where Prometheus runs.
   */
  scrapeFrom: z
    .array(scrapeCidr)
    .refine((list) => list.length > 0, "must name at least one IPv4 range")
    .refine((list) => new Set(list).size === list.length, "must not repeat a range"),
  /** How often Prometheus scrapes the exporters and evaluates the rules. @default DEFAULTS.monitoring */
  scrapeIntervalSeconds: z.int().min(1).max(300).default(DEFAULTS.monitoring.scrapeIntervalSeconds),
  /**
   * How long a condition must hold before its alert fires. Short on the local stack so a test
   * sees an alert fire and resolve in seconds; minutes in the cloud, to ride out blips. @default DEFAULTS.monitoring
   */
  alertForSeconds: z.int().min(0).max(3600).default(DEFAULTS.monitoring.alertForSeconds),
  /** Kubernetes namespace of the Prometheus operator and Grafana (dev and prod). */
  namespace: z
    .string()
    .regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, "must be a Kubernetes namespace name")
    .default(DEFAULTS.monitoring.namespace),
  /** The label Grafana's dashboard sidecar selects ConfigMaps by (value "1"). */
  dashboardLabel: z
    .string()
    .regex(/^[a-z0-9_-]{1,63}$/, "must be a Kubernetes label key")
    .default(DEFAULTS.monitoring.dashboardLabel),
  /** Labels the Prometheus operator selects PrometheusRules and scrape configs by. */
  selectorLabels: z
    .record(z.string().regex(/^[a-z0-9./_-]{1,63}$/, "must be a Kubernetes label key"), labelValue)
    .default({ ...DEFAULTS.monitoring.selectorLabels }),
});

export const stackConfigSchema = z.strictObject({
  environment: z.enum(ENVIRONMENTS),
  network: networkSchema,
  database: databaseSchema,
  pgbouncer: pgbouncerSchema,
  monitoring: monitoringSchema,
  services: z
    .record(z.string().regex(IDENTIFIER, "service names must match " + IDENTIFIER), serviceSchema)
    .refine((s) => Object.keys(s).length > 0, "must declare at least one service"),
});

/** The top-level keys of a stack file under `pg-pooling:`; every stack file sets all of them. */
export const STACK_KEYS = Object.keys(stackConfigSchema.shape) as (keyof StackConfig)[];

export type ServiceSpec = z.infer<typeof serviceSchema>;
export type DatabaseSpec = z.infer<typeof databaseSchema>;
export type PgBouncerSpec = z.infer<typeof pgbouncerSchema>;
export type NetworkSpec = z.infer<typeof networkSchema>;
export type MonitoringSpec = z.infer<typeof monitoringSchema>;
export type StackConfig = z.infer<typeof stackConfigSchema>;
export type StackConfigInput = z.input<typeof stackConfigSchema>;
