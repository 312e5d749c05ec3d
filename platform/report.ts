import type { NodeBudget } from "./budget.js";
import { DEFAULTS } from "./defaults.js";
import type { Plan } from "./plan.js";

/** The Plan as text for people: budget per node, pools per service, pool modes and why. */
export function formatPlan(plan: Plan, label: string): string {
  const out = [
    planHeadline(plan, label),
    "",
    ...budgetSection(plan),
    "",
    ...poolsSection(plan),
    "",
    ...poolModesSection(plan),
    "",
    ...hostsSection(plan),
    ...notesSection(plan),
  ];
  return out.join("\n") + "\n";
}

/** The first line: which stack, PgBouncer version and hosts, Postgres nodes, clients at peak. */
function planHeadline(plan: Plan, label: string): string {
  const c = plan.config;
  const hosts = plan.hosts.length;
  return (
    `Plan for ${label} (${plan.environment}): PgBouncer ${plan.pgbouncerVersion.join(".")} on ${hosts} host${hosts > 1 ? "s" : ""}, ` +
    `Postgres ${c.database.engineVersion} primary + ${c.database.replicas} replica${c.database.replicas === 1 ? "" : "s"}, ` +
    `${plan.totalPeakClients} clients at peak`
  );
}

/** Each Postgres node's connection budget: what is reserved, what is usable, what the pools take. */
function budgetSection(plan: Plan): string[] {
  return [
    "Connection budget per Postgres node (max_connections − reserved = usable; pools need hosts × Σ max_db_connections)",
    table(BUDGET_HEAD, plan.budget.map(budgetRow)),
  ];
}

/**
 * Every entry's pool, the same on each host, with the host-loss margin it is sized for said
 * first: the reader needs it to see why pool_size exceeds what the clients alone would need.
 */
function poolsSection(plan: Plan): string[] {
  const hosts = plan.hosts.length;
  const survivors = plan.entries[0]?.survivingHosts ?? 1;
  return [
    hosts > 1
      ? `Pools per service, identical on each host; sized so that ${survivors} of ${hosts} hosts carry the peak (one host lost)`
      : "Pools per service on the single host, which carries the whole peak (no host-loss margin)",
    table(
      [
        "entry",
        "node",
        "mode",
        "clients",
        "server needed",
        "pool_size",
        "min_pool",
        "reserve",
        "max_db_conn",
      ],
      plan.entries.map((e) => [
        e.name,
        e.node,
        e.poolMode,
        e.clients,
        e.serverConnectionsNeeded,
        e.poolSize,
        e.minPoolSize,
        e.reservePoolSize,
        e.maxDbConnections,
      ]),
    ),
  ];
}

/** Each service's pool mode and the reason for it; its ro entries' too when theirs differs. */
function poolModesSection(plan: Plan): string[] {
  const out = ["Pool modes"];
  for (const s of plan.services) {
    out.push(`  ${s.name.padEnd(14)} ${s.poolMode.padEnd(12)} ${s.poolModeReason}`);
    // ro entries share one mode; shown when a primary-only need keeps it from the rw entry's
    const ro = s.entries.find((e) => e.role === "ro");
    if (ro && ro.poolMode !== s.poolMode)
      out.push(`  ${`${s.name} ro`.padEnd(14)} ${ro.poolMode.padEnd(12)} ${ro.poolModeReason}`);
  }
  return out;
}

/**
 * Each PgBouncer host's client and server connections and file limit, then the CPU check: one
 * PgBouncer process runs on one thread, so its statements per second are bounded by one core.
 */
function hostsSection(plan: Plan): string[] {
  const cpu = plan.cpu;
  const processes = plan.hosts[0]?.processes ?? 1;
  return [
    "Per PgBouncer host",
    table(
      ["host", "clients at peak", "max_client_conn", "server conns", "LimitNOFILE"],
      plan.hosts.map((h) => [
        h.name,
        h.clientsAtPeak,
        h.maxClientConn,
        h.maxServerConnections,
        h.openFilesLimit,
      ]),
    ),
    `  CPU: the busiest process carries ${cpu.peakPerProcess} statements/s at peak with one host lost, ` +
      `of the ${cpu.capacityPerProcess} one process may (one thread, ${DEFAULTS.pgbouncer.peakCoreShare * 100}% ` +
      `of one core's ${DEFAULTS.pgbouncer.statementsPerCoreSecond}); ${processes} process${processes === 1 ? "" : "es"} ` +
      `per host, ${cpu.processesNeeded} needed`,
  ];
}

/** The plan's notes, after a blank line; nothing at all when there are none. */
function notesSection(plan: Plan): string[] {
  return plan.notes.length > 0 ? ["", ...plan.notes.map((n) => `note: ${n}`)] : [];
}

/** The budget table's columns and one row per node: `plan`, `check` and its Markdown share them. */
export const BUDGET_HEAD = [
  "node",
  "max_conn",
  "superuser",
  "replication",
  "exporters",
  "admin",
  "usable",
  "pools need",
  "free",
];
export const budgetRow = (b: NodeBudget): (string | number)[] => [
  b.node,
  b.maxConnections,
  b.superuserReserved,
  b.replication,
  b.exporters,
  b.admin,
  b.usable,
  b.required,
  b.free,
];

export function table(head: string[], rows: (string | number)[][]): string {
  const cells = [head, ...rows.map((r) => r.map(String))];
  const widths = head.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)));
  const line = (r: string[]) =>
    "  " + r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  return cells.map(line).join("\n");
}
