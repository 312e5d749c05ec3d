import { REDACTED_VERIFIER, isScramVerifier } from "../pgbouncer/userlist.js";
import { hbaOf } from "./admin-console.js";
import { iniCopies, type IniCopy } from "./host-files.js";
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
 * SCRAM only, on every hop: PgBouncer's auth_type (PgBouncer's own default is md5) or, with
 * auth_type = hba, every rule of its hba file that lets a login in, every
 * userlist line a SCRAM-SHA-256 verifier, the parameter group's password_encryption, and each
 * role's password a verifier, so Postgres never receives a password to hash.
 */
function pgbouncerAuth(c: IniCopy): Finding[] {
  const authType = setting(c.ini, "auth_type");
  if (authType === SCRAM) return [];
  if (authType !== "hba") {
    return [
      {
        ref: c.copy.ref,
        message: `${copyText(c.copy)}: auth_type must be ${SCRAM} or hba, got ${c.ini.pgbouncer.auth_type ?? `nothing (PgBouncer's ${authType})`}`,
      },
    ];
  }
  const hba = hbaOf(c);
  if (!("rules" in hba)) return [hba];
  return hba.rules
    .filter((r) => r.method !== SCRAM && r.method !== "reject")
    .map((r) => ({
      ref: hba.copy.ref,
      message: `${copyText(hba.copy)}: line ${r.line} (${r.text}) must use ${SCRAM} or reject, got ${r.method}`,
    }));
}

export function checkScram(facts: Facts): Finding[] {
  const findings: Finding[] = [];
  for (const c of iniCopies(facts)) findings.push(...pgbouncerAuth(c));
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
