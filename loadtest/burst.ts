import type pg from "pg";
import type { Plan } from "../platform/plan.js";
import { connect, processTarget } from "../local/connect.js";
import type { LocalSecrets } from "../local/secrets.js";

/**
 * A runaway job: twice as many clients as one service's entry has server connections (pool +
 * reserve) on every PgBouncer process, each running half-second sleeps back to back, so the entry's
 * pool stays full and the service's real callers queue behind it. Short statements, so stopping it
 * frees the pool within half a second and leaves no long-running backend behind.
 */
export interface Burst {
  clients: number;
  stop(): Promise<void>;
}

export async function burst(plan: Plan, secrets: LocalSecrets, entryName: string): Promise<Burst> {
  const entry = plan.entries.find((e) => e.name === entryName);
  if (!entry) throw new Error(`burst: no entry named ${JSON.stringify(entryName)}`);
  const perProcess = 2 * (entry.poolSize + entry.reservePoolSize);
  const clients: pg.Client[] = [];
  for (const host of plan.hosts) {
    for (let k = 1; k <= host.processes; k++) {
      const target = processTarget(plan, host, k, secrets, entry.service, entry.name);
      clients.push(
        ...(await Promise.all(Array.from({ length: perProcess }, () => connect(target)))),
      );
    }
  }
  let stopping = false;
  const loops = clients.map(async (c) => {
    while (!stopping) await c.query("SELECT pg_sleep(0.5)").catch(() => {});
  });
  return {
    clients: clients.length,
    async stop() {
      stopping = true;
      await Promise.all(loops);
      await Promise.all(clients.map((c) => c.end().catch(() => {})));
    },
  };
}
