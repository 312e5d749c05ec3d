import pg from "pg";
import { afterAll, expect, test } from "vitest";
import { connect, endpointTarget } from "../../local/connect.js";
import { waitFor } from "../../local/daemons.js";
import { drainHost, HAPROXY, readyHost, serverStates } from "../../local/haproxy.js";
import { processIds, startProcess, stopProcess } from "../../local/pgbouncer.js";
import { stackStatus } from "../../local/stack.js";
import { adminViaProcess, plan, secrets } from "./helpers.js";

/**
 * HAProxy is the local stack's load balancer, where the cloud has its NLB: the endpoint every
 * client uses, TCP health checks that take a dead host out, and drain/ready through its runtime API
 * for a planned restart.
 */
const PROBE = "balancer-probe";
afterAll(async () => {
  for (const host of plan.hosts) await readyHost(host.name);
});

/** `n` new connections through the endpoint, tagged so SHOW CLIENTS can find them. */
async function openThroughBalancer(n: number): Promise<pg.Client[]> {
  const target = { ...endpointTarget(plan, secrets, "orders", "orders") };
  return Promise.all(
    Array.from({ length: n }, async () => {
      const c = new pg.Client({ ...target, application_name: PROBE });
      c.on("error", () => {});
      await c.connect();
      return c;
    }),
  );
}

/** How many of the probe's connections each host holds, over all its processes. */
async function probesPerHost(): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const host of plan.hosts) {
    counts[host.name] = 0;
    for (const k of processIds(host)) {
      const rows = await adminViaProcess<{ application_name: string }>(host, k, "SHOW CLIENTS");
      counts[host.name]! += rows.filter((r) => r.application_name?.startsWith(PROBE)).length;
    }
  }
  return counts;
}

test("the endpoint is HAProxy, and it sees every host up", async () => {
  expect((await stackStatus(plan)).balancer).toBe(
    `${plan.config.pgbouncer.endpoint}:${plan.config.pgbouncer.port}`,
  );
  expect(await serverStates()).toEqual(
    plan.hosts.map((h) => ({ server: h.name, up: true, admin: "ready" })),
  );
});

test("a drained host takes no new connection and keeps its own; ready brings it back", async () => {
  const [first, second] = plan.hosts as [(typeof plan.hosts)[0], (typeof plan.hosts)[0]];
  const before = await openThroughBalancer(4);
  try {
    expect(Object.values(await probesPerHost()).every((n) => n > 0)).toBe(true); // round-robin
    await drainHost(first.name);
    expect((await serverStates()).find((s) => s.server === first.name)?.admin).toBe("drain");
    const during = await openThroughBalancer(10);
    try {
      const counts = await probesPerHost();
      expect(counts[first.name]).toBe(2); // only the connections it had before the drain
      expect(counts[second.name]).toBe(12);
      // the connections it kept still work
      for (const c of before) await c.query("SELECT 1");
    } finally {
      await Promise.all(during.map((c) => c.end()));
    }
    await readyHost(first.name);
    const after = await openThroughBalancer(10);
    try {
      expect((await probesPerHost())[first.name]).toBeGreaterThan(2);
    } finally {
      await Promise.all(after.map((c) => c.end()));
    }
  } finally {
    await Promise.all(before.map((c) => c.end()));
  }
});

test("a killed host leaves the rotation by the health check within fall × inter; new connections go to the others", async () => {
  const host = plan.hosts[1]!;
  await Promise.all(processIds(host).map((k) => stopProcess(host, k, ["SIGKILL"])));
  const killed = Date.now();
  try {
    const noticeMs = HAPROXY.checkIntervalMs * (HAPROXY.fall + 2);
    await waitFor(
      `HAProxy to mark ${host.name} down`,
      async () => (await serverStates()).find((s) => s.server === host.name)?.up === false,
      noticeMs,
      50,
    );
    expect(Date.now() - killed).toBeLessThan(noticeMs);
    const clients = await Promise.all(
      Array.from({ length: 20 }, () => connect(endpointTarget(plan, secrets, "orders", "orders"))),
    );
    await Promise.all(clients.map((c) => c.end()));
  } finally {
    for (const k of processIds(host)) await startProcess(plan, host, k);
  }
  await waitFor(
    `HAProxy to mark ${host.name} up again`,
    async () => (await serverStates()).every((s) => s.up),
    5_000,
  );
});
