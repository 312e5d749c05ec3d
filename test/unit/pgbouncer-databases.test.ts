import { describe, expect, test } from "vitest";
import { loadStack } from "../../platform/config.js";
import { replicaNodeNames } from "../../platform/nodes.js";
import { buildPlan } from "../../platform/plan.js";
import { localUpstreams } from "../../local/topology.js";
import { databaseLine } from "../../pgbouncer/ini.js";
import type { Upstreams } from "../../pgbouncer/layout.js";

const local = buildPlan(loadStack("local"));
const prod = buildPlan(loadStack("prod"));
const PROD_UPSTREAMS: Upstreams = {
  primary: "primary.db.internal",
  replicas: ["replica1.db.internal", "replica2.db.internal"],
  port: 5432,
};

/** `host=…` of an entry's [databases] line. */
const hostOf = (line: string) => /^\w+ = (host=\S*) /.exec(line)?.[1];

// GIVEN a plan and its nodes' addresses WHEN the [databases] lines are rendered THEN each entry
// names exactly its own node: the rw entry the primary, each ro entry its one replica.
describe("[databases]: one node per entry", () => {
  test.each([
    ["local", local, localUpstreams(local)],
    ["prod", prod, PROD_UPSTREAMS],
  ] as const)("%s: each entry names exactly its own node's host", (_, plan, upstreams) => {
    const replicas = replicaNodeNames(upstreams.replicas.length);
    for (const e of plan.entries) {
      const want =
        e.role === "rw" ? upstreams.primary : upstreams.replicas[replicas.indexOf(e.node)]!;
      expect(hostOf(databaseLine(plan, e, upstreams)), e.name).toBe(`host=${want}`);
    }
  });

  test("a service's ro entries name its replicas one each, in replica order", () => {
    const ro = prod.entries.filter((e) => e.service === "orders" && e.role === "ro");
    expect(ro.map((e) => [e.name, hostOf(databaseLine(prod, e, PROD_UPSTREAMS))])).toEqual([
      ["orders_ro_replica1", "host=replica1.db.internal"],
      ["orders_ro_replica2", "host=replica2.db.internal"],
    ]);
  });

  test("no line gets load_balance_hosts, though the production line knows it", () => {
    for (const e of prod.entries)
      expect(databaseLine(prod, e, PROD_UPSTREAMS)).not.toMatch(/load_balance_hosts|host=\S*,/);
  });

  test("an entry for a node the upstreams do not have is refused, naming the node", () => {
    const entry = local.entries.find((e) => e.node === "replica2")!;
    const one = { ...PROD_UPSTREAMS, replicas: PROD_UPSTREAMS.replicas.slice(0, 1) };
    expect(() => databaseLine(local, entry, one)).toThrow(
      "upstreams must give an address for node replica2, got primary and 1 replica(s)",
    );
  });
});
