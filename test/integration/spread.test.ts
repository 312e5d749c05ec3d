import type pg from "pg";
import { describe, expect, test } from "vitest";
import { DEFAULTS } from "../../platform/defaults.js";
import { spreadBound } from "../../platform/sizing.js";
import { waitFor } from "../../local/daemons.js";
import { as, adminViaProcess, plan, viaProcess } from "./helpers.js";
import type { PoolRow } from "../../local/connect.js";

/**
 * Session pools hold an uneven spread. A session client keeps its server connection, so the
 * process it lands on must hold every client that lands there: the plan sizes a session pool for
 * the binomial bound of the spread (spreadBound), not for the average share. notifications'
 * entry (LISTEN: session) on the local stack: 20 clients, 2 hosts, 2 processes each.
 *
 * GIVEN one host lost (every client on the other, as the balancer sends them then)
 * WHEN all of notifications' clients connect over TCP and hold a session, three times over
 * THEN however so_reuseport split them, no client waits and no process opened its reserve;
 * AND placed by hand at the bound on one process, every client gets a server at once, and one
 *   client past it waits for the reserve pool: the bound is what the pool holds.
 */
const SERVICE = "notifications";
const entry = plan.entries.find((e) => e.name === SERVICE)!;
const host = plan.hosts[0]!;
const processes = Array.from({ length: host.processes }, (_, i) => i + 1);

async function pool(k: number): Promise<PoolRow> {
  const rows = await adminViaProcess<PoolRow>(host, k, "SHOW POOLS");
  return rows.find((r) => r.database === SERVICE && r.user === SERVICE)!;
}

/** Connected, and holding its server: a session client's first query binds it for good. */
async function holding(open: () => Promise<pg.Client>): Promise<pg.Client> {
  const c = await open();
  await c.query("SELECT pg_backend_pid()");
  return c;
}

const closeAll = (clients: pg.Client[]) => Promise.all(clients.map((c) => c.end().catch(() => {})));

describe("session pools and an uneven spread", () => {
  test("the plan's session pool is the spread bound, above the average share", () => {
    expect(entry.poolMode).toBe("session");
    expect(entry.clients).toBe(20);
    // 20 clients over 2 processes of the one host left: 10 on average, up to 17 in 999 of 1000
    expect(entry.poolSize).toBe(17);
    expect(spreadBound(entry.clients, host.processes, DEFAULTS.sessionSpreadTail)).toBe(17);
  });

  test("all clients on one host, three times: no one waits, no reserve opens", async () => {
    for (let round = 0; round < 3; round++) {
      const clients = await Promise.all(
        Array.from({ length: entry.clients }, () => holding(() => as(host, SERVICE))),
      );
      try {
        const rows = await Promise.all(processes.map(pool));
        const active = rows.map((r) => Number(r.sv_active));
        expect(
          active.reduce((a, b) => a + b, 0),
          `round ${round}: ${active}`,
        ).toBe(entry.clients);
        for (const [i, r] of rows.entries()) {
          expect(Number(r.cl_waiting), `process ${i + 1}`).toBe(0);
          expect(Number(r.sv_active), `process ${i + 1}`).toBeLessThanOrEqual(entry.poolSize);
        }
      } finally {
        await closeAll(clients);
      }
    }
  });

  test("at the bound on one process every client is served; one more waits for the reserve", async () => {
    const clients = await Promise.all(
      Array.from({ length: entry.poolSize }, () => holding(() => viaProcess(host, 1, SERVICE))),
    );
    try {
      expect(Number((await pool(1)).sv_active)).toBe(entry.poolSize);
      expect(Number((await pool(1)).cl_waiting)).toBe(0);
      const extra = viaProcess(host, 1, SERVICE).then(async (c) => {
        clients.push(c);
        await c.query("SELECT pg_backend_pid()");
      });
      await waitFor(
        "the client past the pool to wait",
        async () => Number((await pool(1)).cl_waiting) === 1,
        2_000,
      );
      // reserve_pool_timeout later, the reserve takes it: past pool_size, within max_db_connections
      await extra;
      expect(Number((await pool(1)).sv_active)).toBe(entry.poolSize + 1);
      expect(entry.poolSize + 1).toBeLessThanOrEqual(entry.maxDbConnections);
    } finally {
      await closeAll(clients);
    }
  });
});
