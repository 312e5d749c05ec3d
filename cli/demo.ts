import { PRIMARY_NODE, replicaNodeNames } from "../platform/nodes.js";
import type { Plan } from "../platform/plan.js";
import { table } from "../platform/report.js";
import type { Target } from "../local/connect.js";
import { runLoad, type LoadResult } from "../loadtest/bounded-load.js";
import { superuserQuery } from "../local/postgres-server.js";
import { clusterNodes } from "../local/postgres-nodes.js";
import { readSecrets, type LocalSecrets } from "../local/secrets.js";
import { stackDown, stackUp } from "../local/stack.js";
import { clusterOptions } from "../local/cluster.js";
import { PRIMARY_ADDRESS, replicaAddress } from "../local/topology.js";
import { localSsl } from "../local/tls.js";
import { main } from "./args.js";
import { printStatus } from "./local.js";
import { localPlan } from "../local/lines.js";

/**
 * npm run demo: the local stack from Pulumi.local.yaml, every service's declared clients through
 * the pooler and then straight to Postgres, side by side, and everything taken down again.
 */
const DURATION_MS = Number(process.env.DEMO_SECONDS ?? 10) * 1000;
const THINK_MS = 250;

/**
 * Each service's declared clients: its rw entry's, and its ro clients spread over the replicas'
 * entries (each entry is sized for all of them, but a client reads from one replica at a time).
 */
function clientTargets(plan: Plan, secrets: LocalSecrets, via: "pgbouncer" | "postgres"): Target[] {
  const targets: Target[] = [];
  for (const s of plan.services) {
    const password = secrets.accounts[s.name]!.password;
    const rw = s.entries.filter((e) => e.role === "rw");
    const ro = s.entries.filter((e) => e.role === "ro");
    const clients = [
      ...rw.flatMap((e) => Array.from({ length: e.clients }, () => e)),
      ...Array.from({ length: ro[0]?.clients ?? 0 }, (_, i) => ro[i % ro.length]!),
    ];
    for (const e of clients) {
      // The endpoint (HAProxy locally, the NLB in the cloud) spreads clients over the hosts.
      const pooled = { host: plan.config.pgbouncer.endpoint, port: plan.config.pgbouncer.port };
      const direct = { host: nodeAddress(plan, e.node), port: plan.config.database.port };
      targets.push({
        ...(via === "pgbouncer" ? pooled : direct),
        database: via === "pgbouncer" ? e.name : e.dbname,
        user: e.service,
        password,
        ssl: localSsl(),
      });
    }
  }
  return targets;
}

/** A node's loopback address, by its plan name. */
function nodeAddress(plan: Plan, node: string): string {
  if (node === PRIMARY_NODE) return PRIMARY_ADDRESS;
  const i = replicaNodeNames(plan.config.database.replicas).indexOf(node);
  if (i < 0) throw new Error(`entry node must be primary or a replica of the plan, got ${node}`);
  return replicaAddress(i);
}

/** Client backends of the services on each Postgres node, right now. */
async function backends(plan: Plan, secrets: LocalSecrets): Promise<string> {
  const nodes = clusterNodes(clusterOptions(plan, secrets.replicationPassword));
  const counts = await Promise.all(
    nodes.map(
      async (n) =>
        `${n.name} ${await superuserQuery(n, "select count(*) from pg_stat_activity where backend_type = 'client backend' and usename <> 'postgres'")}`,
    ),
  );
  return counts.join(", ");
}

function column(r: LoadResult): string[] {
  // Group refusals by kind: the same message names different roles.
  const kinds: Record<string, number> = {};
  for (const [message, n] of Object.entries(r.refused)) {
    const kind = message.replace(/"[^"]*"/g, "<role>");
    kinds[kind] = (kinds[kind] ?? 0) + n;
  }
  const refused =
    Object.entries(kinds)
      .map(([m, n]) => `${n} (${m})`)
      .join("; ") || "none";
  return [
    String(r.attempted),
    String(r.connected),
    refused,
    String(r.transactions),
    String(r.failedTransactions),
    `${r.tps.toFixed(0)} tx/s`,
    `${r.p50Ms.toFixed(1)} ms / ${r.p99Ms.toFixed(1)} ms`,
  ];
}

/** Prints one line of the demo's narration (an empty line when given none). */
type Say = (line?: string) => void;

/** One load run's result, with the Postgres backends counted halfway through it. */
interface Measured {
  result: LoadResult;
  backends: string;
}

await main(async () => {
  const plan = localPlan();
  const say = (line = "") => console.log(line);
  announce(plan, say);
  try {
    await stackUp(plan, (l) => say(`   ${l}`));
    const secrets = await readSecrets();
    const clients = clientTargets(plan, secrets, "pgbouncer").length;

    say(
      `   each client runs a short query, then ${THINK_MS} ms of app work, for ${DURATION_MS / 1000}s`,
    );

    // Without a pooler first: PgBouncer has opened no server connection yet, so the backend
    // counts of each run are that run's own.
    const direct = await loadDirect(plan, secrets, clients, say);
    const pooled = await loadPooled(plan, secrets, clients, say);
    printSideBySide(pooled, direct, say);
    printConclusion(pooled, direct.result, say);
  } finally {
    say("\n== 5. Take the local stack down");
    await stackDown(plan);
    say("   done: no process, port or state left");
  }
});

/** Step 1's heading: what the demo drives, and the stack it is about to bring up. */
function announce(plan: Plan, say: Say): void {
  say(
    `pg-pooling demo: ${plan.services.length} services, ${plan.totalPeakClients} clients at peak (Pulumi.local.yaml)`,
  );
  say(
    `\n== 1. Bring up the local stack: Postgres primary + ${plan.config.database.replicas} streaming replicas, ${plan.hosts.length} PgBouncer hosts`,
  );
}

/**
 * Step 2: every client straight to Postgres, no pooler, with the backends counted halfway; the
 * role limits and max_connections turn some away.
 */
async function loadDirect(
  plan: Plan,
  secrets: LocalSecrets,
  clients: number,
  say: Say,
): Promise<Measured> {
  say(
    `\n== 2. ${clients} clients straight to Postgres, no pooler (max_connections ${plan.maxConnections})`,
  );
  let backendsMidRun = "";
  const result = await runLoad({
    targets: clientTargets(plan, secrets, "postgres"),
    durationMs: DURATION_MS,
    thinkMs: THINK_MS,
    midRun: async () => {
      backendsMidRun = await backends(plan, secrets);
    },
  });
  return { result, backends: backendsMidRun };
}

/**
 * Step 3: the same clients through PgBouncer; halfway, each host's pools are printed live and
 * the backends counted, to show the few server connections the pooler keeps.
 */
async function loadPooled(
  plan: Plan,
  secrets: LocalSecrets,
  clients: number,
  say: Say,
): Promise<Measured> {
  say(`\n== 3. The same ${clients} clients through PgBouncer`);
  let backendsMidRun = "";
  const result = await runLoad({
    targets: clientTargets(plan, secrets, "pgbouncer"),
    durationMs: DURATION_MS,
    thinkMs: THINK_MS,
    midRun: async () => {
      say("   halfway, live from each host's SHOW POOLS:");
      await printStatus(plan);
      backendsMidRun = await backends(plan, secrets);
    },
  });
  return { result, backends: backendsMidRun };
}

/** Step 4: the two runs as two columns of one table, the mid-run backend counts in the last row. */
function printSideBySide(pooled: Measured, direct: Measured, say: Say): void {
  say("\n== 4. Side by side");
  const labels = [
    "clients attempted",
    "clients connected",
    "clients refused",
    "transactions",
    "failed transactions",
    "throughput",
    "latency p50 / p99",
  ];
  const a = column(pooled.result);
  const b = column(direct.result);
  say(
    table(
      ["", "through PgBouncer", "straight to Postgres"],
      [
        ...labels.map((l, i) => [l, a[i]!, b[i]!]),
        ["Postgres backends (mid-run)", pooled.backends, direct.backends],
      ],
    ),
  );
}

/**
 * What the table shows, in words: the server connections the pooled run needed in all, and, when
 * Postgres refused clients, why.
 */
function printConclusion(pooled: Measured, direct: LoadResult, say: Say): void {
  say(
    `\n   Through the pooler every client got in, served by ${pooled.backends
      .replace(/\D+/g, " ")
      .trim()
      .split(" ")
      .map(Number)
      .reduce((x, y) => x + y, 0)} server connections in all.`,
  );
  if (direct.connected < direct.attempted) {
    say(
      `   Straight to Postgres only ${direct.connected} of ${direct.attempted} got in: every client costs a backend process, so the`,
    );
    say(
      `   role connection limits and max_connections the plan budgets for the pools turn the rest away.`,
    );
  }
}
