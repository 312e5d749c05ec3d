import pg from "pg";
import { afterAll, expect, test } from "vitest";
import { localProfiles } from "../../local/tls.js";
import { processPid, startProcess, stopProcess, upHost } from "../../local/pgbouncer.js";
import { localLayout, pgbouncerAddress } from "../../local/topology.js";
import { createDatabase } from "../../resilience/index.js";
import { adminViaProcess, plan, secrets, viaProcess } from "./helpers.js";

/**
 * Several PgBouncer processes per host (so_reuseport, [peers]): the production line runs two. A
 * process restarts while the others take its clients, and a cancel request that reaches the
 * wrong process is passed on to the right one. Debian's 1.18 has no [peers], so the local stack
 * runs one process per host there, and this file checks that is why.
 */
const host = plan.hosts[0]!;
const multi = host.processes > 1;
afterAll(async () => {
  await upHost(plan, host, secrets);
});

test(
  multi
    ? "rolling restart, one process at a time, under load: no caller sees an error"
    : "one process per host: this line has no [peers]",
  async () => {
    if (!multi) {
      // asked of the running PgBouncer, not of the capability table
      const keys = (await adminViaProcess<{ key: string }>(host, 1, "SHOW CONFIG")).map(
        (r) => r.key,
      );
      expect(keys).toContain("listen_port");
      expect(keys).not.toContain("peer_id");
      return;
    }
    const profile = localProfiles(plan, pgbouncerAddress(host.index)).find(
      (p) => p.service === "orders",
    )!;
    const db = createDatabase(profile, {
      password: secrets.accounts.orders!.password,
      retry: { maxAttempts: 10, maxDelayMs: 200 },
    });
    try {
      await db.write("CREATE TABLE IF NOT EXISTS rolling (id text PRIMARY KEY)");
      const errors: string[] = [];
      let done = 0;
      let running = true;
      const workers = Array.from({ length: 4 }, async (_, w) => {
        for (let n = 0; running; n++) {
          try {
            await db.write(
              "INSERT INTO rolling VALUES ($1) ON CONFLICT DO NOTHING",
              [`${w}-${n}-${Date.now()}`],
              { idempotent: true },
            );
            done++;
          } catch (e) {
            errors.push((e as Error).message);
          }
        }
      });
      const before = await Promise.all([1, 2].map((k) => processPid(host, k)));
      for (const k of [1, 2]) {
        // SIGINT: stop listening (the other process gets new clients), finish what runs, disconnect
        // clients at their next query; the library reconnects them, to the other process
        await stopProcess(host, k, ["SIGINT", "SIGTERM", "SIGKILL"], 10_000);
        await startProcess(plan, host, k);
        await new Promise((r) => setTimeout(r, 500));
      }
      running = false;
      await Promise.all(workers);
      const after = await Promise.all([1, 2].map((k) => processPid(host, k)));
      expect(after.every((pid, i) => pid !== undefined && pid !== before[i])).toBe(true);
      expect(errors).toEqual([]);
      expect(done).toBeGreaterThan(100);
    } finally {
      await db.close();
    }
  },
  120_000,
);

test(
  multi
    ? "a cancel request sent to the other process is passed on through [peers]"
    : "no [peers] before 1.19",
  async () => {
    if (!multi) {
      // asked of the running PgBouncer, not of the capability table
      const keys = (await adminViaProcess<{ key: string }>(host, 1, "SHOW CONFIG")).map(
        (r) => r.key,
      );
      expect(keys).toContain("listen_port");
      expect(keys).not.toContain("peer_id");
      return;
    }
    // a single-host entry: on a multi-host one PgBouncer may send the cancel to the other replica
    // (docs/local-stack.md), which would blur what this test is about
    const client = await viaProcess(host, 1, "reporting", "reporting");
    try {
      const { processID, secretKey } = client as unknown as {
        processID: number;
        secretKey: number;
      };
      const started = Date.now();
      const sleeping = client.query("SELECT pg_sleep(20)").then(
        () => "finished",
        (e: { code?: string }) => e.code,
      );
      await new Promise((r) => setTimeout(r, 300));
      // the CancelRequest goes to process 2's socket; process 1 holds the client
      const socket = `${localLayout(host, undefined, 2).unixSocketDir}/.s.PGSQL.${plan.config.pgbouncer.port}`;
      const canceller = new pg.Connection() as unknown as {
        on(e: string, f: () => void): void;
        connect(path: string): void;
        cancel(pid: number, key: number): void;
      };
      canceller.on("error", () => {});
      canceller.on("connect", () => canceller.cancel(processID, secretKey));
      canceller.connect(socket);
      expect(await sleeping).toBe("57014"); // query_canceled
      expect(Date.now() - started).toBeLessThan(10_000);
    } finally {
      await client.end();
    }
  },
);
