import { describe, expect, test } from "vitest";
import { loadStack } from "./config.js";
import { buildPlan } from "./plan.js";
import { queryPatterns, type StatementRow } from "./query-patterns.js";

const plan = buildPlan(loadStack("local"));
const row = (
  database: string,
  query: string,
  totalMs = 1,
  calls = 1,
  node = "primary",
): StatementRow => ({
  node,
  database,
  role: database,
  query,
  calls,
  totalMs,
});
const findings = (rows: StatementRow[], service: string) =>
  queryPatterns(plan, rows)[service]!.findings.map(
    (f) => `${f.kind} ${f.feature}${f.query ? `: ${f.query}` : ""}`,
  );

describe("session features in the statements of a transaction-pooled service", () => {
  test.each([
    ["SELECT pg_advisory_lock($1)", "sessionAdvisoryLocks"],
    ["SELECT pg_try_advisory_lock_shared($1, $2)", "sessionAdvisoryLocks"],
    ["LISTEN orders_changed", "listenNotify"],
    ["SET search_path = app, public", "sessionSet"],
    ["SET SESSION statement_timeout = $1", "sessionSet"],
    ["SELECT set_config($1, $2, false)", "sessionSet"],
    ["CREATE TEMP TABLE scratch (id int)", "tempTables"],
    ["create temporary table if not exists t (x int)", "tempTables"],
    ["PREPARE q AS SELECT $1", "preparedStatements"],
  ])("%s is %s, not declared", (query, feature) => {
    expect(findings([row("orders", query)], "orders")).toEqual([`undeclared ${feature}: ${query}`]);
  });

  test.each([
    "SELECT pg_advisory_xact_lock($1)", // ends with the transaction
    "SET LOCAL statement_timeout = $1",
    "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE",
    "SET application_name = $1", // PgBouncer's own, per client
    'SET "TimeZone" = $1',
    "SELECT set_config($1, $2, true)",
    "NOTIFY orders_changed", // transactional: fine
    "SELECT pg_notify($1, $2)",
    "DISCARD ALL",
  ])("%s needs no session", (query) => {
    expect(findings([row("orders", query)], "orders")).toEqual([]);
  });

  test("the risk says what breaks under transaction pooling", () => {
    const [f] = queryPatterns(plan, [row("orders", "SELECT pg_advisory_lock($1)", 5, 3)]).orders!
      .findings;
    expect(f).toMatchObject({ service: "orders", calls: 3 });
    expect(f!.risk).toBe(
      "not declared, and orders is transaction-pooled: session advisory locks live as long as the server connection",
    );
  });
});

describe("declared features no statement uses", () => {
  test("reporting's temp tables, unused: its rw entry could be transaction-pooled", () => {
    const all = queryPatterns(plan, [row("reporting", "SELECT count(*) FROM events")]);
    expect(all.reporting!.findings).toMatchObject([{ kind: "unused", feature: "tempTables" }]);
    expect(all.reporting!.findings[0]!.risk).toMatch(
      /^declared, but no statement uses it: without it the rw entry could be transaction-pooled/,
    );
    // used: no finding
    expect(findings([row("reporting", "CREATE TEMP TABLE r (x int)")], "reporting")).toEqual([]);
  });

  test("prepared statements are never reported unused: pg_stat_statements cannot see them", () => {
    expect(plan.config.services.accounts!.sessionFeatures).toContain("preparedStatements");
    expect(findings([], "accounts")).toEqual([]);
  });
});

test("an operator's or a migration's statements (another role) are not the service's", () => {
  const migration = { ...row("orders", "SET ROLE orders"), role: "postgres" };
  expect(findings([migration], "orders")).toEqual([]);
  expect(queryPatterns(plan, [migration]).orders!.top).toEqual([]);
});

test("the risk is that of the entry that ran it: reporting's rw entry is session-pooled, its ro entries not", () => {
  const onPrimary = queryPatterns(plan, [row("reporting", "SELECT pg_advisory_lock($1)")]);
  expect(onPrimary.reporting!.findings[0]!.risk).toMatch(
    /^not declared; harmless while reporting stays session-pooled/,
  );
  const onReplica = queryPatterns(plan, [
    row("reporting", "SELECT pg_advisory_lock($1)", 1, 1, "replica1"),
  ]);
  expect(onReplica.reporting!.findings[0]!.risk).toMatch(
    /^not declared, and reporting_ro_replica1 is transaction-pooled: /,
  );
});

test("top statements: summed over the nodes, by time, each with its share of the database's", () => {
  const rows = [
    row("catalog", "SELECT a", 30, 10, "primary"),
    row("catalog", "SELECT a", 30, 10, "replica1"),
    row("catalog", "SELECT b", 40, 1),
    row("orders", "SELECT c", 1000, 1),
  ];
  expect(queryPatterns(plan, rows).catalog!.top).toEqual([
    { query: "SELECT a", calls: 20, totalMs: 60, share: 0.6 },
    { query: "SELECT b", calls: 1, totalMs: 40, share: 0.4 },
  ]);
});
