import { describe, expect, test } from "vitest";
import { loadStack } from "./config.js";
import { DEFAULTS } from "./defaults.js";
import { ConfigError } from "./errors.js";
import { atVersion, rawStack, withField } from "./fixtures.js";
import { buildPlan, roEntryName, type Plan } from "./plan.js";
import { clientProfiles } from "./profiles.js";
import { STACK_KEYS } from "./schema.js";
import { sizeEntry } from "./sizing.js";
import { validateStackConfig } from "./validate.js";

const plan = (raw: Record<string, unknown>) => buildPlan(validateStackConfig(raw));

/**
 * Every key path of a YAML value, service names kept (they must match across stacks too).
 * `pgbouncer.settings` is a free-form map of overrides: its presence counts, not its keys.
 */
function keyPaths(value: unknown, prefix = ""): string[] {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return [prefix];
  if (prefix === "pgbouncer.settings") return [prefix];
  return Object.entries(value).flatMap(([k, v]) => keyPaths(v, prefix ? `${prefix}.${k}` : k));
}

describe("stack files", () => {
  test("dev, prod and local set exactly the same config keys", () => {
    const [local, dev, prod] = ["local", "dev", "prod"].map((s) => keyPaths(rawStack(s)).sort());
    expect(dev).toEqual(local);
    expect(prod).toEqual(local);
    expect(Object.keys(rawStack("local")).sort()).toEqual([...STACK_KEYS].sort());
  });

  test.each(["local", "prod"])(
    "%s holds more than 1000 concurrent clients with a PgBouncer host lost, and fits its budget",
    (stack) => {
      const p = buildPlan(loadStack(stack));
      // what the tier can hold, not what was declared: the hosts left after one is lost have
      // client slots for every entry's clients at once (admin room aside)
      const opened = p.entries.reduce((n, e) => n + e.clients, 0);
      const survivors = Math.max(1, p.hosts.length - 1);
      const slots = p.hosts
        .slice(0, survivors)
        .reduce((n, h) => n + h.maxClientConn - DEFAULTS.adminClientConnections, 0);
      expect(opened).toBeGreaterThan(1000);
      expect(slots).toBeGreaterThanOrEqual(opened);
      expect(p.totalPeakClients).toBeGreaterThan(1000);
      for (const node of p.budget) expect(node.free).toBeGreaterThanOrEqual(0);
      expect(p.services.map((s) => s.name)).toEqual([
        "accounts",
        "catalog",
        "identity",
        "notifications",
        "orders",
        "payments",
        "reporting",
      ]);
    },
  );

  test("prod runs the production PgBouncer line and several hosts and replicas", () => {
    const p = buildPlan(loadStack("prod"));
    expect(p.pgbouncerVersion.slice(0, 2)).toEqual([1, 26]);
    expect(p.hosts.length).toBeGreaterThanOrEqual(2);
    expect(p.config.database.replicas).toBeGreaterThanOrEqual(2);
  });
});

describe("the plan", () => {
  const local = buildPlan(loadStack("local"));

  test("each service gets an rw entry on the primary and one ro entry per replica, each on its replica", () => {
    for (const s of local.services) {
      expect(s.entries.map((e) => [e.name, e.node, e.target])).toEqual([
        [s.name, "primary", "primary"],
        [`${s.name}_ro_replica1`, "replica1", "replica"],
        [`${s.name}_ro_replica2`, "replica2", "replica"],
      ]);
    }
    expect(roEntryName("orders", 0)).toBe("orders_ro_replica1");
    expect(new Set(local.entries.map((e) => e.name)).size).toBe(local.entries.length);
    const names = local.entries.map((e) => e.name);
    expect(names).toEqual([...names].sort((a, b) => a.localeCompare(b)));
  });

  test("a service that reads nothing from replicas has only its rw entry", () => {
    const p = plan(withField(rawStack("local"), "services.orders.readShare", 0));
    const orders = p.services.find((s) => s.name === "orders")!;
    expect(orders.entries.map((e) => e.name)).toEqual(["orders"]);
    expect(clientProfiles(p).find((x) => x.service === "orders")!.replicas).toEqual([]);
  });

  test("pool modes follow declared needs, with the reason", () => {
    const mode = (name: string) => local.services.find((s) => s.name === name)!;
    expect(mode("notifications")).toMatchObject({
      poolMode: "session",
      poolModeReason: expect.stringMatching(/LISTEN/),
    });
    expect(mode("reporting")).toMatchObject({
      poolMode: "session",
      poolModeReason: expect.stringMatching(/temporary tables/),
    });
    // A hot standby cannot create a temp table or LISTEN: those needs pin the primary's entry
    // only, and the replicas' entries pool by transaction (reporting's were session, for nothing).
    for (const name of ["reporting", "notifications"]) {
      const ro = mode(name).entries.filter((e) => e.role === "ro");
      expect(ro.length).toBeGreaterThan(0);
      for (const e of ro) expect(e.poolMode).toBe("transaction");
    }
    expect(mode("orders")).toMatchObject({ poolMode: "transaction" });
    // prepared statements pin sessions on 1.18, and not on 1.26 (max_prepared_statements)
    expect(mode("accounts").poolMode).toBe("transaction");
    const oldest = plan(atVersion(rawStack("local"), "1.18.0"));
    expect(oldest.services.find((s) => s.name === "accounts")!).toMatchObject({
      poolMode: "session",
      poolModeReason: expect.stringMatching(/prepared statements/),
    });
    const prod = buildPlan(loadStack("prod"));
    expect(prod.services.find((s) => s.name === "accounts")!.poolMode).toBe("transaction");
  });

  test.each(["local", "prod", "dev"])(
    "%s: a role's CONNECTION LIMIT holds the most one node can see of it, plus a replacement login per process and entry",
    (stack) => {
      const p = buildPlan(loadStack(stack));
      const processes = p.hosts.length * p.hosts[0]!.processes;
      for (const s of p.services) {
        // on one node at most: a promoted replica carries the rw entry and its own ro entry
        const [rw, ...ro] = s.entries;
        const largestRo = Math.max(0, ...ro.map((e) => e.maxDbConnections));
        const entriesOnOneNode = ro.length > 0 ? 2 : 1;
        const servers = processes * (rw!.maxDbConnections + largestRo);
        const overlap = processes * entriesOnOneNode * DEFAULTS.roleLoginOverlapPerEntry;
        expect(s.roleConnectionLimit, s.name).toBe(servers + overlap);
        expect(overlap).toBeGreaterThan(0);
      }
    },
  );

  test.each(["local", "prod", "dev"])(
    "%s: every instance may retry, and the whole fleet retrying at once fits the rw entry's reserve with a host lost",
    (stack) => {
      const p = buildPlan(loadStack(stack));
      for (const profile of clientProfiles(p)) {
        const s = p.services.find((x) => x.name === profile.service)!;
        const rw = s.entries[0]!;
        const fleetReserve = rw.reservePoolSize * p.hosts[0]!.processes * rw.survivingHosts;
        expect(profile.retry.maxConcurrent, s.name).toBeGreaterThanOrEqual(1);
        expect(profile.retry.maxConcurrent * s.instances, s.name).toBeLessThanOrEqual(fleetReserve);
      }
    },
  );

  test("max_client_conn holds every client with one host lost, plus admin room; open files follow", () => {
    for (const stack of ["local", "prod", "dev"]) {
      const p = buildPlan(loadStack(stack));
      const survivors = Math.max(1, p.hosts.length - 1);
      const clients = p.entries.reduce((n, e) => n + e.clients, 0);
      for (const h of p.hosts) {
        expect(h.clientsAtPeak * survivors).toBeGreaterThanOrEqual(clients);
        expect(h.maxClientConn).toBe(h.clientsAtPeak + DEFAULTS.adminClientConnections);
        expect(h.openFilesLimit).toBeGreaterThanOrEqual(h.maxClientConn + h.maxServerConnections);
      }
    }
  });

  test("the budget table has the primary and every replica, each charged only its own entries", () => {
    expect(local.budget.map((b) => b.node)).toEqual(["primary", "replica1", "replica2"]);
    for (const b of local.budget) {
      const mine = local.entries.filter((e) => e.node === b.node).map((e) => e.name);
      expect(b.shares.map((x) => x.entry)).toEqual(mine);
    }
    expect(local.budget[1]!.shares.every((x) => x.entry.endsWith("_ro_replica1"))).toBe(true);
    const p = local.budget[0]!;
    expect(p.usable).toBe(300 - 3 - 5 - 3 - 10);
  });

  /** What one replica was charged when each service had one ro entry listing every replica. */
  function wholeRoLoad(p: Plan): number {
    const processes = p.hosts[0]!.processes;
    const perHost = p.services
      .filter((s) => s.app.roPoolMax > 0)
      .map((s) => {
        const spec = p.config.services[s.name]!;
        const load = {
          mode: s.entries.find((e) => e.role === "ro")!.poolMode,
          clients: s.app.roPoolMax * spec.instances,
          tps: spec.peakTps * spec.readShare,
          transactionMs: spec.transactionMs,
          priority: spec.priority,
        };
        return sizeEntry(load, p.hosts.length, processes).maxDbConnections;
      });
    // PgBouncer caps an entry per process: every process of every host may hold its share.
    return p.hosts.length * processes * perHost.reduce((n, x) => n + x, 0);
  }

  test.each(["local", "prod", "dev"])(
    "%s: each replica is budgeted for the whole ro load, as one replica carried it before",
    (stack) => {
      const p = buildPlan(loadStack(stack));
      const replicas = p.budget.filter((b) => b.role === "replica");
      expect(replicas).toHaveLength(p.config.database.replicas);
      for (const b of replicas) expect(b.required).toBe(wholeRoLoad(p));
    },
  );

  test("prod's replicas need 189 connections each: 237 before reporting's and notifications' ro entries left session pooling", () => {
    const prod = buildPlan(loadStack("prod"));
    expect(prod.budget.slice(1).map((b) => b.required)).toEqual([189, 189]);
  });

  test("one replica lost: the other's entries alone take every ro client, at the full ro rate", () => {
    const prod = buildPlan(loadStack("prod"));
    const lost = "replica1";
    for (const s of prod.services.filter((x) => x.app.roPoolMax > 0)) {
      const left = s.entries.filter((e) => e.role === "ro" && e.node !== lost);
      expect(left.length).toBeGreaterThan(0);
      const spec = prod.config.services[s.name]!;
      for (const e of left) {
        expect(e.clients).toBe(s.app.roPoolMax * s.instances);
        const load = {
          mode: e.poolMode,
          clients: e.clients,
          tps: spec.peakTps * spec.readShare,
          transactionMs: spec.transactionMs,
          priority: spec.priority,
        };
        expect(e).toMatchObject(sizeEntry(load, prod.hosts.length, prod.hosts[0]!.processes));
        // the surviving hosts' pools hold what all the reads need
        expect(e.poolSize * e.survivingHosts * prod.hosts[0]!.processes).toBeGreaterThanOrEqual(
          e.serverConnectionsNeeded,
        );
      }
    }
  });

  test("over budget is an error that lists every entry's share, never a clamp", () => {
    const raw = withField(rawStack("local"), "database.maxConnections", 150);
    let error: unknown;
    try {
      plan(raw);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as ConfigError).message;
    expect(message).toContain("database.maxConnections leaves primary 129 usable connections");
    expect(message).toMatch(
      /but its pools need 236: accounts 2×6=12, catalog 2×12=24, identity 2×12=24, notifications 2×42=84, orders 2×20=40, payments 2×16=32, reporting 2×10=20, got 150/,
    );
    expect(message).toContain("replica1");
    expect(message).toContain("replica2");
  });

  test.each(["local", "prod", "dev"])(
    "%s: timeouts in order, connect < query_wait_timeout < statement, the statement's run from the service's transactions",
    (stack) => {
      const p = buildPlan(loadStack(stack));
      const queryWait = p.config.pgbouncer.timeouts.queryWaitSeconds * 1000;
      for (const profile of clientProfiles(p)) {
        const spec = p.config.services[profile.service]!;
        expect(profile.connectTimeoutMs).toBeLessThan(queryWait);
        expect(profile.queryWaitTimeoutMs).toBe(queryWait);
        // a slow wait in the pooler ends at PgBouncer's timeout (retry-safe), not the app's
        expect(profile.statementTimeoutMs - queryWait, profile.service).toBeGreaterThanOrEqual(
          Math.max(1000, spec.transactionMs * 10),
        );
      }
    },
  );

  test("prod's reporting runs 3 s transactions: its statements get 30 s once they have a server", () => {
    const prod = buildPlan(loadStack("prod"));
    const reporting = clientProfiles(prod).find((x) => x.service === "reporting")!;
    expect(reporting.statementTimeoutMs).toBe(15_000 + 30_000);
  });

  test("with client_idle_timeout on, apps close idle connections before PgBouncer does", () => {
    // every stack runs with it off (0); the smallest value validation allows, and a larger one
    for (const seconds of [31, 600]) {
      const p = plan(withField(rawStack("local"), "pgbouncer.timeouts.clientIdleSeconds", seconds));
      for (const profile of clientProfiles(p))
        expect(profile.idleTimeoutMs, `${seconds}s`).toBeLessThan(seconds * 1000);
    }
  });

  test("client profiles: timeouts agree with PgBouncer's, pools add up to the declared clients", () => {
    const profiles = clientProfiles(local);
    const t = local.config.pgbouncer.timeouts;
    for (const p of profiles) {
      expect(p.connectTimeoutMs).toBeLessThan(t.queryWaitSeconds * 1000);
      const s = local.services.find((x) => x.name === p.service)!;
      const spec = local.config.services[p.service]!;
      expect((p.rw.poolMax + (p.replicas[0]?.poolMax ?? 0)) * s.instances).toBeGreaterThanOrEqual(
        spec.peakClients,
      );
      expect(p.tls).toEqual({ sslmode: "verify-full", caFile: DEFAULTS.client.caFile });
      expect(p.rw).toMatchObject({
        host: "127.0.0.10",
        port: 56432,
        database: p.service,
        user: p.service,
      });
      // one endpoint per replica, in replica order, each with the full ro pool
      expect(p.replicas.map((r) => r.database)).toEqual([
        `${p.service}_ro_replica1`,
        `${p.service}_ro_replica2`,
      ]);
      for (const r of p.replicas)
        expect(r).toMatchObject({ ...p.rw, database: r.database, poolMax: s.app.roPoolMax });
    }
  });
});

test("client profiles: one replica endpoint per replica, in replica order, each with the full ro pool", () => {
  const three = plan(withField(rawStack("prod"), "database.replicas", 3));
  for (const p of clientProfiles(three)) {
    const s = three.services.find((x) => x.name === p.service)!;
    expect(p.replicas.map((r) => r.database)).toEqual(
      s.app.roPoolMax > 0 ? [1, 2, 3].map((n) => `${p.service}_ro_replica${n}`) : [],
    );
    expect(p.replicas.map((r) => r.poolMax)).toEqual(p.replicas.map(() => s.app.roPoolMax));
  }
});
