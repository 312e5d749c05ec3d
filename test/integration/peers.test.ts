import pg from "pg";
import { expect, test } from "vitest";
import { connect, endpointTarget } from "../../local/connect.js";
import { localPeers, processIds } from "../../local/pgbouncer.js";
import { localLayout, pgbouncerAddress } from "../../local/topology.js";
import { plan, secrets } from "./helpers.js";

/**
 * Behind the load balancer a cancel request reaches any process of any host, not the one holding
 * the query: every process lists every other in [peers] with a fleet-unique peer_id, so the
 * process that gets the cancel passes it to the one that owns the key: over TCP to another host
 * (plain CancelRequest, before any TLS), where a random process may pass it on once more.
 */
const ROUNDS = 10;
const PER_ROUND = 10;

/** A CancelRequest for a backend key, sent through the balancer on a connection of its own. */
function cancelThroughBalancer(processID: number, secretKey: number): Promise<void> {
  return new Promise((resolve) => {
    const c = new pg.Connection() as unknown as {
      on(e: string, f: () => void): void;
      connect(port: number, host: string): void;
      cancel(pid: number, key: number): void;
    };
    c.on("error", () => resolve());
    c.on("end", () => resolve());
    c.on("connect", () => c.cancel(processID, secretKey));
    c.connect(plan.config.pgbouncer.port, plan.config.pgbouncer.endpoint);
  });
}

// As in the cloud: another host's processes at its address (its kernel picks one of them, which
// passes the cancel on by socket), this host's own by socket. The cancels below cross both.
test("every process of every host is a peer with its own id; another host's at its address", () => {
  for (const self of plan.hosts) {
    const peers = localPeers(plan, self);
    const processes = plan.hosts.reduce((n, h) => n + h.processes, 0);
    expect(peers).toHaveLength(processes);
    expect(new Set(peers.map((p) => p.id)).size).toBe(processes);
    for (const h of plan.hosts)
      for (const k of processIds(h)) {
        const peer = peers.find((p) => p.id === h.index * h.processes + k)!;
        expect(peer.host, `${self.name} → ${h.name}/${k}`).toBe(
          h === self && h.processes > 1
            ? localLayout(h, undefined, k).unixSocketDir
            : pgbouncerAddress(h.index),
        );
      }
  }
});

test(`${ROUNDS * PER_ROUND} cancels sent through the balancer while queries run on random processes: all land`, async () => {
  const outcomes: string[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    // orders is a single-host (primary) entry: a multi-host entry may cancel on the other replica
    const target = endpointTarget(plan, secrets, "orders", "orders");
    const clients = await Promise.all(Array.from({ length: PER_ROUND }, () => connect(target)));
    try {
      const sleeping = clients.map((c) =>
        c.query("SELECT pg_sleep(30)").then(
          () => "finished",
          (e: { code?: string; message: string }) => e.code ?? e.message,
        ),
      );
      await new Promise((r) => setTimeout(r, 300));
      for (const c of clients) {
        const { processID, secretKey } = c as unknown as { processID: number; secretKey: number };
        await cancelThroughBalancer(processID, secretKey);
      }
      const late = new Promise<string[]>((r) =>
        setTimeout(() => r(clients.map(() => "not cancelled within 10 s")), 10_000),
      );
      outcomes.push(...(await Promise.race([Promise.all(sleeping), late])));
    } finally {
      await Promise.all(clients.map((c) => c.end().catch(() => {})));
    }
  }
  const counts: Record<string, number> = {};
  for (const o of outcomes) counts[o] = (counts[o] ?? 0) + 1;
  expect(counts).toEqual({ "57014": ROUNDS * PER_ROUND }); // query_canceled, every one
}, 180_000);
