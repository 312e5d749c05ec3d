import { DEFAULTS } from "../platform/defaults.js";
import { CLOUD_DEFAULTS } from "./defaults.js";

/**
 * The RDS parameter group every node runs, as plain data: PostgresCluster creates it, and
 * `npm run check` checks the same values offline without a Pulumi engine.
 */
export interface RdsParameterArgs {
  /** max_connections: the plan's, which the connection budget is computed on. */
  maxConnections: number;
  /** superuser_reserved_connections. @default 3 */
  superuserReservedConnections?: number;
  /** rds.force_ssl: refuse any connection without TLS. @default false */
  forceSsl?: boolean;
  /** Statements slower than this are logged. @default CLOUD_DEFAULTS.slowQueryMs (500) */
  slowQueryMs?: number;
}

export type ApplyMethod = "immediate" | "pending-reboot";

export function rdsParameters(
  args: RdsParameterArgs,
): Record<string, [string | number, ApplyMethod]> {
  return {
    // Static parameters: they take effect at the next reboot, which RDS schedules.
    max_connections: [args.maxConnections, "pending-reboot"],
    superuser_reserved_connections: [args.superuserReservedConnections ?? 3, "pending-reboot"],
    // SCRAM only: a verifier stored by ALTER ROLE stays a verifier, never an md5 hash.
    password_encryption: ["scram-sha-256", "immediate"],
    "rds.force_ssl": [args.forceSsl ? 1 : 0, "immediate"],
    // Server connections come from PgBouncer, few and long-lived: logging them is cheap and
    // shows every pool growing and shrinking.
    log_connections: [1, "immediate"],
    log_disconnections: [1, "immediate"],
    log_min_duration_statement: [args.slowQueryMs ?? CLOUD_DEFAULTS.slowQueryMs, "immediate"],
    log_lock_waits: [1, "immediate"],
    // A statement whose client is gone stops instead of running to its end (DEFAULTS).
    client_connection_check_interval: [DEFAULTS.clientConnectionCheckMs, "immediate"],
    // The query patterns npm run tune reads (DEFAULTS.statementStats); static, like max_connections.
    shared_preload_libraries: [DEFAULTS.statementStats.library, "pending-reboot"],
  };
}
