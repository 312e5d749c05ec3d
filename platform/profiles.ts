import { DEFAULTS } from "./defaults.js";
import { clientSslMode, type ClientEndpoint, type ClientTls } from "./dsn.js";
import type { Plan } from "./plan.js";
import type { PoolEntry } from "./pool-entry.js";

/**
 * What each service's code is configured with (resilience/ reads it): where to connect, how big its
 * own pool is, and timeouts that agree with PgBouncer's, so the app gives up before the pooler
 * answers for it and never keeps a connection PgBouncer has already closed. No passwords here:
 * they come from the secret store (Pulumi secrets, or the local stack's state).
 */
export interface ClientProfile {
  service: string;
  tls: ClientTls;
  rw: ClientEndpoint;
  /**
   * One endpoint per replica, in replica order (`orders_ro_replica1`, `orders_ro_replica2`, …);
   * empty when the service reads nothing from replicas. The library picks a healthy, fresh replica
   * per call. Each has the FULL ro poolMax, not a share of it: when a replica is lost every read
   * goes to the others, so one replica's pool must be able to carry all of them (its PgBouncer
   * entry is sized the same way).
   */
  replicas: ClientEndpoint[];
  /** < query_wait_timeout: the app times out a connect before PgBouncer's wait timeout fires. */
  connectTimeoutMs: number;
  /** < client_idle_timeout (when that is on): the app closes idle connections first. */
  idleTimeoutMs: number;
  /** PgBouncer's query_wait_timeout, so the app can recognise it. */
  queryWaitTimeoutMs: number;
  /**
   * The app's statement timeout (cancelled on the server): query_wait_timeout plus the time the
   * statement may run (DEFAULTS.client.statementRun*). The chain, shortest first: connect <
   * query_wait_timeout < statement timeout.
   */
  statementTimeoutMs: number;
  /** Replica reads are routed to the primary when lag exceeds this. */
  maxReplicaLagSeconds: number;
  retry: {
    maxAttempts: number;
    /**
     * Retries in flight at once in ONE instance: its share of the reserve the fleet keeps for the
     * service's rw entry with a host lost (reserve × processes × surviving hosts ÷ instances), so
     * the whole fleet retrying at once never needs more than that reserve. The plan sizes the
     * reserve to give every instance at least one.
     */
    maxConcurrent: number;
  };
}

/** Where the clients are: the endpoint they connect to and the CA file they trust. */
export interface ClientSite {
  /** @default the stack's pgbouncer.endpoint */
  endpointHost?: string;
  /** @default DEFAULTS.client.caFile */
  caFile?: string;
}

export function clientProfiles(plan: Plan, site: ClientSite = {}): ClientProfile[] {
  const { port, timeouts } = plan.config.pgbouncer;
  const endpointHost = site.endpointHost ?? plan.config.pgbouncer.endpoint;
  const sslmode = clientSslMode(plan.config.pgbouncer.tls.client);
  const tls: ClientTls =
    sslmode === "disable"
      ? { sslmode }
      : { sslmode, caFile: site.caFile ?? DEFAULTS.client.caFile };
  const queryWaitTimeoutMs = timeouts.queryWaitSeconds * 1000;
  return plan.services.map((s) => {
    const endpoint = (e: PoolEntry, poolMax: number): ClientEndpoint => ({
      host: endpointHost,
      port,
      database: e.name,
      user: s.name,
      poolMax,
    });
    const rw = s.entries.find((e) => e.role === "rw")!;
    // A service's own entries are in replica order (plan.entries is in name order instead).
    const replicas = s.entries.filter((e) => e.role === "ro");
    return {
      service: s.name,
      tls,
      rw: endpoint(rw, s.app.rwPoolMax),
      replicas: replicas.map((e) => endpoint(e, s.app.roPoolMax)),
      connectTimeoutMs: Math.floor(
        queryWaitTimeoutMs * DEFAULTS.client.connectTimeoutShareOfQueryWait,
      ),
      idleTimeoutMs: DEFAULTS.client.idleTimeoutMs,
      queryWaitTimeoutMs,
      statementTimeoutMs:
        queryWaitTimeoutMs +
        Math.max(
          DEFAULTS.client.statementRunMinMs,
          plan.config.services[s.name]!.transactionMs * DEFAULTS.client.statementRunPerTransaction,
        ),
      maxReplicaLagSeconds: s.maxReplicaLagSeconds,
      retry: {
        maxAttempts: DEFAULTS.client.retryMaxAttempts,
        maxConcurrent: Math.floor(
          (rw.reservePoolSize * plan.hosts[0]!.processes * rw.survivingHosts) / s.instances,
        ),
      },
    };
  });
}
