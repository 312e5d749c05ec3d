import { DEFAULTS, type Priority } from "./defaults.js";
import type { ServiceSpec, SessionFeature } from "./schema.js";

/**
 * The sizing model: from what a service declares to per-host pool numbers. Pure arithmetic, every
 * step named after what it means, so plan output and tests can quote it.
 */

export type PoolMode = "session" | "transaction";

/** Features that pin a client to one server connection for its whole session. */
export const SESSION_PINNING: Record<SessionFeature, string> = {
  listenNotify: "LISTEN/NOTIFY needs the listening connection to stay with the client",
  sessionAdvisoryLocks: "session advisory locks live as long as the server connection",
  sessionSet: "session-level SET must not leak to other clients",
  tempTables: "temporary tables live in the server session",
  preparedStatements: "protocol-level prepared statements live in the server session",
};

/**
 * Session state a hot standby refuses outright (`cannot execute CREATE TABLE … during recovery`,
 * `cannot execute LISTEN during recovery`): work that needs it can only run on the primary, so it
 * decides the rw entry's mode and never an ro entry's. The service runs that work through its rw
 * endpoint (write() / transaction()); its replica reads pool by what a standby can serve.
 */
export const PRIMARY_ONLY: Partial<Record<SessionFeature, string>> = {
  listenNotify: "a hot standby refuses LISTEN",
  tempTables: "a hot standby refuses CREATE TEMP TABLE",
};

/**
 * Transaction pooling unless a declared need requires session pooling on the entry's node.
 * Prepared statements are the exception: PgBouncer ≥ 1.21 tracks them itself
 * (max_prepared_statements), so they keep transaction pooling where the target version can.
 */
export function choosePoolMode(
  features: readonly SessionFeature[],
  tracksPrepared: boolean,
  target: "primary" | "replica" = "primary",
): { mode: PoolMode; reason: string } {
  const here = features.filter((f) => target === "primary" || !PRIMARY_ONLY[f]);
  const pinning = here.filter((f) => f !== "preparedStatements" || !tracksPrepared);
  const elsewhere = features
    .filter((f) => !here.includes(f))
    .map((f) => `${f} runs on the primary only (${PRIMARY_ONLY[f]})`);
  const because = (reason: string) => [reason, ...elsewhere].join("; ");
  if (pinning.length > 0) {
    return { mode: "session", reason: because(pinning.map((f) => SESSION_PINNING[f]).join("; ")) };
  }
  if (here.includes("preparedStatements")) {
    return {
      mode: "transaction",
      reason: because("prepared statements are tracked by PgBouncer (max_prepared_statements)"),
    };
  }
  return { mode: "transaction", reason: because("no session state declared") };
}

/** What each application instance opens: its pool for writes and its pool for replica reads. */
export interface AppPools {
  /** Connections per instance, rw + ro. */
  poolMax: number;
  rwPoolMax: number;
  /** 0 when the service reads nothing from replicas. */
  roPoolMax: number;
}

export function appPools(s: ServiceSpec): AppPools {
  const poolMax = Math.ceil(s.peakClients / s.instances);
  const roPoolMax = s.readShare > 0 ? Math.max(1, Math.round(poolMax * s.readShare)) : 0;
  // Every instance keeps at least one write connection, even a read-only reporter: it has to
  // record its own state somewhere, and a zero-sized pool is a configuration nobody can debug.
  const rwPoolMax = Math.max(1, poolMax - roPoolMax);
  return { poolMax, rwPoolMax, roPoolMax };
}

/** The load one pool entry (rw or ro of a service) carries, fleet-wide. */
export interface EntryLoad {
  mode: PoolMode;
  /** Client connections to this entry, fleet-wide. */
  clients: number;
  tps: number;
  transactionMs: number;
  priority: Priority;
  /**
   * Application instances whose retries this entry's reserve must hold, one each at once (the rw
   * entry: the service's retry budget is a share of it, platform/profiles.ts). 0 for ro entries:
   * a failed replica read moves to another target instead of retrying on this one.
   */
  retryingInstances?: number;
}

export interface EntrySizing {
  /** Server connections the fleet needs for this entry at peak (Little's law + headroom). */
  serverConnectionsNeeded: number;
  /** Hosts that must carry the peak: the fleet minus one, or the single host. */
  survivingHosts: number;
  /** Clients one host holds when a host is lost. */
  clientsPerHost: number;
  /** Per PgBouncer process (the whole host's when it runs one). */
  poolSize: number;
  minPoolSize: number;
  reservePoolSize: number;
  maxDbConnections: number;
}

export function survivingHosts(hosts: number): number {
  return Math.max(1, hosts - 1);
}

/**
 * One entry's numbers for one PgBouncer process. With several processes per host each gets 1/N
 * of the host's pools (rounded up); client slots are not divided (see plan.ts).
 */
export function sizeEntry(load: EntryLoad, hosts: number, processes = 1): EntrySizing {
  const survivors = survivingHosts(hosts);
  // Session pooling pins one server connection per client; transaction pooling needs only the
  // connections busy at once: tps × transaction time (Little's law), plus headroom, never more
  // than there are clients to use them.
  const busy = Math.ceil((load.tps * load.transactionMs * DEFAULTS.headroom) / 1000);
  const serverConnectionsNeeded =
    load.mode === "session"
      ? load.clients
      : Math.max(DEFAULTS.minPoolSize, Math.min(load.clients, busy));
  const hostPool = Math.max(DEFAULTS.minPoolSize, Math.ceil(serverConnectionsNeeded / survivors));
  // A session client keeps its server connection: the process it lands on must hold it, however
  // unevenly the balancer and so_reuseport spread the clients (not only the average share).
  const poolSize =
    load.mode === "session"
      ? Math.max(
          Math.ceil(hostPool / processes),
          spreadBound(load.clients, survivors * processes, DEFAULTS.sessionSpreadTail),
        )
      : Math.ceil(hostPool / processes);
  // The reserve holds the load's bursts (by priority) and, at least, one retry per instance with a
  // host lost: the fleet's retries then never need more than the fleet reserves.
  const retrySlots = Math.ceil((load.retryingInstances ?? 0) / (survivors * processes));
  const reservePoolSize = Math.max(
    Math.ceil(poolSize * DEFAULTS.reserveFraction[load.priority]),
    retrySlots,
  );
  const warm = Math.ceil((serverConnectionsNeeded / hosts / processes) * DEFAULTS.warmFraction);
  const minPoolSize = load.priority === "low" ? 0 : Math.min(poolSize, warm);
  return {
    serverConnectionsNeeded,
    survivingHosts: survivors,
    clientsPerHost: Math.ceil(load.clients / survivors),
    poolSize,
    minPoolSize,
    reservePoolSize,
    maxDbConnections: poolSize + reservePoolSize,
  };
}

/**
 * The fewest connections one of `targets` must take so that, with `clients` each landing on a
 * target at random (a load balancer's flow hash, the kernel's so_reuseport hash), the chance that
 * some client finds its target full is at most `tail`: the binomial tail of Bin(clients, 1/targets),
 * with the union bound over the targets.
 */
export function spreadBound(clients: number, targets: number, tail: number): number {
  if (targets <= 1 || clients === 0) return clients;
  const p = 1 / targets;
  // pmf(k) of Bin(n, p), built up from pmf(0) in logs so large n does not underflow.
  let logPmf = clients * Math.log1p(-p);
  let cdf = Math.exp(logPmf);
  for (let k = 0; k < clients; k++) {
    if (targets * (1 - cdf) <= tail) return k;
    logPmf += Math.log((clients - k) / (k + 1)) + Math.log(p / (1 - p));
    cdf += Math.exp(logPmf);
  }
  return clients;
}
