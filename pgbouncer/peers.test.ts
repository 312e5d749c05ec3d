import { describe, expect, test } from "vitest";
import { loadStack } from "../platform/config.js";
import { rawStack, withField } from "../platform/fixtures.js";
import { hostPrivateIps } from "../platform/network.js";
import { buildPlan, type Plan } from "../platform/plan.js";
import { validateStackConfig } from "../platform/validate.js";
import { PRODUCTION_LAYOUT, reviewUpstreams } from "./layout.js";
import { cloudPeers, renderHostFiles, userlistEntries } from "./render.js";

/**
 * [peers] across the cloud fleet: behind the load balancer a cancel request reaches any host, so
 * every host's ini names every host, by the fixed address platform/network.ts gives it, with a
 * fleet-unique peer_id. Every render of a cloud host (the components', the review render, the
 * policies') goes through renderHostFiles, so they cannot disagree.
 */
const prod = buildPlan(loadStack("prod"));
const dev = buildPlan(loadStack("dev"));

function ini(plan: Plan, index: number): string {
  const c = plan.config;
  return renderHostFiles({
    plan,
    host: plan.hosts[index]!,
    upstreams: reviewUpstreams(plan.environment, c.database.replicas, c.database.port),
    layout: PRODUCTION_LAYOUT,
    users: userlistEntries(plan, "redacted"),
  })["pgbouncer.ini"];
}

/** `[peers]` lines and the host's own peer_id, as PgBouncer reads them. */
function peersOf(text: string): { peerId: string | undefined; peers: string[] } {
  const section = /\n\[peers\]\n([^[]*)/.exec(text)?.[1] ?? "";
  return {
    peerId: /^peer_id = (\d+)$/m.exec(text)?.[1],
    peers: section.split("\n").filter(Boolean),
  };
}

describe("cloud [peers]", () => {
  test("prod: every host lists all three by their fixed addresses, and names its own id", () => {
    const [a, b, c] = hostPrivateIps(prod.config.network, 3);
    const all = [`1 = host=${a} port=6432`, `2 = host=${b} port=6432`, `3 = host=${c} port=6432`];
    expect(all).toEqual([
      "1 = host=10.40.0.16 port=6432",
      "2 = host=10.40.16.16 port=6432",
      "3 = host=10.40.32.16 port=6432",
    ]);
    prod.hosts.forEach((host) => {
      expect(peersOf(ini(prod, host.index)), host.name).toEqual({
        peerId: String(host.index + 1),
        peers: all,
      });
    });
  });

  test("peer ids are host index + 1, unique over the fleet; the port is PgBouncer's", () => {
    const big = buildPlan(validateStackConfig(withField(rawStack("prod"), "pgbouncer.hosts", 7)));
    const peers = cloudPeers(big);
    expect(peers.map((p) => p.id)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(new Set(peers.map((p) => p.host)).size).toBe(7);
    expect(peers.every((p) => p.port === big.config.pgbouncer.port)).toBe(true);
    expect(peersOf(ini(big, 6)).peers).toHaveLength(7);
  });

  test("dev: one host has no peer, so no [peers] and no peer_id", () => {
    expect(peersOf(ini(dev, 0))).toEqual({ peerId: undefined, peers: [] });
  });

  test("the local stack's render gets no cloud peers (it lists its own processes)", () => {
    const local = buildPlan(loadStack("local"));
    const text = renderHostFiles({
      plan: local,
      host: local.hosts[0]!,
      upstreams: reviewUpstreams("local", 2, 5432),
      layout: PRODUCTION_LAYOUT,
      users: userlistEntries(local, "redacted"),
    })["pgbouncer.ini"];
    expect(text).not.toMatch(/peer/);
  });
});
