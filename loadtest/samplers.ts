import { readdir, readFile } from "node:fs/promises";
import type pg from "pg";
import type { Plan } from "../platform/plan.js";
import { ADMIN_USER } from "../pgbouncer/layout.js";
import { connect, processTarget, type PoolRow } from "../local/connect.js";
import { processPid } from "../local/pgbouncer.js";
import { nodePid } from "../local/postgres-server.js";
import { clusterNodes } from "../local/postgres-nodes.js";
import type { LocalSecrets } from "../local/secrets.js";
import { clusterOptions } from "../local/cluster.js";
import type { MemorySample, PoolSample } from "./report/types.js";

/**
 * What the harness reads off the stack while it runs: SHOW POOLS of every PgBouncer process (over
 * its own unix socket, one admin connection kept per process), and the resident memory of the
 * processes a soak run watches.
 */
export class PoolSampler {
  private readonly clients = new Map<string, pg.Client>();
  constructor(
    private readonly plan: Plan,
    private readonly secrets: LocalSecrets,
  ) {}

  private async client(hostIndex: number, k: number): Promise<pg.Client | undefined> {
    const key = `${hostIndex}/${k}`;
    const existing = this.clients.get(key);
    if (existing) return existing;
    const host = this.plan.hosts[hostIndex]!;
    try {
      const c = await connect(
        processTarget(this.plan, host, k, this.secrets, ADMIN_USER, "pgbouncer"),
        2_000,
      );
      c.on("end", () => this.clients.delete(key));
      this.clients.set(key, c);
      return c;
    } catch {
      return undefined; // the process is down (a drill killed it): no sample this tick
    }
  }

  /** One sample per (host, pool), summed over the host's processes. */
  async sample(t: number): Promise<PoolSample[]> {
    const byPool = new Map<string, PoolSample>();
    await Promise.all(
      this.plan.hosts.flatMap((host) =>
        Array.from({ length: host.processes }, async (_, i) => {
          const c = await this.client(host.index, i + 1);
          if (!c) return;
          const rows = await c
            .query<PoolRow>("SHOW POOLS")
            .then((r) => r.rows)
            .catch(() => {
              this.clients.delete(`${host.index}/${i + 1}`);
              return [] as PoolRow[];
            });
          for (const r of rows) {
            if (r.database === "pgbouncer") continue;
            const key = `${host.name}/${r.database}`;
            const s = byPool.get(key) ?? {
              t,
              host: host.name,
              pool: r.database,
              clActive: 0,
              clWaiting: 0,
              svActive: 0,
              svIdle: 0,
              maxWaitMs: 0,
            };
            s.clActive += Number(r.cl_active);
            s.clWaiting += Number(r.cl_waiting);
            s.svActive += Number(r.sv_active);
            s.svIdle += Number(r.sv_idle);
            s.maxWaitMs = Math.max(s.maxWaitMs, Number(r.maxwait) * 1000);
            byPool.set(key, s);
          }
        }),
      ),
    );
    return [...byPool.values()].sort((a, b) =>
      `${a.host}/${a.pool}`.localeCompare(`${b.host}/${b.pool}`),
    );
  }

  async close(): Promise<void> {
    await Promise.all([...this.clients.values()].map((c) => c.end().catch(() => {})));
    this.clients.clear();
  }
}

async function rssKiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8").catch(() => "");
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
}

/** Children of each pid, from /proc (a postmaster's backends). */
async function childrenOf(parents: Set<number>): Promise<number[]> {
  const out: number[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, "utf8").catch(() => "");
    const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    if (parents.has(ppid)) out.push(Number(entry));
  }
  return out;
}

/** Resident memory of the harness, each PgBouncer process, and each Postgres node (all backends). */
export async function memorySamples(
  plan: Plan,
  secrets: LocalSecrets,
  t: number,
): Promise<MemorySample[]> {
  const mib = (kib: number) => Math.round((kib / 1024) * 10) / 10;
  const out: MemorySample[] = [
    { t, process: "harness", rssMiB: mib(process.memoryUsage().rss / 1024) },
  ];
  for (const host of plan.hosts) {
    for (let k = 1; k <= host.processes; k++) {
      const pid = await processPid(host, k);
      if (pid === undefined) continue;
      const name = host.processes > 1 ? `${host.name}/${k}` : host.name;
      out.push({ t, process: name, rssMiB: mib(await rssKiB(pid)) });
    }
  }
  for (const node of clusterNodes(clusterOptions(plan, secrets.replicationPassword))) {
    const pid = await nodePid(node);
    if (pid === undefined) continue;
    const pids = [pid, ...(await childrenOf(new Set([pid])))];
    const total = (await Promise.all(pids.map(rssKiB))).reduce((a, b) => a + b, 0);
    out.push({ t, process: `postgres-${node.name}`, rssMiB: mib(total) });
  }
  return out;
}
