import type { Database } from "../resilience/index.js";

/**
 * What each of the seven services does to its database, one transaction at a time. Each shape is
 * the service's own (orders insert+update, catalog point reads, reporting long reads, payments
 * serializable transfers, notifications NOTIFY …). Every write carries a unique request id so a
 * drill can count exactly which acknowledged writes are missing and which landed twice; the write
 * tables deliberately have no unique constraint on it, or a duplicate could never be seen.
 */

/** A write the database acknowledged: its table and request id. */
export interface WriteAck {
  table: string;
  requestId: string;
}
export interface AckedWrite extends WriteAck {
  service: string;
  /** ms since the run started: when the call began, and when it was acknowledged. */
  calledAt: number;
  at: number;
}

export interface TxContext {
  db: Database;
  /** Unique per call across the whole run: `<run>-<worker>-<seq>`. */
  requestId: string;
  /** A small random integer for keys, from the caller's own generator. */
  pick: (n: number) => number;
}

export interface Workload {
  /** How the report names the transaction shape. */
  shape: string;
  /** Tables and seed rows, run once as the service's role on its own database (idempotent). */
  setupSql: string;
  /** The tables writes go to: drills check each acknowledged id is there exactly once. */
  writeTables: string[];
  read(ctx: TxContext): Promise<void>;
  /** Resolves with the write the database acknowledged. */
  write(ctx: TxContext): Promise<WriteAck>;
}

const ROWS = 10_000;
/** catalog's read, shared with the pgbench script that measures the same target's ceiling. */
export const CATALOG_READ = {
  sql: "SELECT id, name, price_cents FROM products WHERE category = $1 LIMIT 20",
  categories: 500,
} as const;
/**
 * Serializable transfers conflict when they read the same btree page (SSI locks index pages), so
 * payments has many more wallets than the others have rows: at ~30 rows per page, 10k wallets
 * turned about 1 % of transfers into serialization failures once the primary got busy.
 */
const WALLETS = 200_000;
const seed = (table: string, columns: string, select: string, rows = ROWS) =>
  `INSERT INTO ${table} (${columns}) SELECT ${select} FROM generate_series(1, ${rows}) g ` +
  `WHERE NOT EXISTS (SELECT 1 FROM ${table});`;

const WORKLOADS: Record<string, Workload> = {
  identity: {
    shape: "point read of a user; session insert",
    setupSql: `
      CREATE TABLE IF NOT EXISTS users (id int PRIMARY KEY, email text NOT NULL);
      ${seed("users", "id, email", "g, 'user' || g || '@example.test'")}
      CREATE TABLE IF NOT EXISTS sessions (request_id text NOT NULL, user_id int NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now());`,
    writeTables: ["sessions"],
    read: async ({ db, pick }) => {
      await db.read("SELECT id, email FROM users WHERE id = $1", [pick(ROWS) + 1]);
    },
    write: async ({ db, requestId, pick }) => {
      await db.write("INSERT INTO sessions (request_id, user_id) VALUES ($1, $2)", [
        requestId,
        pick(ROWS) + 1,
      ]);
      return { table: "sessions", requestId };
    },
  },
  accounts: {
    shape: "balance read; debit + ledger insert in one transaction",
    setupSql: `
      CREATE TABLE IF NOT EXISTS accounts (id int PRIMARY KEY, balance bigint NOT NULL);
      ${seed("accounts", "id, balance", "g, 1000000")}
      CREATE TABLE IF NOT EXISTS ledger (request_id text NOT NULL, account_id int NOT NULL,
        amount bigint NOT NULL);`,
    writeTables: ["ledger"],
    read: async ({ db, pick }) => {
      await db.read("SELECT balance FROM accounts WHERE id = $1", [pick(ROWS) + 1]);
    },
    write: async ({ db, requestId, pick }) => {
      const account = pick(ROWS) + 1;
      await db.transaction(async (q) => {
        await q("UPDATE accounts SET balance = balance - 1 WHERE id = $1", [account]);
        await q("INSERT INTO ledger (request_id, account_id, amount) VALUES ($1, $2, -1)", [
          requestId,
          account,
        ]);
      });
      return { table: "ledger", requestId };
    },
  },
  catalog: {
    shape: "product page read (point + 20-row range)",
    setupSql: `
      CREATE TABLE IF NOT EXISTS products (id int PRIMARY KEY, category int NOT NULL,
        name text NOT NULL, price_cents int NOT NULL);
      CREATE INDEX IF NOT EXISTS products_category ON products (category);
      ${seed("products", "id, category, name, price_cents", "g, g % 500, 'product ' || g, 100 + g % 9000")}
      CREATE TABLE IF NOT EXISTS price_changes (request_id text NOT NULL, product_id int NOT NULL,
        price_cents int NOT NULL);`,
    writeTables: ["price_changes"],
    read: async ({ db, pick }) => {
      await db.read(CATALOG_READ.sql, [pick(CATALOG_READ.categories)]);
    },
    write: async ({ db, requestId, pick }) => {
      await db.write(
        "INSERT INTO price_changes (request_id, product_id, price_cents) VALUES ($1, $2, $3)",
        [requestId, pick(ROWS) + 1, 100 + pick(9000)],
      );
      return { table: "price_changes", requestId };
    },
  },
  orders: {
    shape: "order insert + status update in one transaction; order read",
    setupSql: `
      CREATE TABLE IF NOT EXISTS orders (id bigserial PRIMARY KEY, request_id text NOT NULL,
        customer int NOT NULL, status text NOT NULL, total_cents int NOT NULL);
      CREATE INDEX IF NOT EXISTS orders_customer ON orders (customer);`,
    writeTables: ["orders"],
    read: async ({ db, pick }) => {
      await db.read(
        "SELECT id, status, total_cents FROM orders WHERE customer = $1 ORDER BY id DESC LIMIT 5",
        [pick(ROWS)],
      );
    },
    write: async ({ db, requestId, pick }) => {
      await db.transaction(async (q) => {
        const r = await q<{ id: string }>(
          "INSERT INTO orders (request_id, customer, status, total_cents) VALUES ($1, $2, 'new', $3) RETURNING id",
          [requestId, pick(ROWS), 100 + pick(100_000)],
        );
        await q("UPDATE orders SET status = 'confirmed' WHERE id = $1", [r.rows[0]!.id]);
      });
      return { table: "orders", requestId };
    },
  },
  payments: {
    shape: "serializable transfer (balance check, update, insert); payment read",
    setupSql: `
      CREATE TABLE IF NOT EXISTS wallets (id int PRIMARY KEY, balance bigint NOT NULL);
      ${seed("wallets", "id, balance", "g, 1000000000", WALLETS)}
      CREATE TABLE IF NOT EXISTS payments (request_id text NOT NULL, wallet_id int NOT NULL,
        amount bigint NOT NULL);`,
    writeTables: ["payments"],
    read: async ({ db, pick }) => {
      await db.read("SELECT balance FROM wallets WHERE id = $1", [pick(WALLETS) + 1]);
    },
    write: async ({ db, requestId, pick }) => {
      const wallet = pick(WALLETS) + 1;
      await db.transaction(
        async (q) => {
          const r = await q<{ balance: string }>("SELECT balance FROM wallets WHERE id = $1", [
            wallet,
          ]);
          if (BigInt(r.rows[0]!.balance) < 1n) throw new Error(`wallet ${wallet} is empty`);
          await q("UPDATE wallets SET balance = balance - 1 WHERE id = $1", [wallet]);
          await q("INSERT INTO payments (request_id, wallet_id, amount) VALUES ($1, $2, 1)", [
            requestId,
            wallet,
          ]);
        },
        { isolation: "serializable" },
      );
      return { table: "payments", requestId };
    },
  },
  notifications: {
    shape: "outbox insert + NOTIFY in one transaction (a LISTEN session receives them)",
    setupSql: `
      CREATE TABLE IF NOT EXISTS outbox (request_id text NOT NULL, channel text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now());`,
    writeTables: ["outbox"],
    read: async ({ db }) => {
      await db.read("SELECT count(*) FROM outbox WHERE created_at > now() - interval '1 second'");
    },
    write: async ({ db, requestId }) => {
      await db.transaction(async (q) => {
        await q("INSERT INTO outbox (request_id, channel) VALUES ($1, 'events')", [requestId]);
        await q("SELECT pg_notify('events', $1)", [requestId]);
      });
      return { table: "outbox", requestId };
    },
  },
  reporting: {
    shape: "long read: aggregate over 10k rows with a 300 ms server-side wait",
    setupSql: `
      CREATE TABLE IF NOT EXISTS report_events (id int PRIMARY KEY, day int NOT NULL,
        amount_cents int NOT NULL);
      ${seed("report_events", "id, day, amount_cents", "g, g % 365, g % 1000")}
      CREATE TABLE IF NOT EXISTS report_runs (request_id text NOT NULL);`,
    writeTables: ["report_runs"],
    // The plan's reporting transactions take seconds; the wait keeps the connection held that long
    // (scaled down) without burning the shared CPU the other services need.
    read: async ({ db, pick }) => {
      await db.read(
        "SELECT day, sum(amount_cents), count(*), pg_sleep(0.3) FROM report_events WHERE day >= $1 GROUP BY day ORDER BY day LIMIT 1",
        [pick(300)],
      );
    },
    write: async ({ db, requestId }) => {
      await db.write("INSERT INTO report_runs (request_id) VALUES ($1)", [requestId]);
      return { table: "report_runs", requestId };
    },
  },
};

/** A generic shape for a service the seven above do not name (another stack's service). */
const GENERIC: Workload = {
  shape: "point read; keyed insert",
  setupSql: `CREATE TABLE IF NOT EXISTS loadtest_writes (request_id text NOT NULL);`,
  writeTables: ["loadtest_writes"],
  read: async ({ db }) => {
    await db.read("SELECT 1");
  },
  write: async ({ db, requestId }) => {
    await db.write("INSERT INTO loadtest_writes (request_id) VALUES ($1)", [requestId]);
    return { table: "loadtest_writes", requestId };
  },
};

export function workloadOf(service: string): Workload {
  return WORKLOADS[service] ?? GENERIC;
}

/**
 * The psql script that creates a service's tables and seed rows in its database, owned by its
 * role: run by the superuser over the socket (the role may be at its connection limit with
 * PgBouncer's server connections), in one transaction with SET LOCAL ROLE, so no session-level
 * SET is left for pg_stat_statements to count against the service (npm run tune's findings).
 */
export function setupScript(service: string): string {
  return (
    `\\c ${service}\nSET client_min_messages = warning;\nBEGIN;\nSET LOCAL ROLE ${service};\n` +
    `${workloadOf(service).setupSql}\nCOMMIT;\n`
  );
}
