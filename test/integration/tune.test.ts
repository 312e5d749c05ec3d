import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { createServer, type AddressInfo } from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { parseDocument } from "yaml";
import { prometheusUrl } from "../../local/monitoring.js";
import { localProfiles } from "../../local/tls.js";
import { loadConfigFile, REPO_ROOT, stackFile } from "../../platform/config.js";
import type { Finding } from "../../platform/query-patterns.js";
import { buildPlan } from "../../platform/plan.js";
import type { FieldVerdict } from "../../platform/tuning.js";
import { superuserQuery } from "../../local/postgres-server.js";
import { clusterNodes } from "../../local/postgres-nodes.js";
import { clusterOptions } from "../../local/cluster.js";
import { runPaced, type PacedResult, type PacedShape } from "../../loadtest/paced.js";
import { createDatabase } from "../../resilience/index.js";
import { plan, secrets } from "./helpers.js";

/**
 * npm run tune against the local stack after a load of known shape: each of the seven services
 * driven at its own rate, transaction time and read share through the balancer (loadtest/paced.ts),
 * then read back from Prometheus (PgBouncer's counters, every host and process). The observations
 * must land within the stated tolerances of what was driven; declarations equal to what was driven
 * must stand.
 */
const DRIVEN: Record<string, PacedShape> = {
  identity: { rate: 40, transactionMs: 10, readShare: 0.8 },
  accounts: { rate: 20, transactionMs: 20, readShare: 0.5 },
  catalog: { rate: 40, transactionMs: 10, readShare: 0.9 },
  orders: { rate: 40, transactionMs: 60, readShare: 0.25 },
  payments: { rate: 20, transactionMs: 40, readShare: 0.1 },
  notifications: { rate: 10, transactionMs: 20, readShare: 0.2 },
  reporting: { rate: 4, transactionMs: 500, readShare: 1 },
};
const LOAD_SECONDS = 40;
const TOLERANCE = { peakTps: 0.15, transactionMs: 0.25, readShare: 0.1 };

const run = promisify(execFile);

/** A loopback port nothing listens on: bound, then released. */
function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
const dir = mkdtempSync(join(tmpdir(), "tune-"));

interface TuneJson {
  services: Record<string, { observed: Record<string, number>; verdicts: FieldVerdict[] }>;
  planChanges?: { what: string; from: number; to: number }[];
}

async function tune(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(join(REPO_ROOT, "node_modules/.bin/tsx"), ["cli/tune.ts", ...args], {
      cwd: REPO_ROOT,
    });
    return { code: 0, ...r };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, stdout: x.stdout, stderr: x.stderr };
  }
}

type Edit = [path: string[], value: unknown];
const service = (name: string, field: string): string[] => ["pg-pooling:services", name, field];

/** The local stack file with `edits` (paths under `config:`), written to `name`. */
function stackWith(name: string, edits: Edit[]): string {
  const doc = parseDocument(readFileSync(stackFile("local"), "utf8"));
  for (const [path, value] of edits) doc.setIn(["config", ...path], value);
  const file = join(dir, name);
  writeFileSync(file, doc.toString());
  return file;
}

/**
 * One instance of every service, as driven here: the observation leaves out the lag probes of the
 * declared instances (each probes every replica 4 times a second).
 */
const ONE_INSTANCE: Edit[] = Object.keys(DRIVEN).map((name) => [service(name, "instances"), 1]);

/** The same, with the primary's budget exactly used up: any proposal that grows a pool is refused. */
function tightStack(name: string, edits: Edit[]): string {
  const file = stackWith(name, edits);
  const config = loadConfigFile(file);
  const free = buildPlan(config).budget.find((n) => n.node === "primary")!.free;
  return stackWith(name, [
    ...edits,
    [["pg-pooling:database", "maxConnections"], config.database.maxConnections! - free],
  ]);
}

const span = ["--window", `${LOAD_SECONDS}s`, "--rate-window", "20s"];
const window = ["--prometheus", prometheusUrl(), ...span];
const both = ["--services", "orders,reporting", ...window];

/** A service's client as the services run it: its replicas, and their lag probes. */
function client(name: string) {
  const profile = localProfiles(plan).find((p) => p.service === name)!;
  return createDatabase(profile, { password: secrets.accounts[name]!.password });
}

let driven: Record<string, PacedResult> = {};

beforeAll(async () => {
  // the query patterns count from here: what earlier tests ran is not this load's
  for (const node of clusterNodes(clusterOptions(plan, secrets.replicationPassword)))
    await superuserQuery(node, "SELECT pg_stat_statements_reset()");
  const clients = Object.fromEntries(Object.keys(DRIVEN).map((s) => [s, client(s)]));
  await Promise.all(Object.values(clients).flatMap((db) => [db.warm(), db.ready()]));
  // orders takes a session advisory lock through its transaction pool, never declared
  await clients.orders!.transaction((q) =>
    q("SELECT pg_advisory_lock($1)", [42]).then(() => q("SELECT pg_advisory_unlock($1)", [42])),
  );
  driven = await runPaced(clients, DRIVEN, LOAD_SECONDS);
  // two scrapes more, so the window's end holds the last counters; the probes go on meanwhile
  await new Promise((r) => setTimeout(r, 2 * plan.config.monitoring.scrapeIntervalSeconds * 1000));
  await Promise.all(Object.values(clients).map((db) => db.close()));
}, 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("after a load of known rate and transaction time", () => {
  test("every service's observation lands within the tolerances of what was driven, and the proposal is written", async () => {
    const out = join(dir, "proposed.yaml");
    const config = stackWith("one-instance.yaml", ONE_INSTANCE);
    const r = await tune("--config", config, ...window, "--format", "json", "--out", out);
    expect(r.stderr).toContain(`wrote ${out}: loads and plans`);
    expect(r.code).toBe(0);
    const json = JSON.parse(r.stdout) as TuneJson;
    const off = (x: number, target: number) => Math.abs(x / target - 1);
    for (const [name, shape] of Object.entries(DRIVEN)) {
      const o = json.services[name]!.observed;
      // the rate the driver reached (timers fire late on a busy machine, never early)
      const rate = Math.min(shape.rate, driven[name]!.issued / LOAD_SECONDS);
      console.log(
        `tune read back ${name}: ${o.peakTps!.toFixed(1)} tx/s of ${rate.toFixed(1)}, ` +
          `${o.transactionMs!.toFixed(1)} ms of ${shape.transactionMs}, reads ${o.readShare!.toFixed(3)} of ${shape.readShare}`,
      );
      expect([name, driven[name]!.failed]).toEqual([name, 0]);
      expect([name, off(o.peakTps!, rate) <= TOLERANCE.peakTps]).toEqual([name, true]);
      expect([name, off(o.transactionMs!, shape.transactionMs) <= TOLERANCE.transactionMs]).toEqual(
        [name, true],
      );
      // the lag probes on the ro entries are left out: only the driven reads count
      expect([name, Math.abs(o.readShare! - shape.readShare) <= TOLERANCE.readShare]).toEqual([
        name,
        true,
      ]);
      // what earlier work left the replicas to replay may fall in the window: a number
      expect(o.maxReplicaLagSeconds).toBeGreaterThanOrEqual(0);
    }
    // the local stack declares far more than 40 tx/s for orders: the proposal is what ran
    const tps = json.services.orders!.verdicts.find((v) => v.field === "peakTps")!;
    expect(tps.changed).toBe(true);
    expect(off(tps.proposed, DRIVEN.orders!.rate)).toBeLessThanOrEqual(TOLERANCE.peakTps);
    expect(json.planChanges!.some((c) => c.what === "orders pool_size")).toBe(true);
    // the written file is a stack file like any other, its comments kept
    const written = loadConfigFile(out);
    expect(written.services.orders!.peakTps).toBe(tps.proposed);
    expect(written.services.orders!.instances).toBe(1);
    expect(written.database).toEqual(loadConfigFile(stackFile("local")).database);
    expect(readFileSync(out, "utf8")).toContain("# The local stack:");
  });

  test("query patterns: the undeclared advisory lock is flagged, reporting's unused temp tables too; a proposal over budget is refused", async () => {
    // the primary's budget used up: orders' observed load needs a larger pool than declared
    const out = join(dir, "refused.yaml");
    const tight = tightStack("tight.yaml", [
      ...ONE_INSTANCE,
      [service("orders", "peakTps"), 1],
      [service("orders", "transactionMs"), 1],
    ]);
    const r = await tune("--config", tight, ...both, "--format", "json", "--out", out);
    expect(r.code).toBe(1);
    const { patterns, refused } = JSON.parse(r.stdout) as {
      patterns: Record<string, { top: { query: string }[]; findings: Finding[] }>;
      refused: { path: string; message: string }[];
    };
    expect(refused[0]).toMatchObject({ path: "database.maxConnections" });
    expect(refused[0]!.message).toMatch(/leaves primary \d+ usable connections .* orders 2×\d+/);
    expect(existsSync(out)).toBe(false);
    expect(patterns.orders!.findings).toEqual([
      {
        service: "orders",
        kind: "undeclared",
        feature: "sessionAdvisoryLocks",
        query: "SELECT pg_advisory_lock($1)",
        calls: 1,
        risk: "not declared, and orders is transaction-pooled: session advisory locks live as long as the server connection",
      },
    ]);
    expect(patterns.orders!.top[0]!.query).toMatch(/pg_sleep/); // the driven statement leads
    expect(patterns.reporting!.findings).toMatchObject([{ kind: "unused", feature: "tempTables" }]);
    const text = await tune("--config", stackWith("again.yaml", ONE_INSTANCE), ...both);
    expect(text.stdout).toMatch(
      /finding: sessionAdvisoryLocks undeclared \(1 calls: SELECT pg_advisory_lock\(\$1\)\)/,
    );
  });

  test("a declaration equal to what was driven stands: no change proposed", async () => {
    const declared: Edit[] = Object.entries(DRIVEN).flatMap(([name, shape]) => [
      [service(name, "peakTps"), Math.min(shape.rate, driven[name]!.issued / LOAD_SECONDS)],
      [service(name, "transactionMs"), shape.transactionMs],
      [service(name, "readShare"), shape.readShare],
    ]);
    const config = stackWith("driven.yaml", [...ONE_INSTANCE, ...declared]);
    const r = await tune("--config", config, ...window);
    expect(r.stderr).toBe("");
    expect(r.stdout).toContain("Every declaration stands: no change proposed.");
  });
});

describe("bad input gets an error naming what was wrong", () => {
  test("an unreachable Prometheus, a window with too little data, an unknown stack or service", async () => {
    const closed = `http://127.0.0.1:${await closedPort()}`;
    const down = await tune("--stack", "local", "--prometheus", closed, ...span);
    expect([down.code, down.stderr.trim()]).toEqual([
      2,
      `error: --prometheus ${closed} is unreachable (ECONNREFUSED)`,
    ]);
    const short = await tune("--stack", "local", "--prometheus", prometheusUrl(), "--window", "3s");
    expect(short.code).toBe(2);
    expect(short.stderr).toMatch(
      /services\.orders .*too little data: \d samples of pgbouncer_stats_totals/,
    );
    expect(short.stderr).toMatch(/services\.identity /); // every service, at once
    const stack = await tune("--stack", "nosuch", "--prometheus", prometheusUrl());
    expect(stack.stderr).toMatch(/file cannot be read \(ENOENT\), got .*Pulumi\.nosuch\.yaml/);
    const format = await tune(
      "--stack",
      "local",
      "--prometheus",
      prometheusUrl(),
      "--format",
      "yaml",
    );
    expect(format.stderr.trim()).toBe('error: --format must be text or json; got "yaml"');
    const service = await tune(
      "--stack",
      "local",
      "--prometheus",
      prometheusUrl(),
      "--services",
      "ordrs",
    );
    expect(service.stderr).toMatch(
      /--services names "ordrs", not a service of .*; its services: identity/,
    );
  });

  test("a service PgBouncer has no series for is named with the query that found nothing", async () => {
    const doc = parseDocument(readFileSync(stackFile("local"), "utf8"));
    const config = stackWith("ghost.yaml", [
      [["pg-pooling:services", "ghost"], doc.getIn(["config", "pg-pooling:services", "orders"])],
    ]);
    const r = await tune("--config", config, "--services", "ghost", ...window);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /services\.ghost has no pgbouncer_stats_totals_sql_transactions_pooled_total series/,
    );
  });
});
