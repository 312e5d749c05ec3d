import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import pg from "pg";
import { afterAll, describe, expect, test } from "vitest";
import { endpointTarget } from "../../local/connect.js";
import { run } from "../../local/exec.js";
import { findPostgresBinDir } from "../../local/postgres-server.js";
import { caFile, libpqConninfo } from "../../local/tls.js";
import { stateDir } from "../../local/state-dir.js";
import { ADMIN_USER, STATS_USER } from "../../pgbouncer/layout.js";
import { connectError, plan, secrets } from "./helpers.js";

/**
 * The clients services really use, over TLS (verify-full against the stack's CA), through the
 * load balancer, on the production line: libpq's psql and pgbench in each protocol mode, psycopg2,
 * psycopg 3 (prepares after 5 executions), PostgreSQL JDBC with its defaults (prepareThreshold 5)
 * and node-postgres named statements, through transaction pools with fewer server connections than
 * clients; LISTEN/NOTIFY on a session entry; and the access rules.
 */
const { endpoint, port } = plan.config.pgbouncer;
const password = (user: string) => secrets.accounts[user]!.password;
/** libpq's connection string to the endpoint, TLS verified. */
const conninfo = (user: string, database: string, libpq: "root" | "debian12" = "root") =>
  libpqConninfo({ host: endpoint, port, user, database }, libpq);
const scratch = join(stateDir(), "clients-test");
afterAll(() => rm(scratch, { recursive: true, force: true }));

/** identity is a transaction pool of one or two server connections per process: clients share them. */
const SHARED = "identity";
const sharedEntry = plan.entries.find((e) => e.name === SHARED)!;
/** Three clients for every server connection the fleet's processes may open for it. */
const processes = plan.hosts.reduce((n, h) => n + h.processes, 0);
const CLIENTS = 3 * sharedEntry.maxDbConnections * processes;

describe("libpq", () => {
  test("psql", async () => {
    const { stdout } = await run(
      join(findPostgresBinDir(), "psql"),
      [
        conninfo("orders", "orders"),
        "-XAtc",
        "SELECT 'psql ' || ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
      ],
      { inRoot: true, env: { PGPASSWORD: password("orders") } },
    );
    expect(stdout.trim()).toBe("psql true");
  });

  test.each(["simple", "extended", "prepared"])("pgbench -M %s", async (mode) => {
    await run("mkdir", ["-p", scratch]);
    const script = join(scratch, "select.sql");
    await writeFile(script, "\\set id random(1, 1000)\nSELECT :id::int + 1;\n");
    const clients = CLIENTS;
    const { stdout } = await run(
      join(findPostgresBinDir(), "pgbench"),
      [
        "-n",
        "-M",
        mode,
        "-c",
        String(clients),
        "-j",
        "2",
        "-T",
        "3",
        "-f",
        script,
        conninfo(SHARED, SHARED),
      ],
      { inRoot: true, env: { PGPASSWORD: password(SHARED) }, timeoutMs: 60_000 },
    );
    expect(stdout).toMatch(/number of failed transactions: 0 \(0\.000%\)/);
    expect(Number(/tps = ([\d.]+)/.exec(stdout)?.[1])).toBeGreaterThan(0);
  });
});

/** Debian's Python (another may come first on PATH). */
const PYTHON = "/usr/bin/python3";
const pythonClient = (module: "psycopg2" | "psycopg") => `
import os, sys, threading
import ${module} as driver
dsn = os.environ["DSN"]
errors, done = [], []
def work(n):
    try:
        conn = driver.connect(dsn)
        conn.autocommit = True
        cur = conn.cursor()
        for i in range(20):
            cur.execute("SELECT %s::int + 1, pg_sleep(0.002)", (i,))
            assert cur.fetchone()[0] == i + 1
        done.append(n)
        conn.close()
    except Exception as e:
        errors.append(f"{type(e).__name__}: {e}")
threads = [threading.Thread(target=work, args=(n,)) for n in range(int(os.environ["CLIENTS"]))]
[t.start() for t in threads]
[t.join() for t in threads]
print(f"{len(done)} clients ok, {len(errors)} errors", *errors[:3], sep="\\n")
sys.exit(1 if errors else 0)
`;

describe("Python", () => {
  test.each(["psycopg2", "psycopg"] as const)(
    "%s (threads sharing a transaction pool)",
    async (m) => {
      const clients = CLIENTS;
      const { stdout } = await run(PYTHON, ["-"], {
        input: pythonClient(m),
        env: {
          DSN: conninfo(SHARED, SHARED, "debian12"),
          PGPASSWORD: password(SHARED),
          CLIENTS: String(clients),
        },
        timeoutMs: 60_000,
      });
      expect(stdout.trim()).toBe(`${clients} clients ok, 0 errors`);
    },
  );
});

const JAVA = `
import java.sql.*;
import java.util.*;
import java.util.concurrent.*;
public class Jdbc {
  public static void main(String[] args) throws Exception {
    String url = System.getenv("JDBC_URL");
    Properties p = new Properties();
    p.setProperty("user", System.getenv("PGUSER"));
    p.setProperty("password", System.getenv("PGPASSWORD"));
    int clients = Integer.parseInt(System.getenv("CLIENTS"));
    ExecutorService pool = Executors.newFixedThreadPool(clients);
    List<Future<String>> results = new ArrayList<>();
    for (int n = 0; n < clients; n++) results.add(pool.submit(() -> {
      try (Connection c = DriverManager.getConnection(url, p);
           PreparedStatement s = c.prepareStatement("SELECT ?::int + 1, pg_sleep(0.002)")) {
        for (int i = 0; i < 20; i++) {   // server-side prepared from the 5th execution
          s.setInt(1, i);
          try (ResultSet r = s.executeQuery()) { r.next(); if (r.getInt(1) != i + 1) return "wrong"; }
        }
        return "ok";
      } catch (Exception e) { return e.toString(); }
    }));
    int ok = 0; List<String> errors = new ArrayList<>();
    for (Future<String> f : results) { String r = f.get(); if (r.equals("ok")) ok++; else errors.add(r); }
    pool.shutdown();
    System.out.println(ok + " clients ok, " + errors.size() + " errors");
    for (String e : errors.subList(0, Math.min(3, errors.size()))) System.out.println(e);
    System.exit(errors.isEmpty() ? 0 : 1);
  }
}
`;

test("PostgreSQL JDBC with its defaults (prepareThreshold 5)", async () => {
  await run("mkdir", ["-p", scratch]);
  const source = join(scratch, "Jdbc.java");
  await writeFile(source, JAVA);
  const clients = CLIENTS;
  const url = `jdbc:postgresql://${endpoint}:${port}/${SHARED}?sslmode=verify-full&sslrootcert=${caFile()}`;
  const { stdout } = await run("java", ["-cp", "/usr/share/java/postgresql.jar", source], {
    env: { JDBC_URL: url, PGUSER: SHARED, PGPASSWORD: password(SHARED), CLIENTS: String(clients) },
    timeoutMs: 90_000,
  });
  expect(stdout.trim()).toBe(`${clients} clients ok, 0 errors`);
});

test("node-postgres named statements through the balancer", async () => {
  const target = endpointTarget(plan, secrets, SHARED, SHARED);
  const clients = await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      const c = new pg.Client(target);
      await c.connect();
      return c;
    }),
  );
  try {
    await Promise.all(
      clients.map(async (c, i) => {
        for (let n = 0; n < 20; n++) {
          const r = await c.query<{ n: number }>({
            name: "next_id",
            text: "SELECT $1::int + 1 AS n, pg_sleep(0.002)",
            values: [i],
          });
          expect(r.rows[0]!.n).toBe(i + 1);
        }
      }),
    );
  } finally {
    await Promise.all(clients.map((c) => c.end()));
  }
});

test("LISTEN/NOTIFY on notifications' session entry", async () => {
  const target = endpointTarget(plan, secrets, "notifications", "notifications");
  const listener = new pg.Client(target);
  const sender = new pg.Client(target);
  await Promise.all([listener.connect(), sender.connect()]);
  try {
    const heard = new Promise<string | undefined>((resolve) =>
      listener.on("notification", (m) => resolve(m.payload)),
    );
    await listener.query("LISTEN parity_check");
    await sender.query("SELECT pg_notify('parity_check', 'through the balancer')");
    expect(await heard).toBe("through the balancer");
  } finally {
    await Promise.all([listener.end(), sender.end()]);
  }
});

describe("access control through the balancer", () => {
  test("a wrong password", async () => {
    const err = await connectError({
      ...endpointTarget(plan, secrets, "orders", "orders"),
      password: "not-it-123456",
    });
    expect(err).toMatchObject({
      code: "08P01",
      message: expect.stringMatching(/SASL authentication failed|password authentication failed/),
    });
  });

  test("another service's database", async () => {
    const err = await connectError(endpointTarget(plan, secrets, "orders", "catalog"));
    expect(err?.message).toMatch(/permission denied for database "catalog"/);
  });

  test("the admin console for a service's user", async () => {
    const err = await connectError(endpointTarget(plan, secrets, "orders", "pgbouncer"));
    expect(err?.code).toBe("08P01");
    expect(err?.message).toMatch(/not allowed/);
  });

  // The balancer reaches PgBouncer's TCP listener only, and the hba rules refuse the console's
  // own users there: they get it on the host's unix socket (the admin tests).
  test.each([ADMIN_USER, STATS_USER])(
    "the admin console for %s: refused before any password is asked",
    async (user) => {
      const err = await connectError(endpointTarget(plan, secrets, user, "pgbouncer"));
      expect(err).toMatchObject({
        code: "08P01",
        message: expect.stringMatching(/login rejected/),
      });
    },
  );

  test("the admin and stats users reach no service database over TCP either", async () => {
    for (const user of [ADMIN_USER, STATS_USER]) {
      const err = await connectError(endpointTarget(plan, secrets, user, "orders"));
      expect(err?.message, user).toMatch(/login rejected/);
    }
  });
});
