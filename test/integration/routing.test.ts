import { describe, expect, test } from "vitest";
import { queryOnce, type PoolRow } from "../../local/connect.js";
import { PRIMARY_ADDRESS, replicaAddress } from "../../local/topology.js";
import { adminViaProcess, as, connectError, plan, secrets } from "./helpers.js";
import { pgbouncerTarget, processTarget } from "../../local/connect.js";

/**
 * GIVEN the local stack from Pulumi.local.yaml
 * WHEN every service connects through every PgBouncer host with its SCRAM password
 * THEN its rw entry reaches the primary and its ro entry a replica.
 */
describe("every service through every host", () => {
  for (const host of plan.hosts) {
    for (const service of plan.services) {
      test(`${service.name} via ${host.name}`, async () => {
        for (const entry of service.entries) {
          const client = await as(host, service.name, entry.name);
          try {
            const { rows } = await client.query<{
              recovery: boolean;
              addr: string;
              db: string;
              usr: string;
            }>(
              "select pg_is_in_recovery() as recovery, host(inet_server_addr()) as addr, current_database() as db, current_user as usr",
            );
            const row = rows[0]!;
            expect(row.db).toBe(service.name);
            expect(row.usr).toBe(service.name);
            if (entry.role === "rw") {
              expect(row).toMatchObject({ recovery: false, addr: PRIMARY_ADDRESS });
            } else {
              expect(row.recovery).toBe(true);
              expect([replicaAddress(0), replicaAddress(1)]).toContain(row.addr);
            }
          } finally {
            await client.end();
          }
        }
      });
    }
  }
});

test("a service cannot reach another service's database", async () => {
  const err = await connectError(
    pgbouncerTarget(plan, plan.hosts[0]!, secrets, "orders", "catalog"),
  );
  expect(err?.message).toMatch(/permission denied for database "catalog"/);
});

test("pool modes live in SHOW POOLS as planned", async () => {
  const host = plan.hosts[1]!;
  // a pool row appears once a client has used the entry: use it, and ask, on one process
  for (const e of plan.entries) {
    await queryOnce(processTarget(plan, host, 1, secrets, e.service, e.name), "select 1");
  }
  const pools = await adminViaProcess<PoolRow>(host, 1, "SHOW POOLS");
  for (const e of plan.entries) {
    expect(
      pools.find((p) => p.database === e.name && p.user === e.service)?.pool_mode,
      e.name,
    ).toBe(e.poolMode);
  }
});

test("temp tables work through reporting's rw entry and are refused on a replica: why its ro entries pool by transaction", async () => {
  const host = plan.hosts[0]!;
  const reporting = plan.services.find((s) => s.name === "reporting")!;
  const [rw, ro] = [reporting.entries[0]!, reporting.entries.find((e) => e.role === "ro")!];
  expect([rw.poolMode, ro.poolMode]).toEqual(["session", "transaction"]);
  const onPrimary = await as(host, "reporting", rw.name);
  try {
    await onPrimary.query("CREATE TEMP TABLE report_scratch (day int)");
    await onPrimary.query("INSERT INTO report_scratch VALUES (1)");
    // the same session sees it: the rw entry holds the session for the client
    expect((await onPrimary.query("SELECT count(*)::int AS n FROM report_scratch")).rows).toEqual([
      { n: 1 },
    ]);
  } finally {
    await onPrimary.end();
  }
  const onReplica = await as(host, "reporting", ro.name);
  try {
    await expect(onReplica.query("CREATE TEMP TABLE report_scratch (day int)")).rejects.toThrow(
      /read-only transaction|during recovery/,
    );
  } finally {
    await onReplica.end();
  }
});
