import { REDACTED_VERIFIER, isScramVerifier } from "../pgbouncer/userlist.js";
import { iniCopies } from "./host-files.js";
import { parseUserlist, setting } from "./ini.js";
import { copyText, refText, type Facts, type Finding } from "./types.js";

export const SCRAM = "scram-sha-256";

/** What a userlist secret or a role password is, without ever saying what it holds. */
export function secretKind(secret: string): string {
  if (/^md5[0-9a-f]{32}$/.test(secret)) return "an md5 hash";
  if (secret.startsWith("SCRAM-SHA-256$")) return "a malformed SCRAM verifier";
  return secret === "" ? "an empty password" : "a plaintext password";
}

/**
 * SCRAM only, on every hop: PgBouncer's auth_type (PgBouncer's own default is md5), every
 * userlist line a SCRAM-SHA-256 verifier, the parameter group's password_encryption, and each
 * role's password a verifier, so Postgres never receives a password to hash.
 */
export function checkScram(facts: Facts): Finding[] {
  const findings: Finding[] = [];
  for (const c of iniCopies(facts)) {
    const authType = setting(c.ini, "auth_type");
    if (authType !== SCRAM) {
      findings.push({
        ref: c.copy.ref,
        message: `${copyText(c.copy)}: auth_type must be ${SCRAM}, got ${c.ini.pgbouncer.auth_type ?? `nothing (PgBouncer's ${authType})`}`,
      });
    }
  }
  for (const h of facts.hosts) {
    const list = h.files["userlist.txt"];
    if (!list) continue;
    for (const line of parseUserlist(list.text)) {
      if (isScramVerifier(line.secret) || line.secret === REDACTED_VERIFIER) continue;
      findings.push({
        ref: list.ref,
        message: `${copyText(list)}: line ${line.line} (user ${JSON.stringify(line.user)}) must hold a SCRAM-SHA-256 verifier, got ${secretKind(line.secret)}`,
      });
    }
  }
  const groups = new Map(
    facts.nodes.flatMap((n) =>
      n.parameterGroup ? [[n.parameterGroup.ref.name, n.parameterGroup]] : [],
    ),
  );
  for (const g of groups.values()) {
    const value = g.parameters.password_encryption;
    if (g.rds && value !== SCRAM) {
      findings.push({
        ref: g.ref,
        message: `${refText(g.ref)}: parameters.password_encryption must be ${SCRAM}, got ${value ?? "nothing (RDS's default)"}`,
      });
    }
  }
  for (const role of facts.roles) {
    if (role.password === undefined || isScramVerifier(role.password)) continue;
    findings.push({
      ref: role.ref,
      message: `${refText(role.ref)}: password of role ${role.name} must be a SCRAM-SHA-256 verifier (Postgres must never receive a password), got ${secretKind(role.password)}`,
    });
  }
  return findings;
}
