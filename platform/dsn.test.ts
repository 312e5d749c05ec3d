import { expect, test } from "vitest";
import { clientSslMode, connectionUri } from "./dsn.js";

const endpoint = {
  host: "pgbouncer.prod.db.internal",
  port: 6432,
  database: "orders_ro_replica1",
  user: "orders",
  poolMax: 10,
};

test("a connection string names the PgBouncer entry, the service's user, the TLS mode and the CA", () => {
  expect(
    connectionUri(endpoint, "Abc123", { sslmode: "verify-full", caFile: "/etc/pg pooling/ca.crt" }),
  ).toBe(
    "postgresql://orders:Abc123@pgbouncer.prod.db.internal:6432/orders_ro_replica1?sslmode=verify-full&sslrootcert=%2Fetc%2Fpg%20pooling%2Fca.crt",
  );
});

test("without TLS it names no CA", () => {
  expect(connectionUri(endpoint, "Abc123", { sslmode: "disable" })).toMatch(/\?sslmode=disable$/);
});

test("a password with URL syntax in it is escaped, not parsed", () => {
  expect(connectionUri(endpoint, "a@b:c/d?e#f%", { sslmode: "disable" })).toContain(
    "orders:a%40b%3Ac%2Fd%3Fe%23f%25@pgbouncer",
  );
});

test.each([
  ["disable", "disable"],
  ["prefer", "verify-full"],
  ["require", "verify-full"],
  ["verify-full", "verify-full"],
] as const)("PgBouncer client TLS %s → clients use sslmode=%s", (pgbouncer, client) => {
  expect(clientSslMode(pgbouncer)).toBe(client);
});
