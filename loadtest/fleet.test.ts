import { describe, expect, test } from "vitest";
import { loadStack } from "../platform/config.js";
import { buildPlan } from "../platform/plan.js";
import { fleet, listens, partition } from "./fleet.js";

const plan = buildPlan(loadStack("local"));
const hosts = { pgbouncerHosts: ["127.0.0.11", "127.0.0.12"] };
const clientsOf = (specs: ReturnType<typeof fleet>) => specs.reduce((n, s) => n + s.clients, 0);

describe("fleet", () => {
  test("at the plan's own client count it is the plan's instances with their own pools", () => {
    const specs = fleet(plan, { clients: plan.totalPeakClients, rate: 1 }, hosts);
    for (const s of plan.services) {
      const mine = specs.filter((x) => x.service === s.name);
      expect(mine).toHaveLength(s.instances);
      expect(mine[0]!.clients).toBe(s.app.rwPoolMax + s.app.roPoolMax);
    }
    // Rounding of pool sizes may add a few clients, never drop any.
    expect(clientsOf(specs)).toBeGreaterThanOrEqual(plan.totalPeakClients);
    expect(clientsOf(specs)).toBeLessThan(plan.totalPeakClients + 10);
  });

  test("2000 clients double the instances and keep each host within max_client_conn", () => {
    const specs = fleet(plan, { clients: 2000, rate: 1 }, hosts);
    expect(clientsOf(specs)).toBeGreaterThanOrEqual(2000);
    for (const address of hosts.pgbouncerHosts) {
      const onHost = specs.filter((s) => s.profile.rw.host === address);
      expect(clientsOf(onHost)).toBeLessThanOrEqual(plan.hosts[0]!.maxClientConn);
    }
  });

  test("rate is the share of each service's per-client peak rate", () => {
    const specs = fleet(plan, { clients: plan.totalPeakClients, rate: 0.5 }, hosts);
    const orders = specs.find((s) => s.service === "orders")!;
    const spec = plan.config.services.orders!;
    expect(orders.targetTps).toBeCloseTo((spec.peakTps / spec.peakClients) * 0.5 * orders.clients);
  });

  test("a LISTEN session takes one of the instance's rw connections, not an extra one", () => {
    const specs = fleet(plan, { clients: plan.totalPeakClients, rate: 1 }, hosts);
    const n = specs.find((s) => listens(s.service))!;
    const service = plan.services.find((s) => s.name === n.service)!;
    expect(n.profile.rw.poolMax).toBe(service.app.rwPoolMax - 1);
    expect(n.clients).toBe(service.app.rwPoolMax + service.app.roPoolMax);
  });

  test("direct mode points rw at the primary and each replica endpoint at its replica, by database name", () => {
    const pg = { primary: "127.0.0.1", replicas: ["127.0.0.2", "127.0.0.3"], port: 55432 };
    const specs = fleet(plan, { clients: 100, rate: 1, services: ["catalog"] }, { postgres: pg });
    expect(new Set(specs.map((s) => s.profile.rw.host))).toEqual(new Set(["127.0.0.1"]));
    for (const s of specs) {
      expect(s.profile.replicas.map((r) => r.host)).toEqual(pg.replicas);
      expect(s.profile.replicas.every((r) => r.database === "catalog")).toBe(true);
    }
  });

  test("pooled mode sends every endpoint of an instance to its host; each replica keeps the full ro pool", () => {
    const specs = fleet(plan, { clients: plan.totalPeakClients, rate: 1 }, hosts);
    for (const s of specs) {
      const service = plan.services.find((x) => x.name === s.service)!;
      expect(s.profile.replicas.map((r) => r.host)).toEqual(
        s.profile.replicas.map(() => s.profile.rw.host),
      );
      expect(s.profile.replicas.map((r) => r.poolMax)).toEqual(
        s.profile.replicas.map(() => service.app.roPoolMax),
      );
    }
  });

  test("an unknown service is refused by name", () => {
    expect(() => fleet(plan, { clients: 10, rate: 1, services: ["billing"] }, hosts)).toThrow(
      /--service .* got billing/,
    );
  });
});

test("fewer clients than one instance per service holds: one instance each, smaller pools", () => {
  const specs = fleet(plan, { clients: 50, rate: 1 }, hosts);
  expect(specs).toHaveLength(plan.services.length);
  expect(clientsOf(specs)).toBeGreaterThanOrEqual(plan.services.length);
  expect(clientsOf(specs)).toBeLessThan(80);
  for (const s of specs) expect(s.profile.rw.poolMax).toBeGreaterThanOrEqual(1);
});

test("partition balances clients over workers: loads differ by less than the largest item", () => {
  const items = [10, 9, 8, 1, 1, 1].map((clients) => ({ clients }));
  const parts = partition(items, 2);
  const loads = parts.map((p) => p.reduce((n, x) => n + x.clients, 0)).sort((a, b) => a - b);
  expect(loads).toEqual([13, 17]);
  expect(parts.flat()).toHaveLength(items.length);
  expect(partition(items, 10)).toHaveLength(items.length); // no empty worker
});
