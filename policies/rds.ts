import type { Plan } from "../platform/plan.js";
import { refText, type Facts, type Finding, type PolicyConfig } from "./types.js";

/**
 * Every Postgres node encrypted at rest, never publicly accessible, and in the strict
 * environments protected from deletion. A value not known here (offline, or a first preview) is
 * not judged: the pack checks it when it is.
 */
export function checkRds(facts: Facts, plan: Plan, config: PolicyConfig): Finding[] {
  const env = plan.environment;
  const strict = config.strictEnvironments.includes(env);
  const findings: Finding[] = [];
  for (const n of facts.nodes) {
    const at = refText(n.ref);
    if (n.storageEncrypted === false)
      findings.push({ ref: n.ref, message: `${at}: storageEncrypted must be true, got false` });
    if (n.publiclyAccessible === true)
      findings.push({ ref: n.ref, message: `${at}: publiclyAccessible must be false, got true` });
    if (strict && n.deletionProtection === false)
      findings.push({
        ref: n.ref,
        message: `${at}: deletionProtection must be true in ${env}, got false`,
      });
  }
  return findings;
}
