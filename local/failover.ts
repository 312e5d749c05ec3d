import { readdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { run } from "./exec.js";
import { writePrivateFile } from "./service-files.js";
import { processAlive, waitFor } from "./daemons.js";
import { quote } from "./postgres-conf.js";
import {
  findPostgresBinDir,
  nodePid,
  startNode,
  stopDataDir,
  superuserQuery,
} from "./postgres-server.js";
import { clusterNodes, type PgClusterOptions, type PgNode } from "./postgres-nodes.js";

/**
 * What happens to Postgres nodes in the drills: a crash (every process of the node killed at
 * once, as a lost host), a fast restart, a promotion, and an old primary rejoining as a standby.
 * The orchestration that moves the primary's name and pauses PgBouncer is local/switchover.ts.
 */

/** A crash without the host going away: the postmaster is killed, its children follow. */
export async function killNode(node: PgNode): Promise<void> {
  const pid = await nodePid(node);
  if (pid === undefined) return;
  process.kill(pid, "SIGQUIT");
  await waitFor(`${node.name} (pid ${pid}) to die`, async () => !(await processAlive(pid)), 30_000);
}

export async function restartNode(node: PgNode): Promise<void> {
  await stopDataDir(node.name, node.dataDir);
  await startNode(node);
}

/** The node's processes: the postmaster and its children (backends, walsenders, …). */
export async function processTree(pid: number): Promise<number[]> {
  const children: number[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, "utf8").catch(() => "");
    const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    if (ppid === pid) children.push(Number(entry));
  }
  return [pid, ...children];
}

/**
 * The host is gone: every process of the node SIGKILLed at once, so no backend lingers to answer
 * a query or acknowledge a commit (a killed postmaster alone leaves its backends running).
 */
export async function crashNode(node: PgNode): Promise<void> {
  const pid = await nodePid(node);
  if (pid === undefined) return;
  const tree = await processTree(pid);
  for (const p of tree) {
    try {
      process.kill(p, "SIGKILL");
    } catch {
      // already gone
    }
  }
  await waitFor(
    `${node.name}'s ${tree.length} processes to die`,
    async () => (await Promise.all(tree.map(processAlive))).every((alive) => !alive),
    30_000,
  );
}

/** "16/B374D848" → a number that compares as the position does. */
export function parseLsn(text: string): bigint {
  const m = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(text.trim());
  if (!m) throw new Error(`not a WAL position (LSN): ${JSON.stringify(text)}`);
  return (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`);
}

/** How far a replica has WAL on disk (received); undefined when it cannot be asked. */
async function receivedLsn(node: PgNode): Promise<bigint | undefined> {
  const text = await superuserQuery(
    node,
    "SELECT coalesce(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())",
  ).catch(() => undefined);
  return text ? parseLsn(text) : undefined;
}

/**
 * The replica to promote after a crash: the one holding the most WAL. With commits acknowledged
 * by ANY 1 replica, the most advanced one holds every acknowledged commit, and the others hold a
 * prefix of its WAL, so they can follow it onto the new timeline.
 */
export async function mostAdvancedReplica(replicas: readonly PgNode[]): Promise<PgNode> {
  let best: { node: PgNode; lsn: bigint } | undefined;
  for (const node of replicas) {
    const lsn = await receivedLsn(node);
    if (lsn !== undefined && (!best || lsn > best.lsn)) best = { node, lsn };
  }
  if (!best) throw new Error(`no replica answers: ${replicas.map((r) => r.name).join(", ")}`);
  return best.node;
}

/** Promotes a standby and waits until it accepts writes. */
export async function promoteNode(node: PgNode): Promise<void> {
  const done = await superuserQuery(node, "SELECT pg_promote(true, 60)");
  if (done !== "t") throw new Error(`${node.name} did not finish promoting within 60 s`);
}

/** The slots the other nodes stream from, on a node that has just become the primary. */
export async function ensureSlots(primary: PgNode, names: readonly string[]): Promise<void> {
  const list = names.map(quote).join(", ");
  await superuserQuery(
    primary,
    `SELECT pg_create_physical_replication_slot(s) FROM unnest(ARRAY[${list}]::text[]) AS s ` +
      "WHERE s NOT IN (SELECT slot_name FROM pg_replication_slots)",
  );
}

/** The last checkpoint a cleanly stopped node wrote: its final WAL position. */
export async function shutdownCheckpoint(node: PgNode): Promise<bigint> {
  const { stdout } = await run(path.join(findPostgresBinDir(), "pg_controldata"), [node.dataDir], {
    inRoot: true,
    asUser: "postgres",
  });
  const line = stdout.split("\n").find((l) => l.startsWith("Latest checkpoint location:"));
  if (!line) throw new Error(`pg_controldata of ${node.name} shows no checkpoint location`);
  return parseLsn(line.split(":")[1]!);
}

/** Waits until `replica` has replayed up to `lsn`. */
export async function waitForReplay(replica: PgNode, lsn: bigint, timeoutMs = 10_000) {
  await waitFor(
    `${replica.name} to replay the old primary's last WAL`,
    async () => {
      const text = await superuserQuery(replica, "SELECT pg_last_wal_replay_lsn()").catch(() => "");
      return text !== "" && parseLsn(text) >= lsn;
    },
    timeoutMs,
  );
}

/**
 * A cleanly stopped old primary comes back as a standby of whatever the primary's name points at:
 * the same connection settings the replicas have (their primary_conninfo names the primary), its
 * own slot. Only after a clean stop: its WAL then ends where the new primary's history forked.
 */
export async function rejoinAsStandby(opts: PgClusterOptions, node: PgNode): Promise<void> {
  const donor = clusterNodes(opts).find((n) => n.name !== node.name && n.role === "replica");
  if (!donor) throw new Error("no replica to take primary_conninfo from");
  const auto = await readFile(path.join(donor.dataDir, "postgresql.auto.conf"), "utf8");
  const conninfo = auto.split("\n").find((l) => l.startsWith("primary_conninfo"));
  if (!conninfo) throw new Error(`${donor.name} has no primary_conninfo to follow the primary by`);
  const file = path.join(node.dataDir, "postgresql.auto.conf");
  const own = (await readFile(file, "utf8").catch(() => ""))
    .split("\n")
    // What it had as a primary: its commits' standbys, and the read-only switch of a switchover.
    .filter(
      (l) =>
        !/^(primary_conninfo|primary_slot_name|synchronous_standby_names|default_transaction_read_only)\b/.test(
          l,
        ),
    );
  const lines = [
    ...own.filter((l) => l !== ""),
    conninfo,
    `primary_slot_name = ${quote(node.name)}`,
  ];
  await writePrivateFile(file, lines.join("\n") + "\n", "postgres");
  await writeFile(path.join(node.dataDir, "standby.signal"), "");
  await startNode(node);
}
