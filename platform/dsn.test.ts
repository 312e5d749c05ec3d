import { expect, test } from "vitest";
import { clientSslMode, connectionUri } from "./dsn.js";

const endpoint = {
  host: "pgbouncer.prod.db.internal",
  port: 6432,
  database: "orders_ro",
  user: "orders",
  poolMax: 10,
};

test("a connection string names the PgBouncer entry, the service's user and the TLS mode", () => {
  expect(connectionUri(endpoint, "Abc123", "require")).toBe(
    "postgresql://orders:Abc123@pgbouncer.prod.db.internal:6432/orders_ro?sslmode=require",
  );
});

test("a password with URL syntax in it is escaped, not parsed", () => {
  expect(connectionUri(endpoint, "a@b:c/d?e#f%", "disable")).toContain(
    "orders:a%40b%3Ac%2Fd%3Fe%23f%25@pgbouncer",
  );
});

test.each([
  ["disable", "disable"],
  ["prefer", "require"],
  ["require", "require"],
  ["verify-full", "require"],
] as const)("PgBouncer client TLS %s → clients use sslmode=%s", (pgbouncer, client) => {
  expect(clientSslMode(pgbouncer)).toBe(client);
});
