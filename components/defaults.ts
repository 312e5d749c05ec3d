/**
 * Every default of the cloud components, in one place; docs/deploying.md quotes these values.
 * What the stack config decides (classes, counts, storage, protection) lives in the schema.
 */
export const CLOUD_DEFAULTS = {
  /** The Debian project's AWS account, which publishes the official Debian AMIs. */
  debianAmiOwner: "136693071363",
  /** RDS master user: owns the service databases' setup, never used by a service. */
  masterUser: "pooling_admin",
  /**
   * Where @pulumi/postgresql reaches the primary: an SSM port forward through a PgBouncer host,
   * the only source the database admits. Constant, so the provider's config never changes
   * between runs (a changed provider could replace every role it manages).
   */
  adminTunnel: { host: "127.0.0.1", port: 15432 },
  /** Statements slower than this are logged by Postgres (log_min_duration_statement). */
  slowQueryMs: 500,
  /** How long a leaving PgBouncer host keeps the connections it has (NLB deregistration delay). */
  deregistrationDelaySeconds: 30,
  /** NLB TCP health check on the PgBouncer port: two misses 10 s apart take a host out. */
  healthCheck: { intervalSeconds: 10, healthyThreshold: 2, unhealthyThreshold: 2 },
  /** Root volume of a PgBouncer host, GiB: the OS, the package and two weeks of logs. */
  rootVolumeGb: 20,
  /** pulumi up waits this long per host for a rolling restart (drain + restart + rejoin). */
  rolloutSecondsPerHost: 600,
  /** Password length from the generator; letters and digits only (SCRAM- and URL-safe). */
  passwordLength: 32,
  /** SCRAM salt, bytes (PostgreSQL uses 16). */
  saltBytes: 16,
  /** The fleet's CA and PgBouncer's certificate (components/pgbouncer-tls.ts), ECDSA P-256. */
  tls: {
    /** The CA lives 10 years: replacing it means every service mounts the new one. */
    caValidityHours: 10 * 365 * 24,
    /** PgBouncer's certificate: a year. */
    certificateValidityHours: 365 * 24,
    /** The `pulumi up` run in the certificate's last 30 days issues a new one (a RELOAD). */
    earlyRenewalHours: 30 * 24,
  },
} as const;

/** RDS parameter group family for an engine version: "18.4" → "postgres18". */
export function parameterGroupFamily(engineVersion: string): string {
  return `postgres${engineVersion.split(".")[0]}`;
}

/** Tags every resource carries, so a bill or a console search finds the stack's resources. */
export function stackTags(stack: string, environment: string): Record<string, string> {
  return { project: "pg-pooling", stack, environment };
}
