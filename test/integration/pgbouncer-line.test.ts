import { afterAll, describe, expect, test } from "vitest";
import { compareVersions, databaseReserveKey, knows } from "../../platform/capabilities.js";
import { connect, pgbouncerTarget } from "../../local/connect.js";
import { waitFor } from "../../local/daemons.js";
import { pgbouncerPid, upHost } from "../../local/pgbouncer.js";
import { localUpstreams, replicaAddress } from "../../local/topology.js";
import { admin, as, plan, secrets, viaProcess } from "./helpers.js";

/**
 * What the config of each PgBouncer line relies on, proven on the real binary that runs it: this
 * file passes on Debian 12's 1.18 and on the production line (Debian sid's 1.26), asserting each
 * line's own behaviour (npm test runs it once per line).
 */
const version = plan.pgbouncerVersion;
const line = version.slice(0, 2).join(".");
const tracksPrepared = knows(version, "pgbouncer", "max_prepared_statements");
const gracefulTerm = compareVersions(version, [1, 23, 0]) >= 0;
/** 1.26 tracks every parameter the server reports; PostgreSQL 18 reports search_path. */
const tracksSearchPath = compareVersions(version, [1, 26, 0]) >= 0;

describe(`PgBouncer ${version.join(".")}`, () => {
  test("max_prepared_statements: named prepared statements work in transaction pooling from 1.21; before, the render keeps them in session pooling", async () => {
    const host = plan.hosts[0]!;
    const config = await admin<{ key: string; value: string }>(host, "SHOW CONFIG");
    expect(config.find((r) => r.key === "max_prepared_statements")?.value).toBe(
      tracksPrepared ? "200" : undefined,
    );
    const accounts = plan.services.find((s) => s.name === "accounts")!; // declares preparedStatements
    expect(accounts.poolMode).toBe(tracksPrepared ? "transaction" : "session");

    // catalog is a transaction pool: more clients than server connections, each reusing a named
    // statement, so executions land on server connections that never saw the Parse
    const catalog = plan.entries.find((e) => e.name === "catalog_ro_replica1")!;
    const clients = await Promise.all(
      Array.from({ length: catalog.poolSize * 3 }, () =>
        as(host, "catalog", "catalog_ro_replica1"),
      ),
    );
    const failures: string[] = [];
    const wrong: string[] = [];
    try {
      await Promise.all(
        clients.map(async (c, i) => {
          for (let n = 0; n < 20; n++) {
            try {
              const r = await c.query<{ n: number }>({
                name: "by_id",
                text: "SELECT $1::int + 1 AS n, pg_sleep(0.001)",
                values: [i],
              });
              // checked after the run, outside the catch: a wrong answer is never a "failure"
              if (r.rows[0]?.n !== i + 1) wrong.push(`client ${i} got ${r.rows[0]?.n}`);
            } catch (e) {
              failures.push(`${(e as { code?: string }).code}: ${(e as Error).message}`);
            }
          }
        }),
      );
    } finally {
      await Promise.all(clients.map((c) => c.end().catch(() => {})));
    }
    expect(wrong).toEqual([]);
    if (tracksPrepared) expect(failures).toEqual([]);
    else
      expect(
        failures.some((f) => /^(26000|42P05): prepared statement "by_id"/.test(f)),
        failures.slice(0, 3).join("\n"),
      ).toBe(true);
  });

  test("each replica has its own ro entry naming only it (no host list, no load_balance_hosts); the reserve key is the line's", async () => {
    const host = plan.hosts[0]!;
    const rows = (await admin<Record<string, unknown>>(host, "SHOW DATABASES")).map((r) =>
      Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v === null ? null : String(v)])),
    );
    const upstreams = localUpstreams(plan);
    for (const [i, replica] of upstreams.replicas.entries()) {
      const name = `reporting_ro_replica${i + 1}`;
      const ro = rows.find((r) => r.name === name)!;
      expect(ro.host, name).toBe(replica);
      if (knows(version, "databases", "load_balance_hosts"))
        expect(ro.load_balance_hosts ?? "round-robin").toBe("round-robin"); // the default: one host
      const entry = plan.entries.find((e) => e.name === name)!;
      expect(ro[databaseReserveKey(version)]).toBe(String(entry.reservePoolSize));
      // Its clients reach that replica and no other.
      const clients = await Promise.all(
        Array.from({ length: 4 }, () => as(host, "reporting", name)),
      );
      try {
        const addrs = await Promise.all(
          clients.map(
            async (c) =>
              (await c.query<{ a: string }>("SELECT host(inet_server_addr()) AS a")).rows[0]!.a,
          ),
        );
        expect(new Set(addrs)).toEqual(new Set([replicaAddress(i)]));
      } finally {
        await Promise.all(clients.map((c) => c.end()));
      }
    }
    expect(databaseReserveKey(version)).toBe(
      line === "1.18" ? "reserve_pool" : "reserve_pool_size",
    );
  });

  test(
    tracksSearchPath
      ? "from 1.26 on PostgreSQL 18: a session-level SET search_path stays with its client in a transaction pool"
      : "before 1.26: a session-level SET search_path leaks to the next client of the server connection",
    async () => {
      // orders is a transaction pool on every line. PgBouncer hands out the server connection
      // used last (LIFO), so the next client of process 1 gets the one the SET ran on.
      expect(plan.entries.find((e) => e.name === "orders")!.poolMode).toBe("transaction");
      const host = plan.hosts[0]!;
      const setter = await viaProcess(host, 1, "orders");
      const other = await viaProcess(host, 1, "orders");
      try {
        type Row = { pid: number; search_path: string };
        const sql = "SELECT pg_backend_pid() AS pid, current_setting('search_path') AS search_path";
        await setter.query("SET search_path TO leaked_schema, public");
        const mine = (await setter.query<Row>(sql)).rows[0]!;
        const theirs = (await other.query<Row>(sql)).rows[0]!;
        expect(theirs.pid).toBe(mine.pid); // the same server connection
        expect(mine.search_path).toBe("leaked_schema, public");
        expect(theirs.search_path).toBe(
          tracksSearchPath ? '"$user", public' : "leaked_schema, public",
        );
      } finally {
        await Promise.all([setter.end(), other.end()]);
      }
    },
  );

  describe("SIGTERM", () => {
    const host = plan.hosts[1]!;
    afterAll(async () => {
      await upHost(plan, host, secrets);
    });

    test(
      gracefulTerm
        ? "from 1.23: the process takes no new client, a client mid-transaction finishes, then it exits"
        : "before 1.23: an immediate shutdown that drops connected clients",
      async () => {
        const pid = (await pgbouncerPid(host))!;
        const client = await viaProcess(host, 1, "orders"); // on the process that gets the signal
        await client.query("CREATE TABLE IF NOT EXISTS sigterm_probe (id int)");
        await client.query("BEGIN");
        await client.query("INSERT INTO sigterm_probe VALUES (1)");
        process.kill(pid, "SIGTERM");
        await new Promise((r) => setTimeout(r, 300));
        if (gracefulTerm) {
          const newcomer = await connect(
            pgbouncerTarget(plan, host, secrets, "orders", "orders"),
            2000,
          ).then(
            (c) => c.end().then(() => "connected"),
            (e: Error) => e.message,
          );
          // refused on a one-process host; on several, another process serves it (so_reuseport)
          expect(newcomer === "connected").toBe(host.processes > 1);
          await client.query("INSERT INTO sigterm_probe VALUES (2)");
          await client.query("COMMIT");
          expect(await pgbouncerPid(host)).toBe(pid); // still waiting for its client
          await client.end();
          await waitFor(
            "PgBouncer to exit once its last client left",
            async () => (await pgbouncerPid(host)) === undefined,
            10_000,
          );
        } else {
          await expect(client.query("INSERT INTO sigterm_probe VALUES (2)")).rejects.toThrow();
          await waitFor(
            "PgBouncer to exit",
            async () => (await pgbouncerPid(host)) === undefined,
            10_000,
          );
          await client.end().catch(() => {});
        }
      },
    );
  });
});
