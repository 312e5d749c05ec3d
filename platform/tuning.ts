import { DEFAULTS } from "./defaults.js";
import { ConfigError, isConfigError, type Problem } from "./errors.js";
import { buildPlan, type Plan, type ServicePlan } from "./plan.js";
import type { StackConfig } from "./schema.js";

/**
 * Declarations checked against what the tier observed (npm run tune). A service declares its peak
 * load in the stack file and the plan derives every pool from it: a wrong declaration is the most
 * likely production failure of the design (pools too small, clients wait). Observed values come
 * from PgBouncer's own counters (monitoring/tuning-queries.ts); this module decides, per field,
 * whether the declaration stands and what to propose, and what the proposal changes in the plan.
 */

/** What PgBouncer saw of one service (all its entries, every host and process) over the window. */
export interface ServiceObservation {
  /** Highest transactions per second (a rate over DEFAULTS.tuning.rateWindowSeconds). */
  peakTps: number;
  p95Tps: number;
  /** Server time in transaction ÷ transactions, in milliseconds. */
  transactionMs: number;
  /** Share of the service's transactions that went to its ro entries. */
  readShare: number;
  /**
   * Highest client connections (active + waiting) to all of the service's entries, fleet-wide:
   * an instance holds its rw pool and its ro pool to each replica, so the declaration of N
   * clients gives more connections than N (ServicePlan's entries' `clients`).
   */
  peakClients: number;
  /** Longest a client waited for a server connection, in seconds. */
  maxWaitSeconds: number;
  /** Largest replica lag seen (replicas/lag.ts), in seconds: shared by every service. */
  maxReplicaLagSeconds: number;
}

/** The fields tune may change, each with its rule. */
export const TUNED_FIELDS = ["peakTps", "transactionMs", "readShare", "peakClients"] as const;
export type TunedField = (typeof TUNED_FIELDS)[number];

export interface FieldVerdict {
  field: TunedField;
  declared: number;
  observed: number;
  /** Equal to `declared` when the declaration stands. */
  proposed: number;
  changed: boolean;
  /** The rule that decided, in words. */
  rule: string;
}

const T = DEFAULTS.tuning;

/** How far the observation is from the declaration, relative to the declaration. */
const relativeOff = (declared: number, observed: number) => Math.abs(observed / declared - 1);

/** Two significant digits, never 0 for a positive value: declarations are estimates. */
function estimate(x: number): number {
  if (x <= 0) return 0;
  const scale = 10 ** (Math.floor(Math.log10(x)) - 1);
  return Math.ceil(x / scale) * scale;
}

/** `connections`: what the declaration gives, Σ of the service's entries' clients. */
type Rule = (
  declared: number,
  observed: number,
  connections: number,
) => Omit<FieldVerdict, "field">;

/** A declaration that stands within `tolerance` of the observation, else becomes it. */
const relativeRule =
  (tolerance: number, what: string): Rule =>
  (declared, observed) => {
    const changed = relativeOff(declared, observed) > tolerance;
    const rule = `the window's ${what}, kept within ±${pct(tolerance)}`;
    return verdict(declared, observed, changed ? estimate(observed) : declared, changed, rule);
  };

const RULES: Record<TunedField, Rule> = {
  // The window's peak itself: the sizing adds its own headroom (DEFAULTS.headroom) on top.
  peakTps: relativeRule(T.tolerance.peakTps, "peak"),
  transactionMs: relativeRule(T.tolerance.transactionMs, "average"),
  readShare: (declared, observed) => {
    const changed = Math.abs(declared - observed) > T.tolerance.readShare;
    const proposed = Math.round(observed * 20) / 20;
    const rule = `the window's ro share to 0.05, kept within ±${T.tolerance.readShare}`;
    return verdict(declared, observed, changed ? proposed : declared, changed, rule);
  },
  // Clients beyond the declaration overrun max_client_conn and the budget; fewer are harmless
  // (the app's pools open lazily and close idle connections), so only a rise is proposed.
  peakClients: (declared, observed, connections) => {
    const changed = observed > connections;
    const proposed = Math.ceil((declared * observed) / connections);
    const rule = `raised when more than the ${connections} connections it gives (rw, ro to each replica) are seen, never lowered`;
    return verdict(declared, observed, changed ? proposed : declared, changed, rule);
  },
};

function verdict(
  declared: number,
  observed: number,
  proposed: number,
  changed: boolean,
  rule: string,
) {
  return { declared, observed, proposed, changed, rule };
}

const pct = (x: number) => `${Math.round(x * 100)} %`;

/** Every field of one service, judged. */
export function judgeService(
  declared: StackConfig["services"][string],
  observed: ServiceObservation,
  planned: Pick<ServicePlan, "entries">,
): FieldVerdict[] {
  const connections = planned.entries.reduce((a, e) => a + e.clients, 0);
  return TUNED_FIELDS.map((field) => ({
    field,
    ...RULES[field](declared[field], observed[field], connections),
  }));
}

export interface TuneResult {
  verdicts: Record<string, FieldVerdict[]>;
  /** What was observed, per judged service. */
  observed: Record<string, ServiceObservation>;
  /** Services not judged, each with why (no transactions of their own in the window). */
  idle: Record<string, string>;
  /** The stack config with every proposal applied (the current one when nothing changed). */
  proposed: StackConfig;
  current: Plan;
  /** The plan of the proposal, or why it is refused (a budget or CPU problem) and what to grow. */
  outcome: { plan: Plan } | { refused: readonly Problem[]; grow: string };
}

/**
 * Judges `services` (every service by default; the others keep their declarations) but the idle
 * ones (kept, and reported with why) and plans the proposal. One without an observation is an
 * error naming it: a proposal must not silently keep a declaration nobody checked.
 */
export function tune(
  config: StackConfig,
  observed: Record<string, ServiceObservation>,
  services: readonly string[] = Object.keys(config.services),
  idle: Record<string, string> = {},
): TuneResult {
  const judged = services.filter((s) => !idle[s]);
  const problems: Problem[] = judged
    .filter((s) => !observed[s])
    .map((s) => ({ path: `observations.${s}`, message: "has no observation over the window" }));
  if (problems.length > 0) throw new ConfigError(problems, "tune");
  const verdicts: Record<string, FieldVerdict[]> = {};
  const proposed: StackConfig = structuredClone(config);
  const current = buildPlan(config, { enforceBudget: false });
  for (const name of judged) {
    const planned = current.services.find((s) => s.name === name)!;
    verdicts[name] = judgeService(config.services[name]!, observed[name]!, planned);
    for (const v of verdicts[name]) if (v.changed) proposed.services[name]![v.field] = v.proposed;
  }
  try {
    return { verdicts, observed, idle, proposed, current, outcome: { plan: buildPlan(proposed) } };
  } catch (e) {
    if (!isConfigError(e)) throw e;
    const refused = { refused: e.problems, grow: growFor(e.problems) };
    return { verdicts, observed, idle, proposed, current, outcome: refused };
  }
}

/** What to grow instead, for each kind of problem a refused proposal has. */
function growFor(problems: readonly Problem[]): string {
  const advice = new Set<string>();
  for (const p of problems) {
    if (p.path.startsWith("database."))
      advice.add(
        "a larger database.instanceClass, or database.maxConnections, for a node's budget (each " +
          "replica is budgeted for every read, so another replica does not relieve one)",
      );
    else if (p.path.startsWith("pgbouncer."))
      advice.add(
        "a host (pgbouncer.hosts) or processes (pgbouncer.processesPerHost) for PgBouncer's CPU",
      );
    else advice.add(`${p.path}, as the problem says`);
  }
  return `grow instead: ${[...advice].join("; ")}`;
}

/** What a proposal changes in the plan: pool sizes per entry, budget per node, per-host limits. */
export interface PlanChange {
  what: string;
  from: number;
  to: number;
}

export function planChanges(from: Plan, to: Plan): PlanChange[] {
  const out: PlanChange[] = [];
  const push = (what: string, a: number, b: number) =>
    a !== b && out.push({ what, from: a, to: b });
  const before = new Map(from.entries.map((e) => [e.name, e]));
  for (const e of to.entries) {
    const old = before.get(e.name);
    if (!old) continue;
    push(`${e.name} pool_size`, old.poolSize, e.poolSize);
    push(`${e.name} max_db_connections`, old.maxDbConnections, e.maxDbConnections);
  }
  const nodes = new Map(from.budget.map((n) => [n.node, n]));
  for (const n of to.budget) {
    const old = nodes.get(n.node);
    if (old) push(`${n.node} connections the pools need`, old.required, n.required);
  }
  from.hosts.forEach((h, i) => {
    const next = to.hosts[i];
    if (next) push(`${h.name} max_client_conn`, h.maxClientConn, next.maxClientConn);
  });
  return out;
}
