import { DEFAULTS } from "../platform/defaults.js";
import type { Plan } from "../platform/plan.js";
import { MONITORING_ROLE } from "../platform/roles.js";
import type { LocalSecrets } from "./secrets.js";

/**
 * The SQL that gives each service its login role and database on the primary (replicas get them by
 * streaming). Idempotent: run on every `up`. The password is set as the SCRAM verifier the userlist
 * carries, never as plaintext. CONNECT is revoked from PUBLIC so a service reaches only its own
 * database.
 */
export function serviceRolesSql(plan: Plan, secrets: LocalSecrets): string {
  const lines = ["SET client_min_messages = warning;"];
  for (const s of plan.services) {
    const verifier = secrets.accounts[s.name]?.verifier;
    if (!verifier) throw new Error(`no verifier for service ${s.name}`);
    // Names are IDENTIFIER-checked by the schema and verifiers are base64 + $:, so literal
    // quoting is safe; format(%I) keeps the identifiers quoted all the same.
    lines.push(
      `SELECT format('CREATE ROLE %I LOGIN', '${s.name}') WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${s.name}') \\gexec`,
      `ALTER ROLE "${s.name}" LOGIN PASSWORD '${verifier}' CONNECTION LIMIT ${s.roleConnectionLimit};`,
      `SELECT format('CREATE DATABASE %I OWNER %I', '${s.name}', '${s.name}') WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = '${s.name}') \\gexec`,
      `REVOKE CONNECT, TEMPORARY ON DATABASE "${s.name}" FROM PUBLIC;`,
      `GRANT CONNECT, TEMPORARY ON DATABASE "${s.name}" TO "${s.name}";`,
    );
  }
  return lines.join("\n") + "\n";
}

/**
 * The monitoring role (pg_monitor: every statistics view, none of the services' data) and the
 * pg_stat_statements extension, as the cloud's ServiceDatabases creates them. Run on the primary
 * in the extension's database; idempotent.
 */
export function monitoringSql(secrets: LocalSecrets): string {
  const verifier = secrets.accounts[MONITORING_ROLE]?.verifier;
  if (!verifier) throw new Error(`no verifier for ${MONITORING_ROLE}`);
  return (
    [
      "SET client_min_messages = warning;",
      `SELECT format('CREATE ROLE %I LOGIN', '${MONITORING_ROLE}') WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${MONITORING_ROLE}') \\gexec`,
      `ALTER ROLE "${MONITORING_ROLE}" LOGIN PASSWORD '${verifier}';`,
      `GRANT pg_monitor TO "${MONITORING_ROLE}";`,
      `CREATE EXTENSION IF NOT EXISTS ${DEFAULTS.statementStats.library};`,
    ].join("\n") + "\n"
  );
}
