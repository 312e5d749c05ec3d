import { describe, expect, test } from "vitest";
import { databaseReserveKey } from "../../platform/capabilities.js";
import { ADMIN_USER, STATS_USER, upstreamHost } from "../../pgbouncer/layout.js";
import { connect, pgbouncerTarget, processTarget } from "../../local/connect.js";
import { localLayout, localUpstreams } from "../../local/topology.js";
import {
  admin,
  adminViaProcess,
  configProblemLines,
  connectError,
  pgbouncerLog,
  plan,
  secrets,
} from "./helpers.js";

/** SHOW CONFIG / SHOW DATABASES on the live hosts against the plan, and who may do what. */
describe.each(plan.hosts.map((h) => [h.name, h] as const))("%s", (_, host) => {
  test("SHOW CONFIG matches the plan", async () => {
    const config = new Map(
      (await admin<{ key: string; value: string }>(host, "SHOW CONFIG")).map((r) => [
        r.key,
        r.value,
      ]),
    );
    const t = plan.config.pgbouncer.timeouts;
    expect(
      Object.fromEntries(
        [
          "listen_addr",
          "listen_port",
          "auth_type",
          "auth_hba_file",
          "max_client_conn",
          "query_wait_timeout",
          "server_lifetime",
          "idle_transaction_timeout",
          "admin_users",
          "stats_users",
          "stats_period",
        ].map((k) => [k, config.get(k)]),
      ),
    ).toEqual({
      listen_addr: localLayout(host).listenAddr,
      listen_port: String(plan.config.pgbouncer.port),
      auth_type: "hba",
      auth_hba_file: localLayout(host).hbaFile,
      max_client_conn: String(host.maxClientConn),
      query_wait_timeout: String(t.queryWaitSeconds),
      server_lifetime: String(t.serverLifetimeSeconds),
      idle_transaction_timeout: String(t.idleTransactionSeconds),
      admin_users: ADMIN_USER,
      stats_users: STATS_USER,
      stats_period: "15", // the local stack's override in Pulumi.local.yaml
    });
  });

  test("SHOW DATABASES matches every entry of the plan", async () => {
    // The console types its columns: numbers arrive as numbers, so compare as text.
    const rows = (await admin<Record<string, unknown>>(host, "SHOW DATABASES")).map((r) =>
      Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v === null ? null : String(v)])),
    );
    const upstreams = localUpstreams(plan);
    for (const e of plan.entries) {
      const row = rows.find((r) => r.name === e.name);
      expect(row, e.name).toBeDefined();
      expect({
        host: row!.host,
        port: row!.port,
        database: row!.database,
        pool_size: row!.pool_size,
        min_pool_size: row!.min_pool_size,
        reserve_pool: row![databaseReserveKey(plan.pgbouncerVersion)] ?? row!.reserve_pool,
        pool_mode: row!.pool_mode,
        max_connections: row!.max_connections,
      }).toEqual({
        host: upstreamHost(upstreams, e.node),
        port: String(upstreams.port),
        database: e.dbname,
        pool_size: String(e.poolSize),
        min_pool_size: String(e.minPoolSize),
        reserve_pool: String(e.reservePoolSize),
        pool_mode: e.poolMode,
        max_connections: String(e.maxDbConnections),
      });
    }
  });

  test("PgBouncer logged no warning or error about the rendered config, also after RELOAD", async () => {
    // The config is read at start (everything up to "process up") and on RELOAD (what it logs
    // right after): those are the lines to judge. Other files' faults log in between. Each
    // process of the host is asked through its own socket.
    for (let k = 1; k <= host.processes; k++) {
      const before = await pgbouncerLog(host, k);
      expect(before).toMatch(/process up: PgBouncer/);
      const startup = before.slice(0, before.indexOf("process up: PgBouncer"));
      await adminViaProcess(host, k, "RELOAD");
      await new Promise((r) => setTimeout(r, 300));
      const afterReload = (await pgbouncerLog(host, k)).slice(before.length);
      expect(afterReload).toMatch(/RELOAD command issued/);
      expect(configProblemLines(startup + afterReload)).toEqual([]);
    }
  });
});

describe("authentication and authorisation", () => {
  const host = plan.hosts[0]!;

  test("a wrong password is refused", async () => {
    const err = await connectError({
      ...pgbouncerTarget(plan, host, secrets, "orders", "orders"),
      password: "wrong-password-123456",
    });
    expect(err?.code).toBe("08P01");
    expect(err?.message).toMatch(/SASL authentication failed|password authentication failed/);
  });

  test("an unknown user is refused", async () => {
    const err = await connectError({
      ...pgbouncerTarget(plan, host, secrets, "orders", "orders"),
      user: "mallory",
    });
    expect(err?.code).toBe("08P01");
    expect(err?.message).toMatch(
      /SASL authentication failed|password authentication failed|no such user/,
    );
  });

  test("a service user cannot open the admin console, over TCP or on the socket", async () => {
    for (const target of [
      pgbouncerTarget(plan, host, secrets, "orders", "pgbouncer"),
      processTarget(plan, host, 1, secrets, "orders", "pgbouncer"),
    ])
      expect((await connectError(target))?.message, target.host).toMatch(/not allowed/);
  });

  test("the admin and stats users: refused on the host's TCP address, let in on its socket", async () => {
    for (const user of [ADMIN_USER, STATS_USER]) {
      const tcp = await connectError(pgbouncerTarget(plan, host, secrets, user, "pgbouncer"));
      expect(tcp, user).toMatchObject({
        code: "08P01",
        message: expect.stringMatching(/login rejected/),
      });
      expect(
        await connectError(processTarget(plan, host, 1, secrets, user, "pgbouncer")),
        user,
      ).toBeUndefined();
    }
  });

  test("the stats user reads SHOW POOLS but cannot run admin commands", async () => {
    const client = await connect(processTarget(plan, host, 1, secrets, STATS_USER, "pgbouncer"));
    try {
      expect((await client.query("SHOW POOLS")).rows.length).toBeGreaterThan(0);
      for (const command of ["RELOAD", "PAUSE orders", "SHUTDOWN", "KILL orders"]) {
        await expect(client.query(command), command).rejects.toThrow(/admin access needed/);
      }
    } finally {
      await client.end();
    }
  });

  test("SCRAM verifiers: ours equals the one Postgres computes for the same password and salt", async () => {
    const { superuserQuery, superuserScript } = await import("../../local/postgres-server.js");
    const { clusterNodes } = await import("../../local/postgres-nodes.js");
    const { clusterOptions } = await import("../../local/cluster.js");
    const { parseVerifier, scramVerifier, generatePassword } =
      await import("../../pgbouncer/scram.js");
    const primary = clusterNodes(clusterOptions(plan, secrets.replicationPassword))[0]!;
    const password = generatePassword();
    // through stdin: a password never goes on a command line (ps shows argv to every user)
    await superuserScript(
      primary,
      `DROP ROLE IF EXISTS scram_probe;\nCREATE ROLE scram_probe PASSWORD '${password}';\n`,
    );
    try {
      const stored = await superuserQuery(
        primary,
        "SELECT rolpassword FROM pg_authid WHERE rolname = 'scram_probe'",
      );
      const { salt, iterations } = parseVerifier(stored);
      expect(scramVerifier(password, salt, iterations)).toBe(stored);
    } finally {
      await superuserQuery(primary, "DROP ROLE scram_probe");
    }
    // and the service roles carry exactly the verifiers of the userlist (SCRAM pass-through)
    const roles = await superuserQuery(
      primary,
      "SELECT rolname || ' ' || rolpassword FROM pg_authid WHERE rolname IN (" +
        plan.services.map((s) => `'${s.name}'`).join(",") +
        ") ORDER BY 1",
    );
    expect(roles.split("\n")).toEqual(
      plan.services.map((s) => `${s.name} ${secrets.accounts[s.name]!.verifier}`).sort(),
    );
  });
});
