import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import type pg from "pg";
import type { HostPlan } from "../../platform/plan.js";
import { adminQuery, connect, pgbouncerTarget, processTarget } from "../../local/connect.js";
import { ADMIN_USER } from "../../pgbouncer/layout.js";
import { readSecrets } from "../../local/secrets.js";
import { localLayout } from "../../local/topology.js";
import { localPlan } from "../../local/lines.js";

/** What every integration file needs: the local plan, its secrets, and ways to reach its hosts. */
export const plan = localPlan();
export const secrets = await readSecrets();

export function as(host: HostPlan, user: string, database = user): Promise<pg.Client> {
  return connect(pgbouncerTarget(plan, host, secrets, user, database));
}

export function admin<R extends pg.QueryResultRow = Record<string, string>>(
  host: HostPlan,
  sql: string,
) {
  return adminQuery<R>(plan, host, secrets, sql);
}

/** The error a connection attempt ends with (SQLSTATE and message), or undefined if it worked. */
export async function connectError(
  target: Parameters<typeof connect>[0],
): Promise<{ code?: string; message: string } | undefined> {
  try {
    const c = await connect(target);
    await c.end();
    return undefined;
  } catch (e) {
    const err = e as { code?: string; message: string };
    return { code: err.code, message: err.message };
  }
}

/** Process k's whole log, rotated part (`.1`, written by logrotate in consumers.test.ts) first. */
export async function pgbouncerLog(host: HostPlan, k = 1): Promise<string> {
  const file = localLayout(host, undefined, k).logFile;
  const rotated = existsSync(`${file}.1`) ? await readFile(`${file}.1`, "utf8") : "";
  return rotated + (await readFile(file, "utf8"));
}

/**
 * WARNING/ERROR/FATAL lines PgBouncer logs about itself (its config, its process), leaving out
 * those about one client or server connection (`C-0x…:`, `S-0x…:`, `S:` prefixes, and servers
 * refusing a login): other tests kill and restart servers and log in wrongly on purpose.
 */
export function configProblemLines(log: string): string[] {
  return log
    .split("\n")
    .filter(
      (l) => / (WARNING|ERROR|FATAL) /.test(l) && !/ [CS](-0x[0-9a-f]+)?: |login failed: /.test(l),
    );
}

/** A connection to process `k` of a host through its own unix socket (so_reuseport picks a
 * process at random for TCP clients; a test that means one process says which). */
export function viaProcess(
  host: HostPlan,
  k: number,
  user: string,
  database = user,
): Promise<pg.Client> {
  return connect(processTarget(plan, host, k, secrets, user, database));
}

export async function adminViaProcess<R extends pg.QueryResultRow = Record<string, string>>(
  host: HostPlan,
  k: number,
  sql: string,
): Promise<R[]> {
  const client = await viaProcess(host, k, ADMIN_USER, "pgbouncer");
  try {
    return (await client.query<R>(sql)).rows;
  } finally {
    await client.end();
  }
}
