import { copyFile, mkdtemp, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import pg from "pg";
import { afterAll, describe, expect, test } from "vitest";
import { connectionUri } from "../../platform/dsn.js";
import { connect, pgbouncerTarget } from "../../local/connect.js";
import { run } from "../../local/exec.js";
import { findPostgresBinDir } from "../../local/postgres-server.js";
import { chownToUser } from "../../local/service-files.js";
import { processIds, processPid } from "../../local/pgbouncer.js";
import { altNames, caFile, issueCertificate, localProfiles, makeCa } from "../../local/tls.js";
import { pgbouncerAddress, tlsDir } from "../../local/topology.js";
import { SERVICE_USER, stateDir } from "../../local/state-dir.js";
import {
  createDatabase,
  isDatabaseCallError,
  isTlsError,
  type DatabaseCallError,
} from "../../resilience/index.js";
import { plan, secrets } from "./helpers.js";

/**
 * TLS on both hops, locally as in production: clients verify PgBouncer against the stack's CA
 * (verify-full, through the load balancer), PgBouncer verifies Postgres the same way, and each
 * wrong setup fails with an error that says what is wrong.
 */
const orders = localProfiles(plan).find((p) => p.service === "orders")!;
const password = secrets.accounts.orders!.password;
const scratch = await mkdtemp(join(stateDir(), "tls-test-"));
afterAll(() => rm(scratch, { recursive: true, force: true }));

/** The error of one write through a library instance made from `profile`. */
async function writeError(profile: typeof orders): Promise<DatabaseCallError> {
  const db = createDatabase(profile, { password, retry: { maxAttempts: 1 } });
  try {
    await db.write("SELECT 1");
    throw new Error("the write worked");
  } catch (e) {
    if (!isDatabaseCallError(e)) throw e;
    return e;
  } finally {
    await db.close();
  }
}

describe("the library connects with the profile alone", () => {
  test("verify-full through the balancer; both hops encrypted", async () => {
    expect(orders.tls).toEqual({ sslmode: "verify-full", caFile: caFile() });
    expect(orders.rw.host).toBe(plan.config.pgbouncer.endpoint);
    const db = createDatabase(orders, { password });
    try {
      // The server side of this session: PgBouncer's own connection to Postgres.
      const { rows } = await db.write<{ ssl: boolean; version: string }>(
        "SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
      );
      expect(rows[0]).toEqual({ ssl: true, version: expect.stringMatching(/^TLSv1\.[23]$/) });
    } finally {
      await db.close();
    }
  });

  test("the connection string works with node-postgres and with libpq (psql)", async () => {
    const uri = connectionUri(orders.rw, password, orders.tls);
    const client = new pg.Client({ connectionString: uri });
    await client.connect();
    try {
      expect((await client.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
    } finally {
      await client.end();
    }
    // libpq: the password goes in the environment, not argv; sslcertmode keeps it off ~/.postgresql.
    const { stdout } = await run(
      join(findPostgresBinDir(), "psql"),
      [`${uri.replace(/:[^:@/]+@/, "@")}&sslcertmode=disable`, "-XAtc", "SELECT 'libpq ok'"],
      { inRoot: true, env: { PGPASSWORD: password } },
    );
    expect(stdout.trim()).toBe("libpq ok");
  });
});

describe("bad TLS setups are clear errors", () => {
  test("a plain-text client is refused by PgBouncer, permanently (no retry)", async () => {
    const plain = { ...orders, tls: { sslmode: "disable" as const } };
    const e = await writeError(plain);
    expect(e.classification).toEqual({ class: "permanent", reason: "pooler-tls-required" });
    expect(e.message).toMatch(/SSL required/);
  });

  test("a missing or unreadable CA file is refused when the library is created", () => {
    const missing = {
      ...orders,
      tls: { sslmode: "verify-full" as const, caFile: "/nonexistent/ca.crt" },
    };
    expect(() => createDatabase(missing, { password })).toThrow(
      "tls.caFile /nonexistent/ca.crt cannot be read (ENOENT)",
    );
  });

  test("the wrong CA: verification fails, naming the CA file", async () => {
    const other = { cert: join(scratch, "other-ca.crt"), key: join(scratch, "other-ca.key") };
    await makeCa(other.cert, other.key, "some other CA");
    const e = await writeError({ ...orders, tls: { sslmode: "verify-full", caFile: other.cert } });
    expect(e.classification.class).toBe("permanent");
    expect(e.classification.reason).toMatch(/^tls-/);
    expect(isTlsError(e.cause)).toBe(true);
    expect(e.message).toContain(`verified against ${other.cert}`);
  });

  test("an expired PgBouncer certificate: verification fails, naming why", async () => {
    // GIVEN pgbouncer-1 serving an expired certificate from the stack's CA (RELOAD re-reads it)
    const host = plan.hosts[0]!;
    const live = { cert: join(tlsDir(), "pgbouncer.crt"), key: join(tlsDir(), "pgbouncer.key") };
    const saved = { cert: join(scratch, "live.crt"), key: join(scratch, "live.key") };
    await copyFile(live.cert, saved.cert);
    await copyFile(live.key, saved.key);
    /** Puts a certificate and key where PgBouncer reads them, its user's, and RELOADs. */
    const serve = async (from: { cert: string; key: string }) => {
      for (const f of ["cert", "key"] as const) {
        await copyFile(from[f], live[f]);
        await chownToUser(live[f], SERVICE_USER);
      }
      for (const k of processIds(host)) process.kill((await processPid(host, k))!, "SIGHUP");
      await new Promise((r) => setTimeout(r, 500));
    };
    try {
      const expired = { cert: join(scratch, "expired.crt"), key: join(scratch, "expired.key") };
      await issueCertificate(expired, "expired", altNames([pgbouncerAddress(host.index)]), {
        notBefore: "20200101000000Z",
        notAfter: "20200201000000Z",
      });
      await serve(expired);
      // WHEN the library connects to that host THEN it fails with the certificate's expiry
      const direct = localProfiles(plan, pgbouncerAddress(host.index)).find(
        (p) => p.service === "orders",
      )!;
      const e = await writeError(direct);
      expect(e.classification).toEqual({ class: "permanent", reason: "tls-cert_has_expired" });
      expect(e.message).toMatch(/certificate has expired/);
    } finally {
      await serve(saved);
    }
    const client = await connect(pgbouncerTarget(plan, host, secrets, "orders", "orders"));
    await client.end();
  });

  test("a client that trusts no CA at all cannot use the certificate", async () => {
    await writeFile(join(scratch, "empty.crt"), "");
    expect(() =>
      createDatabase(
        { ...orders, tls: { sslmode: "verify-full", caFile: join(scratch, "empty.crt") } },
        { password },
      ),
    ).toThrow(/holds no PEM certificate/);
  });
});
