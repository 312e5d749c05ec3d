import type pg from "pg";
import { expect, test } from "vitest";
import { connect, pgbouncerTarget } from "../../local/connect.js";
import { adminViaProcess, plan, secrets } from "./helpers.js";

/**
 * GIVEN a host whose max_client_conn the plan set (clients at peak + room for admin and exporter
 *   connections, which count too: the local exporter holds one per process)
 * WHEN that many clients are connected and one more tries
 * THEN the extra one gets PgBouncer's own error and the others keep working.
 */
test("the client past max_client_conn gets PgBouncer's error; the others keep working", async () => {
  const host = plan.hosts[1]!;
  const target = pgbouncerTarget(plan, host, secrets, "catalog", "catalog_ro_replica1");
  // max_client_conn is per process: the kernel spreads TCP clients over a host's processes
  // Connections the process holds already, less our own admin connection. The local exporter
  // connects for each scrape (every few seconds, for milliseconds): one may hold a slot right then.
  const held = (await adminViaProcess(host, 1, "SHOW CLIENTS")).length - 1;
  const scrapeSlot = 1;
  const clients: pg.Client[] = [];
  let refusal: { code?: string; message: string } | undefined;
  try {
    // Fill the host in batches until PgBouncer refuses; bounded by max_client_conn + a margin.
    while (!refusal && clients.length <= host.maxClientConn * host.processes + 50) {
      const batch = await Promise.allSettled(
        Array.from({ length: 50 }, () => connect(target, 30_000)),
      );
      for (const r of batch) {
        if (r.status === "fulfilled") clients.push(r.value);
        else refusal ??= r.reason as { code?: string; message: string };
      }
    }
    expect(refusal?.message).toBe("no more connections allowed (max_client_conn)");
    expect(refusal?.code).toBe("08P01");
    if (host.processes === 1) {
      expect(clients.length).toBeLessThanOrEqual(host.maxClientConn - held);
      expect(clients.length).toBeGreaterThanOrEqual(host.maxClientConn - held - scrapeSlot);
    } else {
      // one process is full: the others took their share, never more than their own limit
      expect(clients.length).toBeGreaterThanOrEqual(host.maxClientConn - held - scrapeSlot);
      // (the last batch of 50 may fill the others too, never past their own limits)
      expect(clients.length).toBeLessThanOrEqual(host.maxClientConn * host.processes);
    }

    const sample = clients.filter((_, i) => i % 50 === 0);
    const answers = await Promise.all(
      sample.map((c) => c.query<{ one: number }>("select 1 as one")),
    );
    expect(answers.map((a) => a.rows[0]!.one)).toEqual(sample.map(() => 1));
  } finally {
    await Promise.all(clients.map((c) => c.end().catch(() => {})));
  }
  // capacity is back once they are gone
  const again = await connect(target);
  await again.end();
});
