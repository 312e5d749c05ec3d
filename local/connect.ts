import pg from "pg";
import type { HostPlan, Plan } from "../platform/plan.js";
import { ADMIN_USER } from "../pgbouncer/layout.js";
import type { LocalSecrets } from "./secrets.js";
import { localSsl } from "./tls.js";
import { localLayout, pgbouncerAddress } from "./topology.js";

/** Connections to the local stack, as services and operators make them. */
export interface Target {
  host: string;
  port: number;
  database: string;
  user: string;
  password: string;
  /** TLS, verified against the local CA; false over a unix socket (PgBouncer offers none there). */
  ssl?: false | { ca: string };
}

export function pgbouncerTarget(
  plan: Plan,
  host: HostPlan,
  secrets: LocalSecrets,
  user: string,
  database: string,
): Target {
  const account = secrets.accounts[user];
  if (!account) throw new Error(`no local account ${JSON.stringify(user)}`);
  return {
    host: pgbouncerAddress(host.index),
    port: plan.config.pgbouncer.port,
    database,
    user,
    password: account.password,
    ssl: plan.config.pgbouncer.tls.client === "disable" ? false : localSsl(),
  };
}

/** Through the load balancer (pgbouncer.endpoint), as the services connect. */
export function endpointTarget(
  plan: Plan,
  secrets: LocalSecrets,
  user: string,
  database: string,
): Target {
  return {
    ...pgbouncerTarget(plan, plan.hosts[0]!, secrets, user, database),
    host: plan.config.pgbouncer.endpoint,
  };
}

/**
 * Process `k` of a host through its own unix socket: so_reuseport hands a TCP connection to any
 * process, so whoever must reach one process (its SHOW POOLS, its admin console) goes this way.
 */
export function processTarget(
  plan: Plan,
  host: HostPlan,
  k: number,
  secrets: LocalSecrets,
  user: string,
  database: string,
): Target {
  return {
    ...pgbouncerTarget(plan, host, secrets, user, database),
    host: localLayout(host, undefined, k).unixSocketDir,
    ssl: false,
  };
}

export async function connect(t: Target, timeoutMs = 10_000): Promise<pg.Client> {
  const client = new pg.Client({
    ...t,
    connectionTimeoutMillis: timeoutMs,
    application_name: "pg-pooling",
  });
  // A server-side disconnect must not crash the process: the caller sees it on its next query.
  client.on("error", () => {});
  await client.connect();
  return client;
}

/** One query on a fresh connection, closed afterwards. */
export async function queryOnce<R extends pg.QueryResultRow = pg.QueryResultRow>(
  t: Target,
  sql: string,
): Promise<R[]> {
  const client = await connect(t);
  try {
    return (await client.query<R>(sql)).rows;
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * SHOW … on the admin console of a host's process `k` (simple protocol only, which pg uses for
 * unparameterised text), over its unix socket: the hba rules refuse the console over TCP.
 */
export function adminQuery<R extends pg.QueryResultRow = pg.QueryResultRow>(
  plan: Plan,
  host: HostPlan,
  secrets: LocalSecrets,
  sql: string,
  k = 1,
): Promise<R[]> {
  return queryOnce<R>(processTarget(plan, host, k, secrets, ADMIN_USER, "pgbouncer"), sql);
}

export interface PoolRow {
  database: string;
  user: string;
  cl_active: string;
  cl_waiting: string;
  sv_active: string;
  sv_idle: string;
  sv_used: string;
  maxwait: string;
  pool_mode: string;
}
