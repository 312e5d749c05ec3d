import { describe, expect, test } from "vitest";
import { DEFAULTS } from "./defaults.js";
import { appPools, choosePoolMode, sizeEntry, spreadBound } from "./sizing.js";

const load = {
  mode: "transaction" as const,
  clients: 400,
  tps: 1000,
  transactionMs: 10,
  priority: "normal" as const,
};

describe("sizeEntry", () => {
  test("Little's law: 1000 tps × 10 ms = 10 busy, × 1.5 headroom = 15 server connections", () => {
    expect(DEFAULTS.headroom).toBe(1.5);
    expect(sizeEntry(load, 1).serverConnectionsNeeded).toBe(15);
  });

  test.each([
    // hosts, pool_size per host: the fleet minus one host carries the peak
    [1, 15],
    [2, 15],
    [3, 8],
    [4, 5],
    [6, 3],
  ])("%i hosts → pool_size %i per host", (hosts, poolSize) => {
    const s = sizeEntry(load, hosts);
    expect(s.poolSize).toBe(poolSize);
    expect(s.poolSize * Math.max(1, hosts - 1)).toBeGreaterThanOrEqual(s.serverConnectionsNeeded);
  });

  test("one host lost: the survivors' pools and client slots still hold the peak", () => {
    const s = sizeEntry(load, 3);
    expect(s.survivingHosts).toBe(2);
    expect(s.clientsPerHost * 2).toBeGreaterThanOrEqual(400);
    expect(s.poolSize * 2).toBeGreaterThanOrEqual(15);
  });

  test("never more server connections than clients, never fewer than the minimum", () => {
    expect(sizeEntry({ ...load, clients: 6 }, 1).serverConnectionsNeeded).toBe(6);
    expect(sizeEntry({ ...load, tps: 1 }, 1).poolSize).toBe(DEFAULTS.minPoolSize);
  });

  test("session pooling pins one server connection per client, with room for an uneven spread", () => {
    const s = sizeEntry({ ...load, mode: "session", clients: 30 }, 3);
    expect(s.serverConnectionsNeeded).toBe(30);
    // two survivors: 15 each on average; a random spread gives one of them more than 24 in < 1/1000
    expect(s.poolSize).toBe(24);
    // one host, one process: every client lands there, no more room needed than clients
    expect(sizeEntry({ ...load, mode: "session", clients: 30 }, 1).poolSize).toBe(30);
    // two processes on the surviving host split it again at random
    expect(sizeEntry({ ...load, mode: "session", clients: 24 }, 2, 2).poolSize).toBe(20);
  });

  test.each([
    // clients, targets, bound: Bin(n, 1/targets) exceeds it for some target in ≤ 1/1000 of spreads
    [30, 1, 30],
    [30, 2, 24],
    [24, 2, 20],
    [24, 4, 14],
    [100, 2, 66],
    [1000, 3, 385],
    [0, 3, 0],
  ])("spreadBound(%i clients, %i targets) = %i", (clients, targets, bound) => {
    expect(spreadBound(clients, targets, 0.001)).toBe(bound);
  });

  test("spreadBound is the binomial tail: a simulated spread rarely exceeds it", () => {
    // A deterministic pseudo-random spread (LCG), 20 000 trials of 24 clients over 2 targets.
    let seed = 12345;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const bound = spreadBound(24, 2, 0.001);
    let over = 0;
    for (let t = 0; t < 20_000; t++) {
      let first = 0;
      for (let c = 0; c < 24; c++) if (next() < 0.5) first++;
      if (first > bound || 24 - first > bound) over++;
    }
    expect(over / 20_000).toBeLessThanOrEqual(0.002);
    // and one fewer would not do: the simulated spread exceeds bound − 1 far more often
    let overTight = 0;
    seed = 12345;
    for (let t = 0; t < 20_000; t++) {
      let first = 0;
      for (let c = 0; c < 24; c++) if (next() < 0.5) first++;
      if (first > bound - 1 || 24 - first > bound - 1) overTight++;
    }
    expect(overTight).toBeGreaterThan(over);
  });

  test.each([
    ["critical", 4],
    ["high", 3],
    ["normal", 2],
    ["low", 0],
  ] as const)("reserve for %s priority is %i on a pool of 15", (priority, reserve) => {
    const s = sizeEntry({ ...load, priority }, 1);
    expect(s.reservePoolSize).toBe(reserve);
    expect(s.maxDbConnections).toBe(15 + reserve);
  });

  test("min_pool_size keeps half the steady per-host share warm; low priority keeps none", () => {
    expect(sizeEntry(load, 3).minPoolSize).toBe(Math.ceil((15 / 3) * 0.5));
    expect(sizeEntry({ ...load, priority: "low" }, 3).minPoolSize).toBe(0);
  });
});

describe("choosePoolMode", () => {
  test.each([
    [[], true, "transaction"],
    [["preparedStatements"], true, "transaction"],
    [["preparedStatements"], false, "session"],
    [["listenNotify"], true, "session"],
    [["sessionAdvisoryLocks"], true, "session"],
    [["sessionSet"], true, "session"],
    [["tempTables"], true, "session"],
  ] as const)("%j with prepared-statement tracking %s → %s", (features, tracks, mode) => {
    expect(choosePoolMode(features, tracks).mode).toBe(mode);
  });

  test.each([
    [["tempTables"], "transaction", /CREATE TEMP TABLE/],
    [["listenNotify"], "transaction", /refuses LISTEN/],
    [["tempTables", "sessionSet"], "session", /SET must not leak.*tempTables runs on the primary/],
    [["sessionAdvisoryLocks"], "session", /advisory locks/],
  ] as const)(
    "on a replica %j → %s: a hot standby refuses temp tables and LISTEN",
    (features, mode, why) => {
      expect(choosePoolMode(features, true, "replica")).toMatchObject({
        mode,
        reason: expect.stringMatching(why),
      });
      expect(choosePoolMode(features, true, "primary").mode).toBe("session");
    },
  );
});

describe("appPools", () => {
  const spec = {
    peakClients: 100,
    instances: 4,
    peakTps: 1,
    statementsPerTransaction: 1,
    transactionMs: 1,
    maxReplicaLagSeconds: 1,
    sessionFeatures: [],
    priority: "normal" as const,
  };
  test.each([
    [0, 25, 0],
    [0.8, 5, 20],
    [1, 1, 25],
  ])("readShare %f → rw %i, ro %i per instance", (readShare, rw, ro) => {
    expect(appPools({ ...spec, readShare })).toMatchObject({
      poolMax: 25,
      rwPoolMax: rw,
      roPoolMax: ro,
    });
  });
});
