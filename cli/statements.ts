import { readFileSync } from "node:fs";
import type pg from "pg";
import { connect } from "../local/connect.js";
import { readSecrets } from "../local/secrets.js";
import { clusterOptions } from "../local/cluster.js";
import { clusterNodes } from "../local/postgres-nodes.js";
import { localSsl } from "../local/tls.js";
import { DEFAULTS } from "../platform/defaults.js";
import type { Plan } from "../platform/plan.js";
import type { StatementRow } from "../platform/query-patterns.js";
import { MONITORING_ROLE } from "../platform/roles.js";
import { UsageError } from "./args.js";

/**
 * pg_stat_statements of every Postgres node, read as the monitoring role (pg_monitor sees every
 * database's statements) over TLS, verified. The local stack's nodes and password come from its
 * state; for another stack, `--nodes primary=host:port,replica1=…`, `--ca <file>` and the
 * password in PGPOOLING_MONITOR_PASSWORD (never on a command line).
 */
export interface NodeAddress {
  name: string;
  host: string;
  port: number;
}

export const PASSWORD_ENV = "PGPOOLING_MONITOR_PASSWORD";

/** `primary=host:port,replica1=host:port` → addresses, or a usage error naming the part. */
export function parseNodes(text: string, defaultPort: number): NodeAddress[] {
  return text.split(",").map((part) => {
    const m = /^([a-z][a-z0-9]*)=([^:=,\s]+)(?::([0-9]{1,5}))?$/.exec(part);
    if (!m)
      throw new UsageError(
        `--nodes must look like primary=host:port,replica1=host:port; got ${JSON.stringify(part)}`,
      );
    return { name: m[1]!, host: m[2]!, port: m[3] ? Number(m[3]) : defaultPort };
  });
}

export interface Access {
  nodes: NodeAddress[];
  password: string;
  ssl: { ca: string };
}

export async function localAccess(plan: Plan): Promise<Access> {
  const secrets = await readSecrets();
  const password = secrets.accounts[MONITORING_ROLE]?.password;
  if (!password)
    throw new Error(`the local stack has no ${MONITORING_ROLE} account: run npm run local -- up`);
  const nodes = clusterNodes(clusterOptions(plan, secrets.replicationPassword)).map((n) => ({
    name: n.name,
    host: n.address,
    port: n.port,
  }));
  return { nodes, password, ssl: localSsl() };
}

export function remoteAccess(plan: Plan, nodes: string, caFile: string | undefined): Access {
  const password = process.env[PASSWORD_ENV];
  if (!password)
    throw new UsageError(`--nodes needs the ${MONITORING_ROLE} password in ${PASSWORD_ENV}`);
  if (!caFile)
    throw new UsageError("--nodes needs --ca <file>: the nodes are verified (verify-full)");
  return {
    nodes: parseNodes(nodes, plan.config.database.port),
    password,
    ssl: { ca: readFileSync(caFile, "utf8") },
  };
}

const SQL = `SELECT d.datname AS database, pg_get_userbyid(s.userid) AS role, s.query,
  s.calls::float8 AS calls, s.total_exec_time AS total_ms
  FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = ANY($1)`;

/** Every node's rows for the plan's service databases, and since when each node has counted. */
export async function readStatements(
  plan: Plan,
  access: Access,
): Promise<{ rows: StatementRow[]; since: Record<string, string> }> {
  const databases = [...new Set(plan.services.map((s) => s.entries[0]!.dbname))];
  const rows: StatementRow[] = [];
  const since: Record<string, string> = {};
  for (const node of access.nodes) {
    let client: pg.Client | undefined;
    try {
      client = await connect({
        host: node.host,
        port: node.port,
        user: MONITORING_ROLE,
        password: access.password,
        database: DEFAULTS.statementStats.database,
        ssl: access.ssl,
      });
      const r = await client.query<{
        database: string;
        role: string;
        query: string;
        calls: number;
        total_ms: number;
      }>(SQL, [databases]);
      for (const x of r.rows)
        rows.push({
          node: node.name,
          database: x.database,
          role: x.role,
          query: x.query,
          calls: x.calls,
          totalMs: x.total_ms,
        });
      const info = await client.query<{ reset: Date }>(
        "SELECT stats_reset AS reset FROM pg_stat_statements_info",
      );
      since[node.name] = info.rows[0]!.reset.toISOString();
    } catch (e) {
      throw new Error(
        `node ${node.name} (${node.host}:${node.port}): cannot read pg_stat_statements: ${hint(e)}`,
      );
    } finally {
      await client?.end().catch(() => {});
    }
  }
  return { rows, since };
}

function hint(e: unknown): string {
  const { code, message } = e as { code?: string; message: string };
  if (code === "42P01")
    return `${message} (CREATE EXTENSION ${DEFAULTS.statementStats.library} in database ${DEFAULTS.statementStats.database} on the primary)`;
  if (code === "55000")
    return `${message} (add it to shared_preload_libraries and restart the node)`;
  return message;
}
