import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { connect, endpointTarget } from "../../local/connect.js";
import { localProfiles } from "../../local/tls.js";
import { createDatabase, type Database } from "../../resilience/index.js";
import { sendBehind } from "../../resilience/pg-query.js";
import { plan, secrets } from "./helpers.js";

/**
 * A transaction's first statement carries BEGIN (and, for a write, the xid query) in one round
 * trip, through the balancer and PgBouncer's transaction pool, on the production line: it runs
 * inside the transaction, nothing runs behind a BEGIN that failed, and a transaction costs one
 * round trip less than BEGIN sent alone.
 */
const TABLE = "pipelined_begin";
const password = secrets.accounts.orders!.password;
const open: Database[] = [];

/** The orders profile without replicas: no lag probe shares the round trips counted here. */
function database(): Database {
  const profile = structuredClone(localProfiles(plan).find((p) => p.service === "orders")!);
  profile.replicas = [];
  const db = createDatabase(profile, { password, retry: { maxAttempts: 1 } });
  open.push(db);
  return db;
}

async function rows(id: string): Promise<number> {
  const db = database();
  const r = await db.write<{ n: string }>(
    `SELECT count(*)::text AS n FROM ${TABLE} WHERE id = $1`,
    [id],
  );
  return Number(r.rows[0]!.n);
}

/** How many ReadyForQuery messages (one per round trip) this process's connections get in `work`. */
async function roundTrips(work: () => Promise<unknown>): Promise<number> {
  const proto = pg.Connection.prototype as unknown as {
    emit(this: unknown, event: string, ...args: unknown[]): boolean;
  };
  const emit = proto.emit;
  let n = 0;
  proto.emit = function (event, ...args) {
    if (event === "readyForQuery") n++;
    return emit.call(this, event, ...args);
  };
  try {
    await work();
  } finally {
    proto.emit = emit;
  }
  return n;
}

const rolledBack = new Error("the body fails after its statements");

beforeAll(async () => {
  await database().write(`CREATE TABLE IF NOT EXISTS ${TABLE} (id text NOT NULL)`);
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((db) => db.close()));
});
afterAll(async () => {
  await database().write(`DROP TABLE IF EXISTS ${TABLE}`);
  await Promise.all(open.splice(0).map((db) => db.close()));
});

describe("the first statement runs inside the transaction", () => {
  for (const [shape, resolveOutcome] of [
    ["write transaction (BEGIN and the xid query in front)", true],
    ["transaction, outcome check off (BEGIN in front)", false],
  ] as const) {
    test(`${shape}: a body that fails after it leaves nothing, with or without parameters`, async () => {
      const db = database();
      const id = `first-${resolveOutcome}-${Date.now()}`;
      const call = db.transaction(
        async (q) => {
          // extended protocol (parameters), then the simple protocol (none)
          const own = await q<{ n: number }>(`INSERT INTO ${TABLE} VALUES ($1) RETURNING 7 AS n`, [
            id,
          ]);
          expect(own.rows).toEqual([{ n: 7 }]); // the statement's own result, not BEGIN's
          throw rolledBack;
        },
        { resolveOutcome },
      );
      await expect(call).rejects.toThrow(/fails after its statements/);
      const simple = db.transaction(
        async (q) => {
          const own = await q(`INSERT INTO ${TABLE} VALUES ('${id}')`);
          expect(own.command).toBe("INSERT");
          throw rolledBack;
        },
        { resolveOutcome },
      );
      await expect(simple).rejects.toThrow(/fails after its statements/);
      expect(await rows(id)).toBe(0);
    });
  }

  test("statements sent at once as the first (a Promise.all) all wait for BEGIN", async () => {
    const db = database();
    const id = `all-${Date.now()}`;
    const call = db.transaction(async (q) => {
      await Promise.all([1, 2, 3].map(() => q(`INSERT INTO ${TABLE} VALUES ($1)`, [id])));
      throw rolledBack;
    });
    await expect(call).rejects.toThrow(/fails after its statements/);
    expect(await rows(id)).toBe(0);
    await db.transaction((q) =>
      Promise.all([1, 2, 3].map(() => q(`INSERT INTO ${TABLE} VALUES ($1)`, [id]))),
    );
    expect(await rows(id)).toBe(3);
  });

  test("a first text of several statements gets all their results, as pg's own query does", async () => {
    const db = database();
    const results = await db.transaction(async (q) => q("SELECT 1 AS a; SELECT 2 AS b"), {
      resolveOutcome: false,
    });
    expect((results as unknown as pg.QueryResult[]).map((r) => r.rows)).toEqual([
      [{ a: 1 }],
      [{ b: 2 }],
    ]);
  });

  test("a body that runs no statement sends nothing", async () => {
    const db = database();
    await db.warm();
    expect(await roundTrips(() => db.transaction(async () => 42))).toBe(0);
  });
});

test("a transaction of one statement takes two round trips, BEGIN sent alone three", async () => {
  const db = database();
  await db.warm();
  const insert = `INSERT INTO ${TABLE} VALUES ('trips')`;
  expect(await roundTrips(() => db.transaction((q) => q(insert)))).toBe(2);
  expect(await roundTrips(() => db.transaction((q) => q(insert), { resolveOutcome: false }))).toBe(
    2,
  );
  const two = (q: (sql: string) => Promise<unknown>) => q(insert).then(() => q(insert));
  expect(await roundTrips(() => db.transaction(two))).toBe(3);
  const client = await connect(endpointTarget(plan, secrets, "orders", "orders"));
  try {
    const raw = async () => {
      await client.query("BEGIN");
      await client.query(insert);
      await client.query("COMMIT");
    };
    expect(await roundTrips(raw)).toBe(3);
  } finally {
    await client.end();
  }
});

describe("nothing runs behind a BEGIN that failed", () => {
  for (const [protocol, params] of [
    ["extended protocol", ["behind-extended"]],
    ["simple protocol", undefined],
  ] as const) {
    test(protocol, async () => {
      const id = params?.[0] ?? "behind-simple";
      const client = await connect(endpointTarget(plan, secrets, "orders", "orders"));
      try {
        const sql = params
          ? `INSERT INTO ${TABLE} VALUES ($1)`
          : `INSERT INTO ${TABLE} VALUES ('${id}')`;
        await expect(
          sendBehind(client as unknown as pg.PoolClient, ["BEGIN ISOLATION LEVEL NONE"], sql, [
            ...(params ?? []),
          ]),
        ).rejects.toThrow(/syntax error/);
        // the connection is usable again, and nothing was inserted
        expect((await client.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
      } finally {
        await client.end();
      }
      expect(await rows(id)).toBe(0);
    });
  }
});
