import { afterAll, afterEach, describe, expect, test } from "vitest";
import type { ClientProfile } from "../../platform/profiles.js";
import { localProfiles } from "../../local/tls.js";
import { pgbouncerPid, stopHost, upHost } from "../../local/pgbouncer.js";
import { killNode, restartNode } from "../../local/failover.js";
import { clusterUp } from "../../local/postgres.js";
import { superuserQuery } from "../../local/postgres-server.js";
import { clusterNodes } from "../../local/postgres-nodes.js";
import { clusterOptions } from "../../local/cluster.js";
import { pgbouncerAddress } from "../../local/topology.js";
import { waitFor } from "../../local/daemons.js";
import { createDatabase, isDatabaseCallError, type Database } from "../../resilience/index.js";
import { adminViaProcess, plan, secrets } from "./helpers.js";

/**
 * The resilience library against real faults on the local stack: processes killed and restarted,
 * not mocks. Each test puts the stack back as it found it.
 */
const options = clusterOptions(plan, secrets.replicationPassword);
const nodes = clusterNodes(options);
const [primaryNode, replica1] = [nodes[0]!, nodes[1]!];
const profileOf = (service: string, host = plan.hosts[0]!): ClientProfile => {
  const p = localProfiles(plan, pgbouncerAddress(host.index)).find((x) => x.service === service)!;
  return structuredClone(p);
};
const open: Database[] = [];
function database(
  profile: ClientProfile,
  extra: Partial<Parameters<typeof createDatabase>[1]> = {},
) {
  const db = createDatabase(profile, {
    password: secrets.accounts[profile.service]!.password,
    ...extra,
  });
  open.push(db);
  return db;
}
afterEach(async () => {
  await Promise.all(open.splice(0).map((db) => db.close()));
});

async function streamingReplicas(): Promise<number> {
  return Number(
    await superuserQuery(
      primaryNode,
      "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'",
    ),
  );
}
async function restoreCluster(): Promise<void> {
  await clusterUp(options);
  await waitFor("both replicas streaming", async () => (await streamingReplicas()) === 2, 30_000);
}
afterAll(restoreCluster);

/**
 * `workers` loops calling `op` for `ms`, while `during` disrupts the stack. The load outlasts the
 * disruption by `tailMs` whatever the machine's speed: a slow stop (1.23+ SIGTERM waits for
 * clients) must not end the window before the cut it is there to observe, nor before calls run
 * against what came back. Successes are counted per 100 ms bucket.
 */
async function load(
  ms: number,
  workers: number,
  op: (i: number, n: number) => Promise<unknown>,
  during?: () => Promise<void>,
  tailMs = 1000,
) {
  const started = Date.now();
  let until = during ? Infinity : started + ms;
  const buckets = new Map<number, number>();
  const errors: string[] = [];
  const loop = async (i: number) => {
    for (let n = 0; Date.now() < until; n++) {
      try {
        await op(i, n);
        const b = Math.floor((Date.now() - started) / 100);
        buckets.set(b, (buckets.get(b) ?? 0) + 1);
      } catch (e) {
        errors.push((e as Error).message);
      }
    }
  };
  const disrupt = during?.().finally(() => {
    until = Math.max(started + ms, Date.now() + tailMs);
  });
  await Promise.all([...Array.from({ length: workers }, (_, i) => loop(i)), disrupt]);
  return { buckets, errors };
}

describe("reads", () => {
  test("kill a replica under read load: no error reaches the caller, throughput back within 1 s", async () => {
    const db = database(profileOf("catalog"));
    await db.ready();
    expect(db.health().replicas[0]).toMatchObject({ eligible: true });
    const killAt = 1500;
    const { buckets, errors } = await load(
      4000,
      16,
      () => db.read("SELECT 1 AS one"),
      async () => {
        await new Promise((r) => setTimeout(r, killAt));
        await killNode(replica1);
      },
    );
    expect(errors).toEqual([]);
    const before = [...Array(10).keys()].map((i) => buckets.get(5 + i) ?? 0); // 0.5 s … 1.5 s
    const baseline = before.reduce((a, b) => a + b, 0) / before.length;
    const firstBucketAfterKill = Math.ceil(killAt / 100);
    const recovered = [...Array(30).keys()]
      .map((i) => firstBucketAfterKill + i)
      .find((b) => (buckets.get(b) ?? 0) >= baseline * 0.5);
    expect(recovered, `per-100ms reads: ${JSON.stringify([...buckets.entries()])}`).toBeDefined();
    expect((recovered! - firstBucketAfterKill) * 100).toBeLessThanOrEqual(1000);
  });

  test("reads follow lag tolerance: with every replica down they go to the primary, without errors", async () => {
    for (const n of nodes.slice(1)) await killNode(n);
    const db = database(profileOf("orders"));
    await db.ready();
    expect(db.health().replicas[0]).toMatchObject({ eligible: false });
    const rows = await db.read<{ recovery: boolean }>("SELECT pg_is_in_recovery() AS recovery");
    expect(rows.rows[0]!.recovery).toBe(false);
    await restoreCluster();
  });

  test("read-your-writes: a read with the caller's commit position sees the write", async () => {
    const db = database(profileOf("orders"));
    await db.ready();
    await db.write("CREATE TABLE IF NOT EXISTS ryw (id text PRIMARY KEY)");
    for (let i = 0; i < 20; i++) {
      const id = `ryw-${Date.now()}-${i}`;
      await db.write("INSERT INTO ryw VALUES ($1)", [id]);
      const lsn = await db.currentLsn();
      const seen = await db.read("SELECT 1 FROM ryw WHERE id = $1", [id], { minLsn: lsn });
      expect(seen.rowCount, id).toBe(1);
    }
  });

  test("a write sent as a read reaches the primary (25006 is rerouted)", async () => {
    const db = database(profileOf("orders"));
    await db.ready();
    await db.write("CREATE TABLE IF NOT EXISTS rerouted (id int)");
    await db.read("SELECT 1 FROM rerouted", [], { minLsn: await db.currentLsn() }); // replicas have it
    // the read went to a replica first, which refused it (25006), and then to the primary
    const refusedBy: string[] = [];
    db.events.on("retry", (e) => {
      if (e.reason === "read-only-server") refusedBy.push(e.target);
    });
    const r = await db.read(
      "INSERT INTO rerouted VALUES (1) RETURNING pg_is_in_recovery() AS recovery",
    );
    expect(r.rows[0]?.recovery).toBe(false);
    expect(refusedBy).toHaveLength(1);
    expect(refusedBy[0]).toMatch(/^orders_ro_replica\d$/);
  });
});

test("metrics and events record what happened: reads by target, lag seen, attempts, retries", async () => {
  const db = database(profileOf("catalog"));
  const lags: number[] = [];
  db.events.on("lag", (e) => lags.push(e.seconds));
  await db.ready();
  for (let i = 0; i < 20; i++) await db.read("SELECT 1");
  await db.write("SELECT 1");
  const text = await db.metrics.metrics();
  // Reads take the replicas in turn: all 20 on them, some on each.
  const reads = [
    ...text.matchAll(
      /pgpooling_client_reads_total\{service="catalog",target="catalog_ro_replica[12]"\} (\d+)/g,
    ),
  ].map((m) => Number(m[1]));
  expect(reads.length, text).toBe(2);
  expect(reads.reduce((a, b) => a + b, 0)).toBe(20);
  expect(Math.min(...reads)).toBeGreaterThan(0);
  expect(text).toMatch(
    /pgpooling_client_attempts_total\{service="catalog",target="primary",outcome="ok"\} 1/,
  );
  expect(text).toMatch(
    /pgpooling_client_breaker_state\{service="catalog",target="catalog_ro_replica1"\} 0/,
  );
  expect(text).toMatch(
    /pgpooling_client_replica_lag_seconds\{service="catalog",target="catalog_ro_replica1"\} [0-9.]+/,
  );
  expect(lags.length).toBeGreaterThan(0);
  expect(db.health()).toMatchObject({
    service: "catalog",
    primary: { breaker: "closed" },
    replicas: [
      { target: "catalog_ro_replica1", breaker: "closed", eligible: true },
      { target: "catalog_ro_replica2", breaker: "closed", eligible: true },
    ],
  });
});

describe("writes", () => {
  test("fast restart of the primary under write load: acknowledged writes all present, none applied twice", async () => {
    const db = database(profileOf("payments"), { retry: { maxAttempts: 6, maxDelayMs: 1000 } });
    await db.write(
      "CREATE TABLE IF NOT EXISTS ledger (id text NOT NULL, at timestamptz DEFAULT now())",
    );
    const acked: string[] = [];
    const unknown: string[] = [];
    const { errors } = await load(
      5000,
      6,
      async (i, n) => {
        const id = `w-${i}-${n}-${Date.now()}`;
        try {
          await db.write("INSERT INTO ledger (id) VALUES ($1)", [id]); // not idempotent: no key
          acked.push(id);
        } catch (e) {
          if (isDatabaseCallError(e)) unknown.push(id);
          throw e;
        }
      },
      async () => {
        await new Promise((r) => setTimeout(r, 1000));
        await restartNode(primaryNode);
      },
    );
    expect(acked.length).toBeGreaterThan(50);
    // every error is one the library refused to retry because the outcome was unknown, or because
    // the pooler was still reconnecting when the retries ran out
    for (const e of errors) expect(e).toMatch(/failed after \d+ attempts?/);
    await waitFor(
      "the primary reachable through PgBouncer again",
      () =>
        db.currentLsn().then(
          () => true,
          () => false,
        ),
      30_000,
    );
    // Read-your-writes: whichever node answers has replayed everything up to now.
    const rows = await db.read<{ id: string; c: string }>(
      "SELECT id, count(*)::text AS c FROM ledger GROUP BY id",
      [],
      { minLsn: await db.currentLsn() },
    );
    const seen = new Map(rows.rows.map((r) => [r.id, Number(r.c)]));
    expect(acked.filter((id) => seen.get(id) !== 1)).toEqual([]);
    expect([...seen.values()].filter((c) => c > 1)).toEqual([]);
    // the ids whose outcome was unknown are there at most once too: nothing was applied twice
    expect(unknown.filter((id) => (seen.get(id) ?? 0) > 1)).toEqual([]);
    await restoreCluster();
  }, 120_000);
});

describe("pooler and pool", () => {
  test("restart a PgBouncer host: callers recover through retries", async () => {
    const host = plan.hosts[0]!;
    const db = database(profileOf("orders", host), {
      retry: { maxAttempts: 20, initialDelayMs: 50, maxDelayMs: 500 },
    });
    await db.write("CREATE TABLE IF NOT EXISTS kv (k text PRIMARY KEY, v int)");
    await db.ready();
    await db.read("SELECT 1 FROM kv", [], { minLsn: await db.currentLsn() }); // replicas have it
    let retries = 0;
    db.events.on("retry", () => retries++);
    const pidBefore = await pgbouncerPid(host);
    // from 1.23 a first SIGTERM waits for clients, and stopHost sends the second (immediate) one
    // 5 s later: the load runs until the host is back, however long that takes here
    const { errors } = await load(
      9000,
      3,
      (i, n) =>
        n % 2 === 0
          ? db.read("SELECT v FROM kv WHERE k = $1", [`k${i}`])
          : db.write(
              "INSERT INTO kv VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = excluded.v",
              [`k${i}`, n],
              { idempotent: true },
            ),
      async () => {
        await new Promise((r) => setTimeout(r, 1000));
        await stopHost(host);
        await upHost(plan, host, secrets);
      },
    );
    expect(errors).toEqual([]);
    expect(retries).toBeGreaterThan(0);
    expect(await pgbouncerPid(host)).not.toBe(pidBefore);
  });

  test("connections PgBouncer closes are counted as lost; those the pool closes itself are not", async () => {
    const host = plan.hosts[0]!;
    const profile = profileOf("orders", host);
    profile.idleTimeoutMs = 300;
    const db = database(profile);
    const primary = () => db.health().primary.connections;
    await db.warm();
    expect(primary().open).toBe(profile.rw.poolMax);
    await waitFor("the pool to close its idle connections", async () => primary().open === 0, 5000);
    expect(primary().lost).toBe(0);
    await db.warm();
    const opened = primary().open;
    const processes = Array.from({ length: host.processes }, (_, k) => k + 1);
    try {
      for (const k of processes) await adminViaProcess(host, k, "KILL orders");
      await waitFor("every killed connection counted", async () => primary().lost === opened, 5000);
    } finally {
      for (const k of processes) await adminViaProcess(host, k, "RESUME orders");
    }
    expect(primary().lost).toBe(opened);
  });

  test("exhaust a pool: the bulkhead rejects with a clear error and timeouts cancel on the server", async () => {
    const profile = profileOf("reporting");
    profile.rw.poolMax = 2;
    const db = database(profile, { queuePerTarget: 1, statementTimeoutMs: 500 });
    const calls = Array.from({ length: 5 }, () =>
      db.write("SELECT pg_sleep(3)").then(
        () => "ok",
        (e: Error) => e.message,
      ),
    );
    const outcomes = await Promise.all(calls);
    console.log(outcomes);
    const rejected = outcomes.filter((m) =>
      /all 2 connections busy and 1 callers already waiting; call rejected \(bulkhead\)/.test(m),
    );
    const timedOut = outcomes.filter((m) => /statement cancelled after 500 ms/.test(m));
    expect(rejected).toHaveLength(2);
    expect(timedOut).toHaveLength(3); // two ran, one waited for a slot; each was cancelled at 500 ms
    // cancelled on the server, not just abandoned by the client
    await waitFor(
      "no pg_sleep left on the primary",
      async () =>
        Number(
          await superuserQuery(
            primaryNode,
            "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep%' AND state = 'active'",
          ),
        ) === 0,
      2000,
    );
  });

  test("a statement timeout on an ro entry ends the call in time, even when the cancel misses", async () => {
    // PgBouncer sends a cancel through a new server connection, and on a multi-host entry that
    // one may go to the other replica: the library then drops the connection after a grace.
    const db = database(profileOf("reporting"), { statementTimeoutMs: 300 });
    await db.ready();
    for (let i = 0; i < 4; i++) {
      const started = Date.now();
      await expect(db.read("SELECT pg_sleep(20)")).rejects.toThrow(
        /statement cancelled after 300 ms/,
      );
      expect(Date.now() - started).toBeLessThan(5000);
    }
  });

  // GIVEN a transaction whose body runs two statements at once on its connection (pg queues the
  // second) WHEN the first returns at once and the second hangs THEN the second still times out:
  // each statement keeps its own deadline, not the connection's.
  test("a statement queued behind another on the same connection keeps its own timeout", async () => {
    const db = database(profileOf("orders"), {
      statementTimeoutMs: 400,
      retry: { maxAttempts: 1 },
    });
    const started = Date.now();
    await expect(
      // after the first statement (which carries BEGIN, and which any other waits for), so that
      // the two are on the connection at once
      db.transaction(
        async (q) => {
          await q("SELECT 1");
          return Promise.all([q("SELECT 1"), q("SELECT pg_sleep(20)")]);
        },
        { resolveOutcome: false },
      ),
    ).rejects.toThrow(/statement cancelled after 400 ms/);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  test("the breaker opens on a dead target and closes after it returns, probing more than once", async () => {
    const host = plan.hosts[1]!;
    const db = database(profileOf("identity", host), {
      breaker: { consecutiveFailures: 3, halfOpenAfterMs: 300, halfOpenProbes: 3 },
      retry: { maxAttempts: 1 },
    });
    const states: string[] = [];
    db.events.on("breaker", (e) => e.target === "primary" && states.push(e.state));
    await db.write("SELECT 1");
    await stopHost(host);
    try {
      const failures: { class: string; reason: string }[] = [];
      const reasons = () => failures.map((f) => f.reason);
      for (let i = 0; i < 8 && !reasons().includes("breaker-open"); i++) {
        await db.write("SELECT 1").catch((e) => failures.push(e.classification));
      }
      // The pooled connection the stop cut may fail the first call (outcome unknown, or known not
      // committed); it does not count, because a cut connection is not an unreachable target.
      // Three refused connects do.
      const opened = reasons().indexOf("breaker-open");
      const counted = failures.slice(0, opened).filter((f) => /^(network-|pooler-)/.test(f.reason));
      expect(counted, JSON.stringify(failures)).toHaveLength(3);
      expect(failures.slice(0, opened).length - counted.length).toBeLessThanOrEqual(1);
      expect(db.health().primary.breaker).toBe("open");
    } finally {
      await upHost(plan, host, secrets);
    }
    await new Promise((r) => setTimeout(r, 350));
    await db.write("SELECT 1");
    expect(db.health().primary.breaker).toBe("half-open"); // one good probe is not enough
    await db.write("SELECT 1");
    await db.write("SELECT 1");
    expect(db.health().primary.breaker).toBe("closed");
    expect(states).toEqual(["open", "half-open", "closed"]);
  });

  test("a call the primary's open breaker turns away retries when the breaker lets probes through, not a whole period later", async () => {
    const host = plan.hosts[1]!;
    const halfOpenAfterMs = 5000;
    const db = database(profileOf("identity", host), {
      breaker: { consecutiveFailures: 3, halfOpenAfterMs, halfOpenProbes: 1 },
      retry: { maxAttempts: 2 },
    });
    let openedAt = 0;
    db.events.on("breaker", (e) => {
      if (e.target === "primary" && e.state === "open") openedAt = Date.now();
    });
    await db.write("SELECT 1");
    await stopHost(host);
    try {
      for (let i = 0; i < 8 && db.health().primary.breaker !== "open"; i++)
        await db.write("SELECT 1").catch(() => {});
      expect(db.health().primary.breaker).toBe("open");
    } finally {
      await upHost(plan, host, secrets);
    }
    // 3.5 s into the open period (the host is back by then): the retry waits out the rest.
    await new Promise((r) => setTimeout(r, Math.max(0, openedAt + 3500 - Date.now())));
    const calledAt = Date.now();
    expect(calledAt, "the call must meet the breaker still open").toBeLessThan(
      openedAt + halfOpenAfterMs - 500,
    );
    await db.write("SELECT 1");
    // Not before the breaker let probes through, and well before a whole period from the refusal
    // (which the retry used to wait: calledAt + 5000).
    expect(Date.now()).toBeGreaterThanOrEqual(openedAt + halfOpenAfterMs - 50);
    expect(Date.now() - calledAt).toBeLessThan(3000);
    expect(db.health().primary.breaker).toBe("closed");
  });
});

test("fallbacks: a stale value for a read and a queued write while the database is down; bad SQL never falls back", async () => {
  const host = plan.hosts[1]!;
  const db = database(profileOf("payments", host), { retry: { maxAttempts: 2, maxDelayMs: 50 } });
  const queue: unknown[][] = [];
  const used: string[] = [];
  db.events.on("fallback", (e) => used.push(`${e.operation}:${e.reason}`));
  await expect(db.read("SELEC 1", [], { fallback: () => ({ rows: [] }) as never })).rejects.toThrow(
    /permanent: sqlstate-42601/,
  );
  await stopHost(host);
  try {
    const stale = await db.read<{ v: number }>("SELECT 42 AS v", [], {
      fallback: () => ({ rows: [{ v: 41 }] }) as never,
    });
    expect(stale.rows[0]!.v).toBe(41);
    const queued = await db.write("INSERT INTO ledger (id) VALUES ($1)", ["later"], {
      fallback: (error) => {
        queue.push(["INSERT INTO ledger (id) VALUES ($1)", ["later"], error.classification.reason]);
        return { rows: [], rowCount: 0 } as never;
      },
    });
    expect(queued.rowCount).toBe(0);
    expect(queue).toHaveLength(1);
    expect(used).toHaveLength(2);
    expect(await db.metrics.metrics()).toMatch(
      /pgpooling_client_fallbacks_total\{service="payments",operation="write"\} 1/,
    );
  } finally {
    await upHost(plan, host, secrets);
  }
});
