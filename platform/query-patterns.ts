import { knows } from "./capabilities.js";
import type { Plan } from "./plan.js";
import type { SessionFeature } from "./schema.js";
import { choosePoolMode, SESSION_PINNING } from "./sizing.js";

/**
 * Query patterns from pg_stat_statements, per service database: the statements that dominate its
 * time, the session features its statements use that it does not declare (each broken by
 * transaction pooling), and the features it declares that none of its statements use (a session
 * pool that could be a transaction pool). Statement texts are pg_stat_statements' normalised ones
 * (constants replaced by $1 …), so no value a service sent appears here.
 */

/** One row of pg_stat_statements on one node. */
export interface StatementRow {
  node: string;
  database: string;
  /** The role that ran it: the service's own, through PgBouncer, or an operator's. */
  role: string;
  query: string;
  calls: number;
  totalMs: number;
}

/**
 * Parameters PgBouncer itself sets on a server connection for each client (its tracked
 * parameters): a SET of one of these is PgBouncer's, and safe under transaction pooling.
 */
const PGBOUNCER_TRACKED = [
  "application_name",
  "client_encoding",
  "datestyle",
  "timezone",
  "standard_conforming_strings",
  "intervalstyle",
];

/** How each feature shows in a statement's text; preparedStatements only as SQL PREPARE. */
const USES: Record<SessionFeature, (sql: string) => boolean> = {
  listenNotify: (sql) => /^\s*LISTEN\s/i.test(sql),
  // the session-level functions; pg_advisory_xact_lock ends with the transaction and is safe
  sessionAdvisoryLocks: (sql) => /\bpg_(try_)?advisory_lock(_shared)?\s*\(/i.test(sql),
  sessionSet: (sql) => {
    const set = /^\s*SET\s+(SESSION\s+)?(?!LOCAL\b|TRANSACTION\b|CONSTRAINTS\b)("?[\w.]+"?)/i.exec(
      sql,
    );
    if (set) return !PGBOUNCER_TRACKED.includes(set[2]!.replace(/"/g, "").toLowerCase());
    return /\bset_config\s*\([^)]*,\s*false\s*\)/i.test(sql);
  },
  tempTables: (sql) => /\bCREATE\s+(GLOBAL\s+|LOCAL\s+)?TEMP(ORARY)?\s+TABLE\b/i.test(sql),
  preparedStatements: (sql) => /^\s*PREPARE\s/i.test(sql),
};

/**
 * Protocol-level prepared statements look like any other statement in pg_stat_statements: their
 * use cannot be seen there, so a declaration of them is never reported unused.
 */
const UNOBSERVABLE: readonly SessionFeature[] = ["preparedStatements"];

export interface TopStatement {
  query: string;
  calls: number;
  totalMs: number;
  /** Share of the database's statement time. */
  share: number;
}

export interface Finding {
  service: string;
  kind: "undeclared" | "unused";
  feature: SessionFeature;
  /** The statement that uses it (undeclared), or none (unused). */
  query?: string;
  calls?: number;
  /** What it risks, or what declaring it costs. */
  risk: string;
}

export interface ServicePatterns {
  top: TopStatement[];
  findings: Finding[];
}

const TOP = 5;

/** The statements of a database, one line per text, summed over the nodes. */
function byText(rows: readonly StatementRow[]): StatementRow[] {
  const merged = new Map<string, StatementRow>();
  for (const r of rows) {
    const m = merged.get(r.query);
    if (m) {
      m.calls += r.calls;
      m.totalMs += r.totalMs;
    } else merged.set(r.query, { ...r });
  }
  return [...merged.values()].sort(
    (a, b) => b.totalMs - a.totalMs || a.query.localeCompare(b.query),
  );
}

export function queryPatterns(
  plan: Plan,
  rows: readonly StatementRow[],
): Record<string, ServicePatterns> {
  const out: Record<string, ServicePatterns> = {};
  const tracksPrepared = knows(plan.pgbouncerVersion, "pgbouncer", "max_prepared_statements");
  for (const service of plan.services) {
    // the service's own statements (its role, through PgBouncer): not an operator's or a
    // migration's, run as another role
    const own = rows.filter(
      (r) => r.database === service.entries[0]!.dbname && r.role === service.name,
    );
    const statements = byText(own);
    const total = statements.reduce((a, r) => a + r.totalMs, 0);
    const declared = plan.config.services[service.name]!.sessionFeatures;
    const findings: Finding[] = [];
    for (const feature of Object.keys(USES) as SessionFeature[]) {
      const using = statements.filter((r) => USES[feature](r.query));
      if (using.length > 0 && !declared.includes(feature))
        for (const r of using) findings.push(undeclared(service, feature, r, own));
      if (using.length === 0 && declared.includes(feature) && !UNOBSERVABLE.includes(feature)) {
        const rest = declared.filter((f) => f !== feature);
        const without = choosePoolMode(rest, tracksPrepared).mode;
        findings.push({
          service: service.name,
          kind: "unused",
          feature,
          risk:
            without === "transaction" && service.poolMode === "session"
              ? `declared, but no statement uses it: without it the rw entry could be transaction-pooled (now: ${service.poolModeReason})`
              : `declared, but no statement uses it (the pool mode stays ${without}${rest.length ? `, for ${rest.join(", ")}` : ""})`,
        });
      }
    }
    out[service.name] = {
      top: statements.slice(0, TOP).map((r) => ({
        query: r.query,
        calls: r.calls,
        totalMs: r.totalMs,
        share: total > 0 ? r.totalMs / total : 0,
      })),
      findings,
    };
  }
  return out;
}

/**
 * A feature a statement uses and the service does not declare. Which entry ran it is the node it
 * ran on (the rw entry reaches the primary, each ro entry one replica): the risk is that entry's.
 */
function undeclared(
  service: Plan["services"][number],
  feature: SessionFeature,
  statement: StatementRow,
  own: readonly StatementRow[],
): Finding {
  const nodes = [...new Set(own.filter((r) => r.query === statement.query).map((r) => r.node))];
  const entries = service.entries.filter((e) => nodes.includes(e.node));
  const pooled = entries.filter((e) => e.poolMode === "transaction").map((e) => e.name);
  return {
    service: service.name,
    kind: "undeclared",
    feature,
    query: statement.query,
    calls: statement.calls,
    risk:
      pooled.length > 0
        ? `not declared, and ${pooled.join(", ")} ${pooled.length > 1 ? "are" : "is"} transaction-pooled: ${SESSION_PINNING[feature]}`
        : `not declared; harmless while ${entries.map((e) => e.name).join(", ") || "its entries"} ${entries.length === 1 ? "stays" : "stay"} session-pooled (${service.poolModeReason})`,
  };
}
