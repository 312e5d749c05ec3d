import {
  budgetShare,
  nodeBudget,
  overBudgetText,
  type BudgetShare,
  type NodeBudget,
} from "../platform/budget.js";
import { DEFAULTS } from "../platform/defaults.js";
import type { Plan } from "../platform/plan.js";
import { survivingHosts } from "../platform/sizing.js";
import { entryCap, hostNames, iniCopies, type IniCopy } from "./host-files.js";
import { copyText, refText, type Facts, type Finding, type PostgresNode } from "./types.js";

/**
 * The connection budget of every Postgres node, from what would really run: each host's
 * pgbouncer.ini (its user-data and its Parameter Store copy; the larger counts, since a host may
 * run either), the node's parameter group (max_connections, superuser_reserved_connections), the
 * reserves of the stack config, the real number of hosts and replicas. Each entry of the plan
 * must name its own one node (an ro entry its replica). Then the loss of one host:
 * the others' pool_size must still carry each entry's peak. The arithmetic is platform/budget.ts's.
 */
export function checkBudget(facts: Facts, plan: Plan): Finding[] {
  return assessBudget(facts, plan).findings;
}

/** The budget of every node as the facts have it (for reports), and what is wrong with it. */
export function assessBudget(
  facts: Facts,
  plan: Plan,
): { budgets: { node: PostgresNode; budget: NodeBudget }[]; findings: Finding[] } {
  const findings: Finding[] = [];
  const budgets: { node: PostgresNode; budget: NodeBudget }[] = [];
  const copies = iniCopies(facts);
  const hosts = hostNames(facts);
  const addresses = new Set(facts.nodes.flatMap((n) => (n.address ? [n.address] : [])));
  const { perProcess, targets } = processCounts(facts, plan, addresses, copies, findings);
  const { caps, pools } = hostTotals(plan, copies, perProcess);
  const counted: Counted = { plan, hosts, addresses, targets, caps };
  for (const node of facts.nodes) {
    const budget = budgetOf(node, counted, findings);
    if (budget) budgets.push({ node, budget });
  }
  findings.push(...hostLossFindings(plan, hosts, pools, copies));
  return { budgets, findings };
}

type PerProcess = Map<string, { cap: Map<string, number>; pool: Map<string, number> }>;

/**
 * The counts per host process (see below) and the hosts each entry names. Each entry's own
 * findings are added to `findings` as it is read.
 */
function processCounts(
  facts: Facts,
  plan: Plan,
  addresses: ReadonlySet<string>,
  copies: IniCopy[],
  findings: Finding[],
): { perProcess: PerProcess; targets: Map<string, string[]> } {
  // Per host, process and entry: the largest cap over the process's copies (user-data, Parameter
  // Store) and the smallest pool_size. A host's figure is the sum over its processes (each runs
  // its own ini's pools); a process the plan runs whose ini is missing counts as its host's
  // largest cap and smallest pool, so a file not found never lowers the count.
  const perProcess: PerProcess = new Map();
  const targets = new Map<string, string[]>();
  for (const c of copies) {
    const key = `${c.host}\u0000${c.process}`;
    const p = perProcess.get(key) ?? {
      cap: new Map<string, number>(),
      pool: new Map<string, number>(),
    };
    perProcess.set(key, p);
    for (const e of c.entries) {
      p.cap.set(e.name, Math.max(p.cap.get(e.name) ?? 0, entryCap(e)));
      p.pool.set(e.name, Math.min(p.pool.get(e.name) ?? Infinity, e.poolSize));
      targets.set(e.name, [...new Set([...(targets.get(e.name) ?? []), ...e.hosts])]);
      findings.push(...entryFindings(facts, plan, addresses, c, e));
    }
  }
  return { perProcess, targets };
}

/** What a node's budget is computed from: the hosts, the entries' targets, each host's caps. */
interface Counted {
  plan: Plan;
  hosts: string[];
  addresses: ReadonlySet<string>;
  targets: Map<string, string[]>;
  caps: Map<string, Map<string, number>>;
}

/** One node's budget, or undefined when its parameter group gives none (a finding says why). */
function budgetOf(
  node: PostgresNode,
  { plan, hosts, addresses, targets, caps }: Counted,
  findings: Finding[],
): NodeBudget | undefined {
  const r = plan.config.database.reservedConnections;
  const group = node.parameterGroup;
  if (!group) {
    findings.push({
      ref: node.ref,
      message: `${refText(node.ref)}: parameterGroupName must name the stack's parameter group (max_connections ${plan.maxConnections}), got RDS's default group`,
    });
    return undefined;
  }
  const maxConnections = Number(group.parameters.max_connections);
  if (!Number.isFinite(maxConnections)) {
    findings.push({
      ref: group.ref,
      message: `${refText(group.ref)}: parameters.max_connections must be set (the budget is computed on it), got ${group.parameters.max_connections ?? "nothing"}`,
    });
    return undefined;
  }
  const superuser = Number(
    group.parameters.superuser_reserved_connections ?? DEFAULTS.superuserReservedConnections,
  );
  const reaches = (entry: string) => {
    const list = targets.get(entry) ?? [];
    if (node.address && addresses.size > 0) return list.includes(node.address);
    // Addresses unknown: the plan says which one node the entry goes to (an entry the plan
    // does not know is counted on the primary, the node a stray entry most likely names).
    const planned = plan.entries.find((e) => e.name === entry);
    return planned ? planned.node === node.node : node.role === "primary";
  };
  const shares: BudgetShare[] = [...targets.keys()]
    .filter(reaches)
    .sort()
    .map((entry) =>
      budgetShare(
        entry,
        hosts.map((h) => caps.get(h)?.get(entry) ?? 0),
      ),
    );
  const b = nodeBudget(
    node.node,
    node.role,
    maxConnections,
    {
      superuserReserved: superuser,
      replication: r.replication,
      exporters: r.exporters,
      admin: r.admin,
    },
    shares,
  );
  if (b.free < 0) {
    findings.push({
      ref: node.ref,
      message: `${refText(node.ref)}: max_connections = ${maxConnections} (${refText(group.ref)}) ${overBudgetText(b)}`,
    });
  }
  return b;
}

/** One host lost: the host with the largest pool goes, the others must hold the peak. */
function hostLossFindings(
  plan: Plan,
  hosts: string[],
  pools: Map<string, Map<string, number>>,
  copies: IniCopy[],
): Finding[] {
  const findings: Finding[] = [];
  if (hosts.length > 0) {
    for (const e of plan.entries) {
      const sizes = hosts.map((h) => pools.get(h)?.get(e.name) ?? 0);
      const lost = hosts.length > 1 ? sizes.indexOf(Math.max(...sizes)) : -1;
      const left = sizes.filter((_, i) => i !== lost);
      const held = left.reduce((sum, n) => sum + n, 0);
      if (held < e.serverConnectionsNeeded && copies.length > 0) {
        const survivors = survivingHosts(hosts.length);
        const losing =
          lost >= 0
            ? `with ${hosts[lost]} lost, ${survivors} of ${hosts.length} hosts hold`
            : "the single host holds";
        findings.push({
          ref: copies[0]!.copy.ref,
          message: `databases.${e.name}: ${losing} pool_size ${left.join("+")}=${held}, but ${e.service} needs ${e.serverConnectionsNeeded} server connections at peak`,
        });
      }
    }
  }
  return findings;
}

/**
 * An entry of the plan must name exactly its own node: the client library judges each replica by
 * its own entry (breaker, lag), and the budget gives each replica its own entries, so an entry
 * that names another node or a host list breaks both. Undefined when it is right, or when the
 * node's address is not known here.
 */
function wrongNode(
  facts: Facts,
  plan: Plan,
  entry: string,
  hosts: readonly string[],
): string | undefined {
  const planned = plan.entries.find((e) => e.name === entry);
  const address = facts.nodes.find((n) => n.node === planned?.node)?.address;
  if (!planned || !address || (hosts.length === 1 && hosts[0] === address)) return undefined;
  return `host must be ${address}, the one node the entry is for (${planned.node}), got ${hosts.join(",") || "nothing"}`;
}

/** What is wrong with one entry of one ini copy: no cap, or a host outside the stack's nodes. */
function entryFindings(
  facts: Facts,
  plan: Plan,
  addresses: ReadonlySet<string>,
  c: IniCopy,
  e: IniCopy["entries"][number],
): Finding[] {
  const findings: Finding[] = [];
  const at = `${copyText(c.copy)}: databases.${e.name}`;
  if (e.maxDbConnections <= 0) {
    findings.push({
      ref: c.copy.ref,
      message: `${at} max_db_connections must cap the entry (the node budget counts it), got ${e.maxDbConnections} (no limit)`,
    });
  }
  const stray = e.hosts.filter((h) => addresses.size > 0 && !addresses.has(h));
  if (stray.length > 0) {
    findings.push({
      ref: c.copy.ref,
      message: `${at} host must name Postgres nodes of this stack, got ${stray.join(",")}`,
    });
  } else {
    const wrong = wrongNode(facts, plan, e.name, e.hosts);
    if (wrong) findings.push({ ref: c.copy.ref, message: `${at} ${wrong}` });
  }
  return findings;
}

/**
 * Per host, per entry: the caps and pools of its processes summed, over the processes the plan
 * runs (or more, if more inis are there); a missing process's counts as the host's largest cap
 * and smallest pool.
 */
function hostTotals(
  plan: Plan,
  copies: readonly IniCopy[],
  perProcess: ReadonlyMap<string, { cap: Map<string, number>; pool: Map<string, number> }>,
): { caps: Map<string, Map<string, number>>; pools: Map<string, Map<string, number>> } {
  const caps = new Map<string, Map<string, number>>();
  const pools = new Map<string, Map<string, number>>();
  for (const host of new Set(copies.map((c) => c.host))) {
    const seen = copies.filter((c) => c.host === host).map((c) => c.process);
    const planned = plan.hosts.find((h) => h.name === host)?.processes ?? 1;
    const count = Math.max(planned, ...seen);
    const present = [...new Set(seen)].map((k) => perProcess.get(`${host}\u0000${k}`)!);
    const names = new Set(present.flatMap((p) => [...p.cap.keys()]));
    const cap = new Map<string, number>();
    const pool = new Map<string, number>();
    for (const name of names) {
      const caps = present.map((p) => p.cap.get(name) ?? 0);
      const sizes = present.map((p) => p.pool.get(name) ?? 0);
      const missing = count - present.length;
      cap.set(name, caps.reduce((a, b) => a + b, 0) + missing * Math.max(...caps));
      pool.set(name, sizes.reduce((a, b) => a + b, 0) + missing * Math.min(...sizes));
    }
    caps.set(host, cap);
    pools.set(host, pool);
  }
  return { caps, pools };
}
