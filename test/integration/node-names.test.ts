import { afterAll, expect, test } from "vitest";
import { waitFor } from "../../local/daemons.js";
import { moveNodeName, nodeNames } from "../../local/node-names.js";
import { selectedPgbouncer } from "../../local/lines.js";
import {
  localUpstreams,
  nodeHostName,
  PRIMARY_ADDRESS,
  replicaAddress,
} from "../../local/topology.js";
import { DEFAULTS } from "../../platform/defaults.js";
import { adminViaProcess, plan, viaProcess } from "./helpers.js";

/**
 * Nodes by name, as on RDS: PgBouncer's entries name the Postgres nodes, the production-line root
 * resolves the names, and PgBouncer trusts a resolved address for dns_max_ttl only, so a name
 * that moves (a failover) is followed within seconds. Debian 12's binary runs outside the root
 * and keeps addresses.
 */
const byName = selectedPgbouncer().inRoot;
const host = plan.hosts[0]!;
afterAll(async () => {
  if (byName) await moveNodeName("replica1", replicaAddress(0));
});

test(
  byName
    ? "every entry names its node; the root resolves each name"
    : "Debian 12's line keeps addresses",
  async () => {
    const upstreams = localUpstreams(plan);
    if (!byName) {
      expect(upstreams.primary).toBe(PRIMARY_ADDRESS);
      return;
    }
    expect(upstreams.primary).toBe(nodeHostName("primary"));
    expect(Object.fromEntries(await nodeNames())).toEqual({
      [nodeHostName("primary")]: PRIMARY_ADDRESS,
      [nodeHostName("replica1")]: replicaAddress(0),
      [nodeHostName("replica2")]: replicaAddress(1),
    });
    const databases = await adminViaProcess<{ name: string; host: string }>(
      host,
      1,
      "SHOW DATABASES",
    );
    expect(databases.find((d) => d.name === "orders")?.host).toBe(nodeHostName("primary"));
    const config = await adminViaProcess<{ key: string; value: string }>(host, 1, "SHOW CONFIG");
    const value = (key: string) => config.find((r) => r.key === key)?.value;
    expect([value("dns_max_ttl"), value("tcp_keepidle"), value("tcp_user_timeout")]).toEqual([
      String(DEFAULTS.pgbouncer.dnsMaxTtlSeconds),
      String(DEFAULTS.pgbouncer.tcpKeepIdleSeconds),
      String(DEFAULTS.pgbouncer.tcpUserTimeoutMs),
    ]);
  },
);

test.runIf(byName)(
  "a moved name is followed once dns_max_ttl has passed",
  async () => {
    const resolved = async () => {
      await adminViaProcess(host, 1, "RECONNECT reporting_ro_replica1");
      const clients = await Promise.all(
        [1, 2, 3, 4].map(() => viaProcess(host, 1, "reporting", "reporting_ro_replica1")),
      );
      try {
        await Promise.all(clients.map((c) => c.query("SELECT 1")));
      } finally {
        await Promise.all(clients.map((c) => c.end()));
      }
      const dns = await adminViaProcess<{ hostname: string; addrs: string }>(
        host,
        1,
        "SHOW DNS_HOSTS",
      );
      return dns.find((d) => d.hostname === nodeHostName("replica1"))?.addrs ?? "";
    };
    // GIVEN PgBouncer has resolved replica1 and connected to it
    expect(await resolved()).toMatch(new RegExp(`^${replicaAddress(0).replaceAll(".", "\\.")}:`));
    // WHEN its name moves to replica2's address (as a failover moves a name), and new server
    // connections are made
    await moveNodeName("replica1", replicaAddress(1));
    // THEN PgBouncer resolves it again once dns_max_ttl has passed and connects to the new address
    const started = Date.now();
    await waitFor(
      "PgBouncer to resolve replica1 to its new address",
      async () => (await resolved()).startsWith(replicaAddress(1)),
      (DEFAULTS.pgbouncer.dnsMaxTtlSeconds + 10) * 1000,
      500,
    );
    expect(Date.now() - started).toBeLessThan((DEFAULTS.pgbouncer.dnsMaxTtlSeconds + 10) * 1000);
  },
  60_000,
);
