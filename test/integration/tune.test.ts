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
import { clusterNodes, superuserQuery } from "../../local/postgres.js";
import { clusterOptions } from "../../local/stack.js";
import { createDatabase } from "../../resilience/index.js";
import { plan, secrets } from "./helpers.js";

/**
 * npm run tune against the local stack after a load of known shape: orders driven at a chosen
 * rate and transaction time through the balancer, then read back from Prometheus (PgBouncer's
 * counters, every host and process). Proposals must land within the stated tolerances of what was
 * driven; a declaration equal to what was driven must stand.
 */
const RATE = 40; // transactions per second
const TRANSACTION_MS = 60;
const LOAD_SECONDS = 40;
const READ_SHARE = 0.25;
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
 * One instance of orders and of reporting, as driven here: the observation leaves out the lag
 * probes of the declared instances (each probes every replica 4 times a second).
 */
const ONE_INSTANCE: Edit[] = [
  service("orders", "instances"),
  service("reporting", "instances"),
].map((path) => [path, 1]);

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

const window = ["--window", `${LOAD_SECONDS}s`, "--rate-window", "20s"];
const common = ["--prometheus", prometheusUrl(), "--services", "orders", ...window];
const both = ["--prometheus", prometheusUrl(), "--services", "orders,reporting", ...window];

/** A service's client as the services run it: its replicas, and their lag probes. */
function client(name: string) {
  const profile = localProfiles(plan).find((p) => p.service === name)!;
  return createDatabase(profile, { password: secrets.accounts[name]!.password });
}

beforeAll(async () => {
  // the query patterns count from here: what earlier tests ran is not this load's
  for (const node of clusterNodes(clusterOptions(plan, secrets.replicationPassword)))
    await superuserQuery(node, "SELECT pg_stat_statements_reset()");
  const db = client("orders");
  const reporting = client("reporting");
  await Promise.all([db.warm(), reporting.warm(), db.ready(), reporting.ready()]);
  const end = Date.now() + LOAD_SECONDS * 1000;
  const calls: Promise<unknown>[] = [];
  let ticks = 0;
  // open loop: one transaction every 1/RATE s, however long each takes
  await new Promise<void>((resolve) => {
    const tick = setInterval(() => {
      if (Date.now() >= end) {
        clearInterval(tick);
        resolve();
        return;
      }
      const sleep = `SELECT pg_sleep(${TRANSACTION_MS / 1000})`;
      // every fourth a read, which the library sends to a replica's ro entry
      const orders =
        ++ticks % 4 === 0
          ? db.read(sleep)
          : db.transaction((q) => q(sleep), { resolveOutcome: false });
      calls.push(orders, reporting.read("SELECT count(*) FROM pg_class"));
    }, 1000 / RATE);
  });
  // orders takes a session advisory lock through its transaction pool, never declared
  await db.transaction((q) =>
    q("SELECT pg_advisory_lock($1)", [42]).then(() => q("SELECT pg_advisory_unlock($1)", [42])),
  );
  await Promise.all(calls);
  // two scrapes more, so the window's end holds the last counters; the probes go on meanwhile
  await new Promise((r) => setTimeout(r, 2 * plan.config.monitoring.scrapeIntervalSeconds * 1000));
  await Promise.all([db.close(), reporting.close()]);
}, 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("after a load of known rate and transaction time", () => {
  test("the observation lands within the tolerances of what was driven, and the proposal is written", async () => {
    const out = join(dir, "proposed.yaml");
    const config = stackWith("one-instance.yaml", ONE_INSTANCE);
    const r = await tune("--config", config, ...common, "--format", "json", "--out", out);
    expect(r.stderr).toContain(`wrote ${out}: loads and plans`);
    expect(r.code).toBe(0);
    const json = JSON.parse(r.stdout) as TuneJson;
    const orders = json.services.orders!;
    console.log(
      `tune read back: ${JSON.stringify(orders.observed)} (driven: ${RATE}/s, ${TRANSACTION_MS} ms, ${READ_SHARE} reads)`,
    );
    const within = (x: number, target: number, tol: number) => Math.abs(x / target - 1) <= tol;
    expect([
      orders.observed.peakTps,
      within(orders.observed.peakTps!, RATE, TOLERANCE.peakTps),
    ]).toEqual([orders.observed.peakTps, true]);
    expect([
      orders.observed.transactionMs,
      within(orders.observed.transactionMs!, TRANSACTION_MS, TOLERANCE.transactionMs),
    ]).toEqual([orders.observed.transactionMs, true]);
    // the lag probes on the ro entries are left out: only the driven reads count
    expect(Math.abs(orders.observed.readShare! - READ_SHARE)).toBeLessThanOrEqual(
      TOLERANCE.readShare,
    );
    // what earlier work left the replicas to replay may fall in the window: a number, not a value
    expect(orders.observed.maxReplicaLagSeconds).toBeGreaterThanOrEqual(0);
    // the local stack declares far more than 40 tx/s: the proposal brings it down to what ran
    const tps = orders.verdicts.find((v) => v.field === "peakTps")!;
    expect(tps.changed).toBe(true);
    expect(within(tps.proposed, RATE, TOLERANCE.peakTps)).toBe(true);
    expect(json.planChanges!.some((c) => c.what === "orders pool_size")).toBe(true);
    // the written file is a stack file like any other, its comments kept
    const written = loadConfigFile(out);
    expect(written.services.orders!.peakTps).toBe(tps.proposed);
    expect(written.services.identity).toEqual(loadConfigFile(stackFile("local")).services.identity);
    expect(readFileSync(out, "utf8")).toContain("# The local stack:");
    expect(written.services.orders!.instances).toBe(1);
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
    const config = stackWith("driven.yaml", [
      ...ONE_INSTANCE,
      [service("orders", "peakTps"), RATE],
      [service("orders", "transactionMs"), TRANSACTION_MS],
      [service("orders", "readShare"), READ_SHARE],
    ]);
    const r = await tune("--config", config, ...common);
    expect(r.stderr).toBe("");
    expect(r.stdout).toContain("Every declaration stands: no change proposed.");
  });
});

describe("bad input gets an error naming what was wrong", () => {
  test("an unreachable Prometheus, a window with too little data, an unknown stack or service", async () => {
    const closed = `http://127.0.0.1:${await closedPort()}`;
    const down = await tune("--stack", "local", "--prometheus", closed, ...window);
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
    const r = await tune(
      "--config",
      config,
      "--prometheus",
      prometheusUrl(),
      "--services",
      "ghost",
      ...window,
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /services\.ghost has no pgbouncer_stats_totals_sql_transactions_pooled_total series/,
    );
  });
});
