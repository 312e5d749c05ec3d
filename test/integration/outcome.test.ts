import type pg from "pg";
import { afterAll, afterEach, beforeAll, expect, test } from "vitest";
import { connect, endpointTarget } from "../../local/connect.js";
import { waitFor } from "../../local/daemons.js";
import { superuserQuery, superuserScript } from "../../local/postgres-server.js";
import { clusterNodes } from "../../local/postgres-nodes.js";
import { clusterOptions } from "../../local/cluster.js";
import { localProfiles } from "../../local/tls.js";
import { resolveOutcome, XID_SQL, XidStatement, type TxRef } from "../../resilience/outcome.js";
import {
  createDatabase,
  isDatabaseCallError,
  type Database,
  type ResilienceEvents,
} from "../../resilience/index.js";
import { plan, secrets } from "./helpers.js";

/**
 * Writes whose connection dies mid-flight, on the real stack: the backend serving the write is
 * terminated on the primary at a chosen moment (during its COMMIT, or before it), and the library
 * must learn from pg_xact_status() what became of it, so the caller sees the truth, not
 * "outcome unknown".
 */
const options = clusterOptions(plan, secrets.replicationPassword);
const [primary, ...replicas] = clusterNodes(options);
const profile = () => structuredClone(localProfiles(plan).find((p) => p.service === "orders")!);
const open: Database[] = [];
const password = secrets.accounts.orders!.password;

function database(extra: Partial<Parameters<typeof createDatabase>[1]> = {}) {
  const db = createDatabase(profile(), { password, ...extra });
  open.push(db);
  const outcomes: ResilienceEvents["outcome"]["outcome"][] = [];
  db.events.on("outcome", (e) => outcomes.push(e.outcome));
  return { db, outcomes };
}

/** Terminates (once) the orders backend running a statement that contains `marker`. */
async function terminateWhen(marker: string, state = "active"): Promise<number> {
  let terminated = 0;
  await waitFor(
    `a backend running ${marker}`,
    async () => {
      terminated = Number(
        await superuserQuery(
          primary!,
          `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = 'orders' ` +
            `AND state = '${state}' AND query LIKE '%${marker}%' AND pid <> pg_backend_pid()`,
        ),
      );
      return terminated > 0;
    },
    10_000,
    50,
  );
  return terminated;
}

async function rowsWith(id: string): Promise<number> {
  // The ids are this file's own ([a-z0-9-]): nothing here is outside input.
  const out = await superuserScript(
    primary!,
    `\\c orders\nSELECT count(*) FROM outcome_writes WHERE id = '${id}';\n`,
  );
  return Number(out.trim().split("\n").at(-1));
}

beforeAll(async () => {
  const { db } = database({ retry: { maxAttempts: 1 } });
  await db.write(
    "CREATE TABLE IF NOT EXISTS outcome_writes (id text, at timestamptz DEFAULT now())",
  );
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((db) => db.close()));
  for (const r of replicas)
    await superuserQuery(r, "SELECT pg_wal_replay_resume()").catch(() => {});
});
afterAll(async () => {
  for (const r of replicas)
    await superuserQuery(r, "SELECT pg_wal_replay_resume()").catch(() => {});
});

test("a transaction cut while its COMMIT waits for the standbys is reported committed, with its result", async () => {
  // The commit is durable on the primary and waits for a replica to apply it (remote_apply), which
  // cannot happen while replay is paused: the moment to cut the connection.
  for (const r of replicas) await superuserQuery(r, "SELECT pg_wal_replay_pause()");
  const { db, outcomes } = database();
  const id = `commit-${Date.now()}`;
  const call = db.transaction(async (q) => {
    await q("SET LOCAL synchronous_commit = remote_apply");
    await q("INSERT INTO outcome_writes (id) VALUES ($1)", [id]);
    return "the body's result";
  });
  await terminateWhen("COMMIT");
  for (const r of replicas) await superuserQuery(r, "SELECT pg_wal_replay_resume()");
  await expect(call).resolves.toBe("the body's result");
  expect(outcomes).toEqual(["committed"]);
  expect(await rowsWith(id)).toBe(1);
});

test("a single write cut before it commits is not committed, and runs again once", async () => {
  const { db, outcomes } = database();
  const id = `write-${Date.now()}`;
  const call = db.write(
    "INSERT INTO outcome_writes (id) SELECT $1::text FROM pg_sleep(0.5) /* cut-me */",
    [id],
  );
  await terminateWhen("cut-me");
  const r = await call;
  expect(r.rowCount).toBe(1);
  expect(outcomes).toEqual(["not-committed"]);
  expect(await rowsWith(id)).toBe(1);
});

test("a transaction cut before COMMIT runs again without asking: nothing can have committed", async () => {
  const { db, outcomes } = database();
  const id = `body-${Date.now()}`;
  let runs = 0;
  const call = db.transaction(async (q) => {
    runs++;
    await q("INSERT INTO outcome_writes (id) VALUES ($1)", [id]);
    await q("SELECT pg_sleep(0.5) /* cut-body */");
    return runs;
  });
  await terminateWhen("cut-body");
  await expect(call).resolves.toBe(2);
  expect(outcomes).toEqual([]);
  expect(await rowsWith(id)).toBe(1);
});

test("a transaction cut during its first statement (BEGIN in front) runs again: it was inside", async () => {
  const { db, outcomes } = database();
  const id = `first-${Date.now()}`;
  let runs = 0;
  const call = db.transaction(async (q) => {
    runs++;
    await q("INSERT INTO outcome_writes (id) SELECT $1::text FROM pg_sleep(0.5) /* cut-first */", [
      id,
    ]);
    return runs;
  });
  await terminateWhen("cut-first");
  await expect(call).resolves.toBe(2);
  expect(outcomes).toEqual([]);
  expect(await rowsWith(id)).toBe(1);
});

test("opted out, the same cut is outcome-unknown, as before", async () => {
  const { db, outcomes } = database();
  const call = db
    .write("SELECT pg_sleep(0.5) /* cut-optout */", [], { resolveOutcome: false })
    .catch((e: unknown) => e);
  await terminateWhen("cut-optout");
  const error = await call;
  expect(isDatabaseCallError(error) && error.classification.class).toBe("outcome-unknown");
  expect(outcomes).toEqual([]);
});

test("on the real primary: its own committed xid is committed; a future xid or another timeline is unknown", async () => {
  const c = await connect(endpointTarget(plan, secrets, "orders", "orders"));
  try {
    const now = (await c.query<TxRef>(XID_SQL)).rows[0]!;
    const check = {
      query: (sql: string, params: unknown[]) => c.query(sql, params),
      deadlineMs: 1_000,
    };
    // Asked on its own timeline, the current xid is in progress, then committed (autocommit).
    expect(await resolveOutcome(now, check)).toBe("committed");
    // One the primary never assigned, and one from another timeline: both unknown.
    expect(await resolveOutcome({ ...now, xid: String(BigInt(now.xid) + 1_000_000n) }, check)).toBe(
      "unknown",
    );
    expect(await resolveOutcome({ ...now, timeline: "000000FF" }, check)).toBe("unknown");
  } finally {
    await c.end();
  }
});

test("a connection that ran many writes with their xid is left as pg made it, and each write reports its own xid", async () => {
  // The statement once wrapped the connection's sync() on every write, so each write made the
  // next one slower on that connection: a long-lived connection slowed down without bound.
  const c = await connect(endpointTarget(plan, secrets, "orders", "orders"));
  const wire = (c as unknown as { connection: object }).connection;
  try {
    const xids = new Set<string>();
    for (let i = 0; i < 20; i++) {
      let statement: XidStatement | undefined;
      const result = await new Promise<pg.QueryResult | undefined>((resolve, reject) => {
        statement = new XidStatement(
          "INSERT INTO outcome_writes (id) VALUES ($1)",
          [`xid-statement-${i}`],
          (err, r) => (err ? reject(err) : resolve(r)),
        );
        c.query(statement as unknown as pg.Submittable);
      });
      expect(result?.rowCount).toBe(1);
      xids.add(statement!.tx!.xid);
    }
    expect(xids.size).toBe(20);
    expect(Object.hasOwn(wire, "sync")).toBe(false);
  } finally {
    await c.end();
  }
});
