import { describe, expect, test } from "vitest";
import { assessBudget, checkBudget } from "./budget.js";
import { dev, editFile, prod, rendered, setEntryParam } from "./fixtures.js";

// GIVEN the files rendered from a plan WHEN one thing is hand-edited THEN exactly that is reported.
describe("pooling-connection-budget", () => {
  test.each([prod, dev])(
    "the rendered $environment plan is within budget, node by node as the plan has it",
    (plan) => {
      const { budgets, findings } = assessBudget(rendered(plan), plan);
      expect(findings).toEqual([]);
      expect(budgets.map((b) => b.budget)).toEqual(plan.budget);
    },
  );

  test("a parameter group below the plan's max_connections: every node over budget, each service's share named", () => {
    const facts = rendered();
    facts.nodes[0]!.parameterGroup!.parameters.max_connections = "180";
    expect(checkBudget(facts, prod).map((f) => f.message)).toEqual([
      "node primary: max_connections = 180 (rendered parameter group) leaves primary 149 usable connections (max_connections 180 − superuser 3 − replication 5 − exporters 3 − admin 20) but its pools need 273: accounts 3×5=15, catalog 3×10=30, identity 3×10=30, notifications 3×29=87, orders 3×17=51, payments 3×14=42, reporting 3×6=18",
      "node replica1: max_connections = 180 (rendered parameter group) leaves replica1 149 usable connections (max_connections 180 − superuser 3 − replication 5 − exporters 3 − admin 20) but its pools need 189: accounts_ro_replica1 3×3=9, catalog_ro_replica1 3×13=39, identity_ro_replica1 3×10=30, notifications_ro_replica1 3×3=9, orders_ro_replica1 3×7=21, payments_ro_replica1 3×3=9, reporting_ro_replica1 3×24=72",
      "node replica2: max_connections = 180 (rendered parameter group) leaves replica2 149 usable connections (max_connections 180 − superuser 3 − replication 5 − exporters 3 − admin 20) but its pools need 189: accounts_ro_replica2 3×3=9, catalog_ro_replica2 3×13=39, identity_ro_replica2 3×10=30, notifications_ro_replica2 3×3=9, orders_ro_replica2 3×7=21, payments_ro_replica2 3×3=9, reporting_ro_replica2 3×24=72",
    ]);
  });

  test("one host's max_db_connections raised by hand on replica1's entry: replica1's budget counts that host's own value, replica2's does not move", () => {
    const facts = editFile(rendered(), "pgbouncer-2", "rendered", "pgbouncer.ini", (t) =>
      setEntryParam(t, "reporting_ro_replica1", "max_db_connections", 900),
    );
    const messages = checkBudget(facts, prod).map((f) => f.message);
    expect(messages).toHaveLength(1);
    expect(messages[0]).toBe(
      "node replica1: max_connections = 1000 (rendered parameter group) leaves replica1 969 usable connections (max_connections 1000 − superuser 3 − replication 5 − exporters 3 − admin 20) but its pools need 1065: accounts_ro_replica1 3×3=9, catalog_ro_replica1 3×13=39, identity_ro_replica1 3×10=30, notifications_ro_replica1 3×3=9, orders_ro_replica1 3×7=21, payments_ro_replica1 3×3=9, reporting_ro_replica1 24+900+24=948",
    );
  });

  test("a raised superuser reserve: the node that needs the most goes over first, alone", () => {
    const facts = rendered();
    // prod's primary needs 273, each replica 189: 200 usable is short on the primary only
    facts.nodes[0]!.parameterGroup!.parameters.superuser_reserved_connections = "772";
    expect(
      checkBudget(facts, prod).map((f) => f.message.split(" leaves ")[1]!.split(" but")[0]),
    ).toEqual([
      "primary 200 usable connections (max_connections 1000 − superuser 772 − replication 5 − exporters 3 − admin 20)",
    ]);
  });

  test("an entry without max_db_connections is unbounded", () => {
    const facts = editFile(rendered(), "pgbouncer-1", "user-data", "pgbouncer.ini", (t) =>
      setEntryParam(t, "orders", "max_db_connections", 0),
    );
    expect(checkBudget(facts, prod).map((f) => f.message)).toEqual([
      "rendered pgbouncer-1/user-data.yaml write_files /etc/pgbouncer/pgbouncer.ini: databases.orders max_db_connections must cap the entry (the node budget counts it), got 0 (no limit)",
    ]);
  });

  test("a pool shrunk on one host: with the largest host lost, the others fall short of the peak", () => {
    const facts = editFile(rendered(), "pgbouncer-1", "rendered", "pgbouncer.ini", (t) =>
      setEntryParam(t, "orders", "pool_size", 5),
    );
    expect(checkBudget(facts, prod).map((f) => f.message)).toEqual([
      "databases.orders: with pgbouncer-2 lost, 2 of 3 hosts hold pool_size 5+11=16, but orders needs 21 server connections at peak",
    ]);
  });

  test("an entry pointing outside the stack's nodes", () => {
    const facts = editFile(rendered(), "pgbouncer-3", "rendered", "pgbouncer.ini", (t) =>
      setEntryParam(t, "payments", "host", "db.example.com"),
    );
    expect(checkBudget(facts, prod).map((f) => f.message)).toEqual([
      "rendered pgbouncer-3/pgbouncer.ini: databases.payments host must name Postgres nodes of this stack, got db.example.com",
    ]);
  });

  test("an ro entry pointed at the other replica: named, and counted on every node it reaches", () => {
    const other = "prod-replica2.rds-endpoint.invalid";
    const facts = editFile(rendered(), "pgbouncer-3", "rendered", "pgbouncer.ini", (t) =>
      setEntryParam(t, "orders_ro_replica1", "host", other),
    );
    const { budgets, findings } = assessBudget(facts, prod);
    expect(findings.map((f) => f.message)).toEqual([
      `rendered pgbouncer-3/pgbouncer.ini: databases.orders_ro_replica1 host must be prod-replica1.rds-endpoint.invalid, the one node the entry is for (replica1), got ${other}`,
    ]);
    const shares = (node: string) =>
      budgets
        .find((b) => b.node.node === node)!
        .budget.shares.filter((x) => x.entry.startsWith("orders_"));
    // pgbouncer-3 may run either copy of its files: the entry counts wholly on both nodes
    expect(shares("replica1").map((x) => [x.entry, x.total])).toEqual([["orders_ro_replica1", 21]]);
    expect(shares("replica2").map((x) => [x.entry, x.total])).toEqual([
      ["orders_ro_replica1", 21],
      ["orders_ro_replica2", 21],
    ]);
  });

  test("an ro entry given a host list by hand: it must name its one replica", () => {
    const both = "prod-replica1.rds-endpoint.invalid,prod-replica2.rds-endpoint.invalid";
    const facts = editFile(rendered(), "pgbouncer-1", "rendered", "pgbouncer.ini", (t) =>
      setEntryParam(t, "catalog_ro_replica2", "host", both),
    );
    expect(checkBudget(facts, prod).map((f) => f.message)).toEqual([
      `rendered pgbouncer-1/pgbouncer.ini: databases.catalog_ro_replica2 host must be prod-replica2.rds-endpoint.invalid, the one node the entry is for (replica2), got ${both}`,
    ]);
  });

  test("node addresses unknown: each ro entry is counted on the replica the plan gives it", () => {
    const facts = rendered();
    for (const n of facts.nodes) delete n.address;
    const { budgets, findings } = assessBudget(facts, prod);
    expect(findings).toEqual([]);
    expect(budgets.map((b) => b.budget)).toEqual(prod.budget);
  });

  test("a node on RDS's default parameter group", () => {
    const facts = rendered(dev);
    delete facts.nodes[1]!.parameterGroup;
    expect(checkBudget(facts, dev).map((f) => f.message)).toEqual([
      "node replica1: parameterGroupName must name the stack's parameter group (max_connections 400), got RDS's default group",
    ]);
  });
});
