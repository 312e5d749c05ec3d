import type { Plan } from "../platform/plan.js";
import { enforcesTls, TLS_ENFORCING_MODES } from "../platform/schema.js";
import { iniCopies } from "./host-files.js";
import { setting } from "./ini.js";
import { copyText, refText, type Facts, type Finding, type PolicyConfig } from "./types.js";

/**
 * In the strict environments (prod), TLS on both sides: PgBouncer refuses clients without it,
 * PgBouncer requires it of Postgres, and Postgres refuses any connection without it
 * (rds.force_ssl), so nothing bypasses the pooler in the clear either.
 */
export function checkTls(facts: Facts, plan: Plan, config: PolicyConfig): Finding[] {
  const env = plan.environment;
  if (!config.strictEnvironments.includes(env)) return [];
  const modes = TLS_ENFORCING_MODES.join(", ");
  const findings: Finding[] = [];
  for (const c of iniCopies(facts)) {
    for (const key of ["client_tls_sslmode", "server_tls_sslmode"] as const) {
      const mode = setting(c.ini, key);
      if (enforcesTls(mode)) continue;
      findings.push({
        ref: c.copy.ref,
        message: `${copyText(c.copy)}: ${key} must be one of ${modes} in ${env}, got ${c.ini.pgbouncer[key] ?? `nothing (PgBouncer's ${mode})`}`,
      });
    }
  }
  const groups = new Map(
    facts.nodes.flatMap((n) =>
      n.parameterGroup ? [[n.parameterGroup.ref.name, n.parameterGroup]] : [],
    ),
  );
  for (const g of groups.values()) {
    const value = g.parameters["rds.force_ssl"];
    if (g.rds && value !== "1") {
      findings.push({
        ref: g.ref,
        message: `${refText(g.ref)}: parameters.rds.force_ssl must be 1 in ${env}, got ${value ?? "nothing (RDS's default 0)"}`,
      });
    }
  }
  return findings;
}
