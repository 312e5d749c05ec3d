import type pg from "pg";
import { connect, endpointTarget } from "../../local/connect.js";
import { LOADTEST_DEFAULTS } from "../../loadtest/defaults.js";
import { runHarness, type HarnessOptions } from "../../loadtest/harness.js";
import { processIds, startProcess, stopProcess } from "../../local/pgbouncer.js";
import { plan, secrets } from "./helpers.js";

type Hook = NonNullable<HarnessOptions["hooks"]>[number];

/**
 * The short load that gives every dashboard panel and every alert input a series: the services
 * for 18 s, a 1.5 s outage of the whole tier at 3 s (retries, failed attempts, fallbacks to count)
 * and, from 9 s, one client held on every entry (an entry no workload reaches has no pool, hence
 * no series). `hooks` run as well, on their own times.
 */
export async function monitoringLoad(command: string, hooks: Hook[] = []) {
  const held: pg.Client[] = [];
  // Every host at once: behind the balancer, one host's outage is invisible to new connections.
  const everyProcess = plan.hosts.flatMap((host) => processIds(host).map((k) => ({ host, k })));
  try {
    return await runHarness({
      plan,
      secrets,
      clients: 400,
      durationMs: 18_000,
      rate: LOADTEST_DEFAULTS.rate,
      workers: LOADTEST_DEFAULTS.workers,
      direct: false,
      memory: false,
      command,
      hooks: [
        {
          atMs: 3_000,
          label: "kill every PgBouncer process",
          run: async () => {
            await Promise.all(everyProcess.map(({ host, k }) => stopProcess(host, k, ["SIGKILL"])));
          },
        },
        {
          atMs: 4_500,
          label: "start every PgBouncer process",
          run: async () => {
            for (const { host, k } of everyProcess) await startProcess(plan, host, k);
          },
        },
        {
          // Reporting reads everything from replicas, so its rw entry only serves fallbacks.
          atMs: 9_000,
          label: "one client on every entry",
          run: async () => {
            for (const e of plan.entries) {
              const c = await connect(endpointTarget(plan, secrets, e.service, e.name));
              await c.query("SELECT 1");
              held.push(c);
            }
          },
        },
        ...hooks,
      ],
    });
  } finally {
    await Promise.all(held.map((c) => c.end()));
  }
}
