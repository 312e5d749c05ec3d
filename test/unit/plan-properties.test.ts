import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { DEFAULTS } from "../../platform/defaults.js";
import { ConfigError } from "../../platform/errors.js";
import { rawStack } from "../../platform/fixtures.js";
import { buildPlan, type Plan } from "../../platform/plan.js";
import { clientProfiles } from "../../platform/profiles.js";
import { PRIORITIES, SESSION_FEATURES } from "../../platform/schema.js";
import { PRIMARY_ONLY } from "../../platform/sizing.js";
import { validateStackConfig } from "../../platform/validate.js";
import { fixtureVerifiers } from "../../pgbouncer/fixtures.js";
import { renderHostFiles, userlistEntries } from "../../pgbouncer/render.js";
import { localLayout, localReloadCommand, localUpstreams } from "../../local/topology.js";
import { renderLocalHost } from "../../local/pgbouncer.js";
import { factsFromPlan } from "../../policies/artifacts.js";
import { runRules, violationsOf } from "../../policies/rules.js";

/**
 * The plan's invariants over random valid stacks (fast-check): 1–4 PgBouncer hosts, 1–3 replicas,
 * 1–20 services with any session features, loads and priorities. A stack the plan refuses (over
 * the node budget) must be refused with a ConfigError; every plan it builds must hold with one
 * host lost. Bounded: RUNS random stacks per run, about a second.
 */
const RUNS = 150;

const service = fc.record({
  peakClients: fc.integer({ min: 1, max: 400 }),
  instances: fc.integer({ min: 1, max: 20 }),
  peakTps: fc.integer({ min: 1, max: 800 }),
  statementsPerTransaction: fc.integer({ min: 1, max: 3 }),
  transactionMs: fc.integer({ min: 1, max: 5000 }),
  readShare: fc.constantFrom(0, 0.2, 0.5, 0.8, 1),
  maxReplicaLagSeconds: fc.integer({ min: 1, max: 600 }),
  sessionFeatures: fc.subarray([...SESSION_FEATURES]),
  priority: fc.constantFrom(...PRIORITIES),
});

const stack = fc.record({
  hosts: fc.integer({ min: 1, max: 4 }),
  processes: fc.integer({ min: 1, max: 2 }),
  replicas: fc.integer({ min: 1, max: 3 }),
  maxConnections: fc.integer({ min: 200, max: 5000 }),
  services: fc.uniqueArray(fc.tuple(fc.stringMatching(/^[a-z]{3,10}$/), service), {
    minLength: 1,
    maxLength: 20,
    selector: ([name]) => name,
  }),
});

type Generated = typeof stack extends fc.Arbitrary<infer T> ? T : never;

function rawConfig(g: Generated): Record<string, unknown> {
  const raw = structuredClone(rawStack("local")) as Record<string, Record<string, unknown>>;
  raw.pgbouncer = { ...raw.pgbouncer, hosts: g.hosts, processesPerHost: g.processes };
  raw.database = { ...raw.database, replicas: g.replicas, maxConnections: g.maxConnections };
  raw.services = Object.fromEntries(
    g.services.map(([name, s]) => [
      name,
      { ...s, peakClients: Math.max(s.peakClients, s.instances) },
    ]),
  );
  return raw;
}

/** The plan for a generated stack, or undefined when the plan refuses it over budget. */
function planOf(g: Generated): Plan | undefined {
  const config = validateStackConfig(rawConfig(g));
  try {
    return buildPlan(config);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    // over a node's connection budget, or over what PgBouncer's single-threaded processes carry
    for (const problem of (e as ConfigError).problems)
      expect(problem.message).toMatch(
        /usable connections .* but its pools need|statements\/s at peak with one host lost/,
      );
    return undefined;
  }
}

function checkInvariants(p: Plan): void {
  const processes = p.hosts[0]!.processes;
  const survivors = Math.max(1, p.hosts.length - 1);
  // every node's pools fit its usable connections
  for (const node of p.budget) expect(node.free, node.node).toBeGreaterThanOrEqual(0);
  // with one host lost, the others' client slots hold every entry's clients at once
  const clients = p.entries.reduce((n, e) => n + e.clients, 0);
  const slots = p.hosts
    .slice(0, survivors)
    .reduce((n, h) => n + h.maxClientConn - DEFAULTS.adminClientConnections, 0);
  expect(slots).toBeGreaterThanOrEqual(clients);
  for (const h of p.hosts)
    expect(h.openFilesLimit).toBeGreaterThanOrEqual(h.maxClientConn + h.maxServerConnections);
  for (const e of p.entries) {
    expect(e.maxDbConnections).toBe(e.poolSize + e.reservePoolSize);
    expect(e.minPoolSize).toBeLessThanOrEqual(e.poolSize);
    // the surviving hosts' pools carry the entry's peak connections
    expect(e.poolSize * processes * survivors, e.name).toBeGreaterThanOrEqual(
      Math.min(e.serverConnectionsNeeded, e.clients),
    );
  }
  for (const s of p.services) {
    const features = p.config.services[s.name]!.sessionFeatures;
    for (const e of s.entries.filter((x) => x.role === "ro"))
      if (e.poolMode === "session")
        expect(
          features.some((f) => !PRIMARY_ONLY[f]),
          e.name,
        ).toBe(true);
    const [rw, ...ro] = s.entries;
    const largestRo = Math.max(0, ...ro.map((e) => e.maxDbConnections));
    expect(s.roleConnectionLimit).toBeGreaterThanOrEqual(
      p.hosts.length * processes * (rw!.maxDbConnections + largestRo),
    );
  }
  // the busiest process carries at least the average share and no more than its core's share
  const statements = Object.values(p.config.services).reduce(
    (n, x) => n + x.peakTps * x.statementsPerTransaction,
    0,
  );
  expect(p.cpu.peakPerProcess).toBeGreaterThanOrEqual(
    Math.floor(statements / (survivors * processes)),
  );
  expect(p.cpu.peakPerProcess).toBeLessThanOrEqual(p.cpu.capacityPerProcess);
  // the policy pack's artifact rules read the rendered files and agree with the plan
  const facts = factsFromPlan(p, "generated", "local", {
    hostFiles: (host) => renderLocalHost(p, host, "redacted"),
    upstreams: localUpstreams(p),
  });
  expect(violationsOf(runRules(facts, p)).map((v) => `[${v.rule}] ${v.message}`)).toEqual([]);
  for (const profile of clientProfiles(p)) {
    const s = p.services.find((x) => x.name === profile.service)!;
    const rw = s.entries[0]!;
    expect(profile.retry.maxConcurrent).toBeGreaterThanOrEqual(1);
    expect(profile.retry.maxConcurrent * s.instances).toBeLessThanOrEqual(
      rw.reservePoolSize * processes * rw.survivingHosts,
    );
    expect(profile.connectTimeoutMs).toBeLessThan(profile.queryWaitTimeoutMs);
    expect(profile.queryWaitTimeoutMs).toBeLessThan(profile.statementTimeoutMs);
  }
}

/** Every host's files, rendered as the local stack renders them (under a fixed folder). */
function renderAll(p: Plan): string[] {
  return p.hosts.map((host) => {
    const layout = localLayout(host, "/srv/pg-pooling/.stack");
    const files = renderHostFiles({
      plan: p,
      host,
      upstreams: localUpstreams(p),
      layout,
      users: userlistEntries(p, fixtureVerifiers(p)),
      reloadCommand: localReloadCommand(layout),
    });
    return JSON.stringify(files);
  });
}

describe("the plan over random stacks", () => {
  test("every plan built holds with one host lost and passes the policy pack; every refusal is a budget or CPU ConfigError", () => {
    let built = 0;
    fc.assert(
      fc.property(stack, (g) => {
        const p = planOf(g);
        if (p) {
          built++;
          checkInvariants(p);
        }
      }),
      { numRuns: RUNS },
    );
    // the property is about plans: most random stacks must produce one
    expect(built).toBeGreaterThan(RUNS / 2);
  });

  test("the render is deterministic, every service an entry of its own line", () => {
    fc.assert(
      fc.property(stack, (g) => {
        const p = planOf(g);
        if (!p) return;
        const once = renderAll(p);
        expect(renderAll(p)).toEqual(once);
        const ini = JSON.parse(once[0]!)["pgbouncer.ini"] as string;
        for (const name of p.services.map((s) => s.name))
          expect(ini).toMatch(new RegExp(`^${name} = `, "m"));
        expect(ini).not.toMatch(/\r|\0/);
      }),
      { numRuns: 40 },
    );
  });
});
