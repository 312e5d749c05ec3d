import { describe, expect, test } from "vitest";
import { loadStack } from "./config.js";
import { DEFAULTS } from "./defaults.js";
import { isConfigError } from "./errors.js";
import { buildPlan } from "./plan.js";
import { judgeService, planChanges, tune, type ServiceObservation } from "./tuning.js";
import { formatTune } from "./tuning-report.js";

const config = loadStack("local");

/** What a service declaring exactly its load would be observed doing. */
function asDeclared(service: string): ServiceObservation {
  const s = config.services[service]!;
  return {
    peakTps: s.peakTps,
    p95Tps: s.peakTps * 0.9,
    transactionMs: s.transactionMs,
    readShare: s.readShare,
    peakClients: s.peakClients * 0.7,
    maxWaitSeconds: 0,
    maxReplicaLagSeconds: 0.5,
  };
}
const allAsDeclared = () =>
  Object.fromEntries(Object.keys(config.services).map((s) => [s, asDeclared(s)]));

describe("judgeService", () => {
  const orders = config.services.orders!;
  const planned = buildPlan(config).services.find((s) => s.name === "orders")!;
  const connections = planned.entries.reduce((a, e) => a + e.clients, 0);
  const field = (o: Partial<ServiceObservation>, name: string) =>
    judgeService(orders, { ...asDeclared("orders"), ...o }, planned).find((v) => v.field === name)!;

  test("a declaration within the tolerance stands, one beyond it is replaced by the observation", () => {
    const t = DEFAULTS.tuning.tolerance;
    const inside = orders.peakTps * (1 + t.peakTps * 0.9);
    const beyond = orders.peakTps * (1 + t.peakTps * 1.1);
    expect(field({ peakTps: inside }, "peakTps")).toMatchObject({
      changed: false,
      proposed: orders.peakTps,
    });
    const v = field({ peakTps: beyond }, "peakTps");
    expect(v.changed).toBe(true);
    // two significant digits, rounded up: never below what was seen
    expect(v.proposed).toBeGreaterThanOrEqual(beyond);
    expect(v.proposed).toBeLessThan(beyond * 1.1);
    expect(field({ transactionMs: orders.transactionMs * 0.5 }, "transactionMs")).toMatchObject({
      changed: true,
      proposed: orders.transactionMs * 0.5,
    });
    expect(field({ readShare: orders.readShare + t.readShare * 0.9 }, "readShare").changed).toBe(
      false,
    );
    expect(field({ readShare: 0.02 }, "readShare")).toMatchObject({ changed: true, proposed: 0 });
  });

  test("peakClients is raised when more connections than the declaration gives are seen, never lowered", () => {
    // an instance holds its rw pool and its ro pool to each of the 2 replicas
    expect(connections).toBeGreaterThan(orders.peakClients);
    expect(field({ peakClients: connections }, "peakClients")).toMatchObject({ changed: false });
    expect(field({ peakClients: 3 }, "peakClients")).toMatchObject({ changed: false });
    const v = field({ peakClients: connections * 1.5 }, "peakClients");
    expect(v).toMatchObject({ changed: true, proposed: Math.ceil(orders.peakClients * 1.5) });
    expect(v.rule).toContain(`more than the ${connections} connections it gives`);
  });
});

describe("tune", () => {
  test("declarations that match the observation propose no change, and the plan is the same", () => {
    const r = tune(config, allAsDeclared());
    expect(
      Object.values(r.verdicts)
        .flat()
        .filter((v) => v.changed),
    ).toEqual([]);
    expect(r.proposed).toEqual(config);
    expect("plan" in r.outcome && planChanges(r.current, r.outcome.plan)).toEqual([]);
    expect(formatTune(r, "stack local", "1h")).toContain("Every declaration stands");
  });

  test("twice the declared rate grows orders' pools, and the plan diff says by how much", () => {
    const observed = allAsDeclared();
    observed.orders = { ...observed.orders!, peakTps: config.services.orders!.peakTps * 2 };
    const r = tune(config, observed);
    expect(r.proposed.services.orders!.peakTps).toBe(config.services.orders!.peakTps * 2);
    if (!("plan" in r.outcome)) throw new Error(`refused: ${JSON.stringify(r.outcome)}`);
    const changes = planChanges(r.current, r.outcome.plan);
    const pool = changes.find((c) => c.what === "orders pool_size")!;
    expect(pool.to).toBeGreaterThan(pool.from);
    // only orders' entries change size
    expect(
      changes.filter((c) => c.what.endsWith("pool_size")).every((c) => c.what.startsWith("orders")),
    ).toBe(true);
    expect(formatTune(r, "stack local", "1h")).toMatch(/orders pool_size\s+\d+\s+\d+/);
  });

  test("a proposal over a node's budget is refused, naming the budget and what to grow", () => {
    const observed = allAsDeclared();
    observed.orders = { ...observed.orders!, peakTps: 200, transactionMs: 5000 };
    const r = tune(config, observed);
    if (!("refused" in r.outcome)) throw new Error("expected the proposal to be refused");
    const primary = r.outcome.refused.find((p) => p.message.includes("leaves primary"));
    expect(primary).toMatchObject({ path: "database.maxConnections", got: "300" });
    expect(primary!.message).toMatch(/279 usable connections .* need \d+: .*orders 2×\d+/);
    expect(r.outcome.grow).toMatch(/database\.instanceClass, or database\.maxConnections/);
    expect(formatTune(r, "stack local", "1h")).toContain("The proposal is refused");
  });

  test("an idle service is not judged: its declarations are kept, and the report says why", () => {
    const observed = allAsDeclared();
    delete observed.reporting;
    const why = "no transactions in the window beyond the library's lag probes";
    const r = tune(config, observed, Object.keys(config.services), { reporting: why });
    expect(Object.keys(r.verdicts)).not.toContain("reporting");
    expect(r.proposed.services.reporting).toEqual(config.services.reporting);
    expect(formatTune(r, "stack local", "1h")).toContain(
      `reporting: not judged, its declarations kept: ${why}`,
    );
  });

  test("a service without an observation is an error naming it", () => {
    const observed = allAsDeclared();
    delete observed.payments;
    try {
      tune(config, observed);
      throw new Error("expected a ConfigError");
    } catch (e) {
      expect(isConfigError(e) && e.problems).toEqual([
        { path: "observations.payments", message: "has no observation over the window" },
      ]);
    }
  });
});
