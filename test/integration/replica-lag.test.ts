import { afterAll, afterEach, expect, test } from "vitest";
import { EXPORTERS } from "../../platform/exporters.js";
import { connect } from "../../local/connect.js";
import { waitFor } from "../../local/daemons.js";
import { processTree } from "../../local/failover.js";
import { nodePid, superuserQuery } from "../../local/postgres-server.js";
import { clusterNodes } from "../../local/postgres-nodes.js";
import { clusterOptions } from "../../local/cluster.js";
import { localProfiles, localSsl } from "../../local/tls.js";
import { pgbouncerAddress } from "../../local/topology.js";
import { LAG_PROBE_SQL, parseLagSeconds } from "../../replicas/lag.js";
import { POSTGRES_METRICS } from "../../monitoring/postgres-queries.js";
import { createDatabase, type Database } from "../../resilience/index.js";
import { plan, secrets } from "./helpers.js";

/**
 * The one lag definition (replicas/lag.ts) against a real replica whose replay is paused
 * (pg_wal_replay_pause) while the primary writes, and one whose processes are stopped (SIGSTOP):
 * what the services' router sees, what postgres_exporter reports, and where reads go.
 */
const nodes = clusterNodes(clusterOptions(plan, secrets.replicationPassword));
const [primary, replica1] = [nodes[0]!, nodes[1]!];
const profile = () =>
  structuredClone(
    localProfiles(plan, pgbouncerAddress(plan.hosts[0]!.index)).find(
      (p) => p.service === "catalog",
    )!,
  );
const open: Database[] = [];
let writer: NodeJS.Timeout | undefined;

async function resumeAll(): Promise<void> {
  if (writer) clearInterval(writer);
  const pid = await nodePid(replica1);
  if (pid) for (const p of await processTree(pid)) process.kill(p, "SIGCONT");
  await superuserQuery(replica1, "SELECT pg_wal_replay_resume()").catch(() => {});
}
afterEach(async () => {
  await resumeAll(); // first: a pool cannot close while one of its connections hangs
  await Promise.all(open.splice(0).map((db) => db.close()));
});
afterAll(resumeAll);

/** The primary keeps writing, so there is always WAL for the paused replica to fall behind on. */
async function keepWriting(): Promise<void> {
  await superuserQuery(primary, "CREATE TABLE IF NOT EXISTS lag_ticks (at timestamptz)");
  writer = setInterval(
    () => void superuserQuery(primary, "INSERT INTO lag_ticks VALUES (now())").catch(() => {}),
    200,
  );
}

/** The lag as the router measures it, through replica1's own PgBouncer entry. */
async function probedLag(): Promise<number> {
  const ep = profile().replicas[0]!;
  const c = await connect({
    host: ep.host,
    port: ep.port,
    database: ep.database,
    user: ep.user,
    password: secrets.accounts[ep.user]!.password,
    ssl: localSsl(),
  });
  try {
    const r = await c.query<{ lag_seconds: string }>(LAG_PROBE_SQL);
    return parseLagSeconds(r.rows[0]!.lag_seconds);
  } finally {
    await c.end();
  }
}

/** The lag replica1's postgres_exporter serves. */
async function exportedLag(): Promise<number> {
  const text = await (
    await fetch(`http://${replica1.address}:${EXPORTERS.postgres.port}/metrics`)
  ).text();
  const line = text.split("\n").find((l) => l.startsWith(`${POSTGRES_METRICS.replicationLag}{`));
  if (!line) throw new Error(`no ${POSTGRES_METRICS.replicationLag} on replica1's exporter`);
  return Number(line.split(" ").at(-1));
}

test("a replica whose replay is paused falls behind without bound, the same for the router and the exporter, and reads leave it", async () => {
  await keepWriting();
  expect(await probedLag()).toBeLessThan(1);
  const db = createDatabase(
    { ...profile(), maxReplicaLagSeconds: 2 },
    { password: secrets.accounts.catalog!.password },
  );
  open.push(db);
  await db.ready();
  await superuserQuery(replica1, "SELECT pg_wal_replay_pause()");
  const pausedAt = Date.now();
  await new Promise((r) => setTimeout(r, 3_500));
  const first = await probedLag();
  // Since the last replayed transaction, so at least the pause; no window caps it.
  expect(first).toBeGreaterThanOrEqual(3);
  await new Promise((r) => setTimeout(r, 1_500));
  const later = await probedLag();
  expect(later - first).toBeGreaterThanOrEqual(1.2);
  expect(later).toBeLessThanOrEqual((Date.now() - pausedAt) / 1000 + 0.5);
  // postgres_exporter runs the same expression on the replica: the alert sees what reads see.
  await waitFor("the exporter to report the pause", async () => (await exportedLag()) >= 3, 10_000);
  // The router has taken replica1 out: reads go to replica2 only.
  const target = profile().replicas[0]!.database;
  await waitFor(
    "replica1 ineligible",
    async () => {
      const r = db.health().replicas.find((x) => x.target === target)!;
      return !r.eligible && (r.lagSeconds ?? 0) > 2;
    },
    5_000,
  );
  const servedBy = new Set<string>();
  for (let i = 0; i < 50; i++) {
    const r = await db.read<{ node: string }>("SELECT current_setting('cluster_name') AS node");
    servedBy.add(r.rows[0]!.node);
  }
  expect([...servedBy]).toEqual(["replica2"]);
  // Replay resumes: the replica catches up and is read again.
  await superuserQuery(replica1, "SELECT pg_wal_replay_resume()");
  await waitFor(
    "replica1 eligible again",
    async () => {
      return db.health().replicas.find((x) => x.target === target)!.eligible;
    },
    5_000,
  );
  expect(await probedLag()).toBeLessThan(1);
});

test("a hung replica: the probe times out inside the bulkhead, the replica is taken out, reads do not hang", async () => {
  const db = createDatabase(profile(), {
    password: secrets.accounts.catalog!.password,
    lagProbeTimeoutMs: 500,
  });
  open.push(db);
  await db.ready();
  const target = profile().replicas[0]!.database;
  const pid = (await nodePid(replica1))!;
  const group = await processTree(pid);
  for (const p of group) process.kill(p, "SIGSTOP");
  // While a probe hangs it holds one of the target's bulkhead slots, like any call would.
  await waitFor(
    "a hung probe in the bulkhead",
    async () => {
      const r = db.health().replicas.find((x) => x.target === target)!;
      return r.connections.inBulkhead >= 1;
    },
    3_000,
  );
  // Each failed probe ends when its cancel, sent to a replica that cannot answer, has had its
  // grace (1 s) and the connection is dropped: three of them take 3 × 1.5 s.
  await waitFor(
    "replica1 ineligible (probes timed out)",
    async () => {
      return !db.health().replicas.find((x) => x.target === target)!.eligible;
    },
    10_000,
  );
  const started = performance.now();
  for (let i = 0; i < 20; i++) {
    const r = await db.read<{ node: string }>("SELECT current_setting('cluster_name') AS node");
    expect(r.rows[0]!.node).not.toBe("replica1");
  }
  expect(performance.now() - started).toBeLessThan(5_000);
  for (const p of group) process.kill(p, "SIGCONT");
  await waitFor(
    "replica1 eligible again",
    async () => {
      return db.health().replicas.find((x) => x.target === target)!.eligible;
    },
    10_000,
  );
});
