import type { Plan } from "../platform/plan.js";
import { choosePoolMode } from "../platform/sizing.js";
import { iniCopies } from "./host-files.js";
import { setting } from "./ini.js";
import { copyText, type Facts, type Finding } from "./types.js";

/**
 * Each entry's pool_mode, as the host will run it (the entry's, else [pgbouncer] pool_mode, else
 * PgBouncer's `session`), against the service's declared session needs: session where a need
 * pins the server connection, transaction otherwise (the budget counts transaction pools). Whether
 * PgBouncer tracks protocol-level prepared statements is read from the same file
 * (max_prepared_statements > 0), as platform/sizing.ts decides it from the version.
 */
export function checkPoolMode(facts: Facts, plan: Plan): Finding[] {
  const findings: Finding[] = [];
  const planned = new Map(plan.entries.map((e) => [e.name, e]));
  for (const c of iniCopies(facts)) {
    const at = copyText(c.copy);
    const tracksPrepared = Number(setting(c.ini, "max_prepared_statements")) > 0;
    const found = new Map(c.entries.map((e) => [e.name, e]));
    for (const s of plan.services) {
      const features = plan.config.services[s.name]!.sessionFeatures;
      for (const p of s.entries) {
        const want = choosePoolMode(features, tracksPrepared, p.target);
        const e = found.get(p.name);
        if (!e) {
          findings.push({
            ref: c.copy.ref,
            message: `${at}: databases.${p.name} is missing, so the ${p.role} clients of ${s.name} cannot reach ${p.node}`,
          });
        } else if (e.poolMode !== want.mode) {
          const why =
            want.mode === "session"
              ? want.reason
              : `${want.reason}; session pooling holds a server connection per client, which the budget does not count`;
          findings.push({
            ref: c.copy.ref,
            message: `${at}: databases.${e.name} pool_mode must be ${want.mode} for ${s.name} (${why}), got ${e.poolMode}`,
          });
        }
      }
    }
    for (const e of c.entries) {
      if (!planned.has(e.name)) {
        findings.push({
          ref: c.copy.ref,
          message: `${at}: databases.${e.name} must be an entry of a service in the stack config (its session needs are declared nowhere), got pool_mode ${e.poolMode}`,
        });
      }
    }
  }
  return findings;
}
