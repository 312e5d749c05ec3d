import { describe, expect, test } from "vitest";
import { classifyError, isRetryable, type ErrorClass, type Phase } from "./classify.js";

const pg = (code: string, message = "x") => Object.assign(new Error(message), { code });
const net = (code: string) =>
  Object.assign(new Error(`connect ${code} 127.0.0.11:56432`), { code });

describe("classifyError", () => {
  test.each<[string, unknown, Phase, ErrorClass, string]>([
    ["connection refused", net("ECONNREFUSED"), "connect", "retry-safe", "network-econnrefused"],
    [
      "connection reset while querying",
      net("ECONNRESET"),
      "query",
      "outcome-unknown",
      "network-econnreset",
    ],
    [
      "connection reset while connecting",
      net("ECONNRESET"),
      "connect",
      "retry-safe",
      "network-econnreset",
    ],
    [
      "pg: terminated unexpectedly",
      new Error("Connection terminated unexpectedly"),
      "query",
      "outcome-unknown",
      "connection-lost",
    ],
    // node-postgres's and pg-pool's own messages (pg/lib/client.js, pg-pool/index.js)
    [
      "pg: connect timeout",
      new Error("Connection terminated due to connection timeout"),
      "connect",
      "retry-safe",
      "connection-lost",
    ],
    [
      "pg-pool: no pooled connection in time",
      new Error("timeout exceeded when trying to connect"),
      "connect",
      "retry-safe",
      "pool-connect-timeout",
    ],
    // PgBouncer's own words at login (src/client.c)
    [
      "PgBouncer: a database it does not have",
      pg("08P01", "no such database: ordres"),
      "connect",
      "permanent",
      "pooler-no-such-database",
    ],
    [
      "PgBouncer: a disabled database",
      pg("08P01", 'database "orders" is disabled'),
      "connect",
      "permanent",
      "pooler-refused",
    ],
    [
      "PgBouncer: the database's client limit",
      pg("08P01", "client connections exceeded (max_db_client_connections)"),
      "connect",
      "retry-safe",
      "pooler-client-limit",
    ],
    [
      "PgBouncer unknown 08P01 at login",
      pg("08P01", "something new"),
      "connect",
      "permanent",
      "pooler-refused",
    ],
    [
      "PgBouncer query_wait_timeout",
      pg("08P01", "query_wait_timeout"),
      "query",
      "retry-safe",
      "pooler-wait-timeout",
    ],
    [
      "PgBouncer max_client_conn",
      pg("08P01", "no more connections allowed (max_client_conn)"),
      "connect",
      "retry-safe",
      "pooler-max-client-conn",
    ],
    [
      "PgBouncer login failing",
      pg("08P01", "server login has been failing, try again later (server_login_retry)"),
      "query",
      "retry-safe",
      "pooler-server-login-failing",
    ],
    [
      "PgBouncer shutting down",
      pg("08P01", "pooler is shutting down"),
      "query",
      "retry-safe",
      "pooler-shutting-down",
    ],
    [
      "PgBouncer stopping with SIGINT turns a waiting client away",
      pg("08P01", "server shutting down"),
      "query",
      "retry-safe",
      "pooler-server-shutting-down",
    ],
    [
      "PgBouncer server crashed",
      pg("08P01", "server conn crashed?"),
      "query",
      "outcome-unknown",
      "pooler-server-crashed",
    ],
    [
      "PgBouncer idle transaction",
      pg("08P01", "idle transaction timeout"),
      "query",
      "outcome-unknown",
      "pooler-idle-transaction-timeout",
    ],
    [
      "PgBouncer query_timeout",
      pg("08P01", "query_timeout"),
      "query",
      "outcome-unknown",
      "pooler-query-timeout",
    ],
    [
      "PgBouncer auth",
      pg("08P01", "SASL authentication failed"),
      "connect",
      "permanent",
      "pooler-auth",
    ],
    [
      "PgBouncer unknown 08P01 mid-query",
      pg("08P01", "something new"),
      "query",
      "outcome-unknown",
      "protocol-violation",
    ],
    ["serialization failure", pg("40001"), "query", "retry-transaction", "serialization-failure"],
    ["deadlock", pg("40P01"), "query", "retry-transaction", "deadlock"],
    ["write on a replica", pg("25006"), "query", "retry-safe", "read-only-server"],
    ["too many connections", pg("53300"), "connect", "retry-safe", "too-many-connections"],
    [
      "starting up",
      pg("57P03", "the database system is starting up"),
      "connect",
      "retry-safe",
      "cannot-connect-now",
    ],
    ["admin shutdown mid-query", pg("57P01"), "query", "outcome-unknown", "admin-shutdown"],
    ["crash shutdown mid-query", pg("57P02"), "query", "outcome-unknown", "crash-shutdown"],
    ["cancelled (our timeout)", pg("57014"), "query", "outcome-unknown", "query-canceled"],
    ["connection failure", pg("08006"), "query", "outcome-unknown", "connection-exception-08006"],
    [
      "connection failure at connect",
      pg("08006"),
      "connect",
      "retry-safe",
      "connection-exception-08006",
    ],
    ["unable to connect", pg("08001"), "connect", "retry-safe", "connection-rejected-08001"],
    ["wrong password", pg("28P01"), "connect", "permanent", "authentication"],
    ["unique violation", pg("23505"), "query", "permanent", "sqlstate-23505"],
    ["syntax error", pg("42601"), "query", "permanent", "sqlstate-42601"],
    ["plain error", new Error("boom"), "query", "permanent", "error"],
    ["not an error", "weird", "query", "permanent", "error"],
  ])("%s → %s", (_, error, phase, cls, reason) => {
    expect(classifyError(error, phase)).toMatchObject({ class: cls, reason });
  });

  test("a write that reached a replica is rerouted to the primary", () => {
    expect(classifyError(pg("25006"), "query").reroute).toBe("primary");
  });
});

describe("isRetryable", () => {
  test.each<[ErrorClass, boolean, boolean, boolean]>([
    ["retry-safe", false, false, true],
    ["outcome-unknown", false, false, false],
    ["outcome-unknown", true, false, true],
    ["retry-transaction", false, true, true],
    ["retry-transaction", false, false, true],
    ["permanent", true, true, false],
  ])("%s (idempotent %s, transaction %s) → %s", (cls, idempotent, transaction, expected) => {
    expect(isRetryable({ class: cls, reason: "r" }, { idempotent, transaction })).toBe(expected);
  });
});
