import type { EntrySizing, PoolMode } from "./sizing.js";

export type EntryRole = "rw" | "ro";

/**
 * One [databases] entry, identical on every PgBouncer host. Each entry reaches exactly one node:
 * the rw entry the primary, each ro entry one replica (`orders_ro_replica1`, …). One entry per
 * replica, not one listing them all, because PgBouncer keeps handing a multi-host entry's server
 * logins to a dead replica and then locks the whole entry out for server_login_retry; with its
 * own entry a dead replica fails alone, and the client library moves the reads to another.
 */
export interface PoolEntry extends EntrySizing {
  /** The name clients put in their connection string: `orders` or `orders_ro_replica1`. */
  name: string;
  service: string;
  role: EntryRole;
  /** The Postgres database the entry connects to (the service's own). */
  dbname: string;
  /** The one node the entry reaches: `primary` for rw, `replica1`, … for ro (platform/nodes.ts). */
  node: string;
  target: "primary" | "replica";
  poolMode: PoolMode;
  /** Why: the declared needs that pin a session here, or that none do (platform/sizing.ts). */
  poolModeReason: string;
  /** Client connections to this entry, fleet-wide. */
  clients: number;
}
