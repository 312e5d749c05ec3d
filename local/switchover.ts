import { rm, writeFile } from "node:fs/promises";
import { DEFAULTS } from "../platform/defaults.js";
import type { Plan } from "../platform/plan.js";
import { ADMIN_USER } from "../pgbouncer/layout.js";
import { connect, queryOnce, processTarget } from "./connect.js";
import { waitFor } from "./daemons.js";
import {
  crashNode,
  ensureSlots,
  mostAdvancedReplica,
  promoteNode,
  rejoinAsStandby,
  shutdownCheckpoint,
  waitForReplay,
} from "./failover.js";
import { moveNodeName, writeNodeNames } from "./node-names.js";
import { processIds } from "./pgbouncer.js";
import {
  buildReplica,
  clusterStatus,
  clusterUp,
  isStreaming,
  makeSynchronous,
} from "./postgres.js";
import { startNode, stopDataDir, superuserQuery } from "./postgres-server.js";
import { clusterNodes, readyMarker, type PgClusterOptions, type PgNode } from "./postgres-nodes.js";
import type { LocalSecrets } from "./secrets.js";
import { PRIMARY_NODE } from "../platform/nodes.js";

/**
 * Moving the primary, as RDS does it: the primary's name (primary.db.test) moves to the node
 * promoted, and PgBouncer follows the name. Unplanned (the primary crashed): promote the replica
 * with the most WAL. Planned (switchover): PgBouncer holds every client (PAUSE) while the primary
 * stops cleanly, the standby replays its last WAL and is promoted, the name moves, then RESUME.
 */
export interface Cluster {
  plan: Plan;
  secrets: LocalSecrets;
  opts: PgClusterOptions;
  /** Each step as it happens. */
  say?: (line: string) => void;
}

/**
 * PgBouncer's DNS cache lives dns_max_ttl from each lookup, and nothing flushes it. A switchover
 * first shortens it to this on every process (SET, in memory), waits out the old entries, and
 * keeps the pause at least this long after the last lookup, so RESUME resolves the moved name.
 */
const SWITCHOVER_DNS_TTL_S = 0.5;
/** How long the transactions in flight at PAUSE may take to finish before the primary stops. */
const PAUSE_DRAIN_MS = 1_000;

/** One admin command on every PgBouncer process, each through its own unix socket. */
export async function onEveryProcess<R extends Record<string, unknown> = Record<string, unknown>>(
  c: Cluster,
  sql: string,
): Promise<R[][]> {
  return Promise.all(
    c.plan.hosts.flatMap((host) =>
      processIds(host).map((k) =>
        queryOnce<R>(processTarget(c.plan, host, k, c.secrets, ADMIN_USER, "pgbouncer"), sql),
      ),
    ),
  );
}

/** The entries that reach the primary: the ones a switchover pauses (reads go on meanwhile). */
const primaryEntries = (c: Cluster) => c.plan.entries.filter((e) => e.target === "primary");

/** SHOW POOLS rows of the primary's entries, on every process. */
async function primaryPools(c: Cluster) {
  const names = new Set(primaryEntries(c).map((e) => e.name));
  const rows = await onEveryProcess<Record<string, string | number>>(c, "SHOW POOLS");
  return rows.map((process) => process.filter((p) => names.has(String(p.database))));
}

/** Server connections still running a transaction in a transaction-mode pool of the primary. */
async function transactionsInFlight(c: Cluster): Promise<number> {
  return (await primaryPools(c))
    .flat()
    .filter((p) => p.pool_mode === "transaction")
    .reduce((n, p) => n + Number(p.sv_active), 0);
}

/**
 * A session pool's clients keep their server through the pause and may be in a transaction when
 * the primary stops. So, on the old primary: make new transactions read-only (a write in one now
 * fails with 25006 before its COMMIT, and the library runs it again into the pause), end the
 * session-pool backends that sit idle between transactions (their clients reconnect into the
 * pause), and wait for the ones in a transaction to finish, up to PAUSE_DRAIN_MS.
 */
async function settleSessions(c: Cluster, from: PgNode): Promise<void> {
  const roles = primaryEntries(c)
    .filter((e) => e.poolMode === "session")
    .map((e) => `'${e.service}'`); // service names are validated identifiers
  if (roles.length === 0) return;
  const mine = `usename IN (${roles.join(", ")}) AND backend_type = 'client backend'`;
  await superuserQuery(from, "ALTER SYSTEM SET default_transaction_read_only = on");
  await superuserQuery(from, "SELECT pg_reload_conf()");
  await waitFor(
    "session transactions to finish",
    async () => {
      await superuserQuery(
        from,
        `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE ${mine} AND state = 'idle'`,
      );
      const busy = await superuserQuery(
        from,
        `SELECT count(*) FROM pg_stat_activity WHERE ${mine} AND state <> 'idle'`,
      );
      return busy === "0";
    },
    PAUSE_DRAIN_MS,
    20,
  ).catch(() => c.say?.(`session transactions still running after ${PAUSE_DRAIN_MS} ms`));
}

/** Undoes settleSessions' read-only switch on a primary that stays primary. */
async function writable(node: PgNode): Promise<void> {
  await superuserQuery(node, "ALTER SYSTEM RESET default_transaction_read_only");
  await superuserQuery(node, "SELECT pg_reload_conf()");
}

/**
 * PAUSE on every process, sent and not waited for: it answers only once every server connection
 * is released, and a pending PAUSE stays unanswered after RESUME. Its admin connections are
 * dropped by `release`.
 */
async function pauseEverywhere(c: Cluster): Promise<{ release(): void }> {
  const clients = await Promise.all(
    c.plan.hosts.flatMap((host) =>
      processIds(host).map((k) =>
        connect(processTarget(c.plan, host, k, c.secrets, ADMIN_USER, "pgbouncer")),
      ),
    ),
  );
  for (const client of clients) client.query("PAUSE").catch(() => {});
  return {
    release: () => {
      for (const client of clients)
        (
          client as unknown as { connection: { stream: { destroy(): void } } }
        ).connection.stream.destroy();
    },
  };
}

/** The node that is primary now (running, not in recovery), if any. */
export async function actingPrimary(opts: PgClusterOptions): Promise<PgNode | undefined> {
  const status = await clusterStatus(opts);
  const acting = status.find((n) => n.running && n.inRecovery === false);
  return acting ? clusterNodes(opts).find((n) => n.name === acting.name) : undefined;
}

export interface Switched {
  from: string;
  to: string;
  /** How long PgBouncer held its clients. */
  pauseMs: number;
}

/** Planned: no client sees the move, they wait in PgBouncer for at most the pause. */
export async function switchover(c: Cluster, to: PgNode): Promise<Switched> {
  const from = await actingPrimary(c.opts);
  if (!from) throw new Error("no primary is running to switch over from");
  if (from.name === to.name) return { from: from.name, to: to.name, pauseMs: 0 };
  const say = c.say ?? (() => {});
  say(
    `switchover ${from.name} → ${to.name}: dns_max_ttl ${SWITCHOVER_DNS_TTL_S} s on every process`,
  );
  await onEveryProcess(c, `SET dns_max_ttl = '${SWITCHOVER_DNS_TTL_S}'`);
  await sleep(DEFAULTS.pgbouncer.dnsMaxTtlSeconds * 1000 + 200); // entries from before expire
  const t0 = performance.now();
  // PAUSE (global: a paused database alone still opens its min_pool_size connections, and their
  // failures while no primary answers make PgBouncer turn transactions away after RESUME) holds
  // every new query at once, but returns only when every server connection is released, and a
  // session pool's are released only when its clients leave. So: do not wait for it; wait for the
  // primary's transaction pools to finish their work in flight. The clean stop then ends the
  // session servers on the primary (their clients are cut; the library runs again or resolves
  // what they had in flight, and their new connections wait in the pause).
  const pause = await pauseEverywhere(c);
  let resumedAt = t0;
  try {
    await waitFor(
      "transactions in flight to finish",
      async () => (await transactionsInFlight(c)) === 0,
      PAUSE_DRAIN_MS,
      20,
    ).catch(() => say(`transactions still in flight after ${PAUSE_DRAIN_MS} ms: stopping anyway`));
    await settleSessions(c, from);
    say(`paused after ${Math.round(performance.now() - t0)} ms; stopping ${from.name}`);
    await stopDataDir(from.name, from.dataDir); // clean: its last WAL goes to the standbys first
    await waitForReplay(to, await shutdownCheckpoint(from));
    const at = () => `${Math.round(performance.now() - t0)} ms`;
    say(`${from.name} stopped and ${to.name} has replayed its last WAL at ${at()}; promoting`);
    await promoteNode(to);
    await ensureSlots(to, others(c, to));
    await moveNodeName(PRIMARY_NODE, to.address);
    say(`${to.name} promoted and the name moved at ${at()}`);
    await sleep(Math.max(0, t0 + SWITCHOVER_DNS_TTL_S * 1000 + 100 - performance.now()));
  } finally {
    // Whatever failed, PgBouncer must not stay paused (its clients would wait out their timeouts),
    // and an old primary that never stopped must take writes again.
    await onEveryProcess(c, "RESUME").catch(() => {});
    // The pause ends when every process has answered RESUME: what follows is bookkeeping
    // clients do not wait for.
    resumedAt = performance.now();
    pause.release();
    if ((await actingPrimary(c.opts))?.name === from.name) await writable(from);
  }
  const pauseMs = resumedAt - t0;
  say(`resumed after ${Math.round(pauseMs)} ms; ${from.name} rejoins as a standby`);
  await onEveryProcess(c, `SET dns_max_ttl = '${DEFAULTS.pgbouncer.dnsMaxTtlSeconds}'`);
  await rejoinAsStandby(c.opts, from);
  await makeSynchronous(c.opts, to);
  say(`switchover done: ${to.name} is primary, commits wait for one of the others again`);
  return { from: from.name, to: to.name, pauseMs };
}

export interface FailedOver {
  crashed: string;
  promoted: string;
  /** From the start of the fault until every process of the old primary was dead. */
  deadAfterMs: number;
  /** From the crash to the name pointing at the promoted node. */
  promotedAfterMs: number;
}

/** Unplanned: the primary's host is gone; the replica with the most WAL takes over. */
export async function crashAndFailOver(c: Cluster): Promise<FailedOver> {
  const from = await actingPrimary(c.opts);
  if (!from) throw new Error("no primary is running to crash");
  const t0 = performance.now();
  await crashNode(from);
  const deadAfterMs = performance.now() - t0;
  const to = await mostAdvancedReplica(clusterNodes(c.opts).filter((n) => n.name !== from.name));
  await promoteNode(to);
  await ensureSlots(to, others(c, to));
  await moveNodeName(PRIMARY_NODE, to.address);
  const promotedAfterMs = performance.now() - t0;
  // The other replicas follow by themselves: their primary_conninfo names the primary.
  await makeSynchronous(c.opts, to);
  return { crashed: from.name, promoted: to.name, deadAfterMs, promotedAfterMs };
}

/**
 * The cluster as `up` made it, whatever a drill did: the nominal primary is primary again (rebuilt
 * as a standby of the acting one if it crashed, then a switchover back), and every replica
 * streams (one that cannot follow the new timeline is cloned again).
 */
export async function restoreTopology(c: Cluster): Promise<void> {
  const nodes = clusterNodes(c.opts);
  const nominal = nodes[0]!;
  const acting = await actingPrimary(c.opts);
  if (acting && acting.name !== nominal.name) {
    const status = (await clusterStatus(c.opts)).find((n) => n.name === nominal.name)!;
    if (!status.running || status.inRecovery !== true || !(await isStreaming(acting, nominal))) {
      await stopDataDir(nominal.name, nominal.dataDir);
      await ensureSlots(acting, [nominal.name]);
      await buildReplica(c.opts, acting, nominal);
      await writeFile(readyMarker(nominal), ""); // provisioned: clusterUp must not initdb it again
      await startNode(nominal);
      await waitFor(`${nominal.name} to stream`, () => isStreaming(acting, nominal), 60_000);
    }
    await switchover(c, nominal);
  }
  await writeNodeNames(nodes);
  const status = await clusterStatus(c.opts);
  for (const r of nodes.slice(1)) {
    if (!status.find((n) => n.name === r.name)?.running) await startNode(r).catch(() => {});
    const streams = await waitFor(`${r.name} to stream`, () => isStreaming(nominal, r), 15_000)
      .then(() => true)
      .catch(() => false);
    if (streams) continue;
    // Ahead of the timeline it should follow (it had WAL the promoted node never got), or
    // broken: clone it again (clusterUp rebuilds a node without its ready marker).
    await stopDataDir(r.name, r.dataDir);
    await rm(readyMarker(r), { force: true });
  }
  await clusterUp(c.opts);
}

const others = (c: Cluster, node: PgNode) =>
  clusterNodes(c.opts)
    .map((n) => n.name)
    .filter((n) => n !== node.name);

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
