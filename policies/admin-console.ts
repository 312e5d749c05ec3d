import { ADMIN_DATABASE } from "../pgbouncer/hba.js";
import { iniCopies, type IniCopy } from "./host-files.js";
import { admittingRule, parseHba, type ParsedHbaRule } from "./hba.js";
import { copyText, type Finding } from "./types.js";
import type { Facts } from "./types.js";

export const HBA_FILE = "pgbouncer_hba.conf";

/** The hba file of the same host copy as an ini, parsed, or a finding saying why there is none. */
export function hbaOf(
  c: IniCopy,
):
  | { rules: ParsedHbaRule[]; copy: NonNullable<IniCopy["config"]["files"]["pgbouncer_hba.conf"]> }
  | Finding {
  const authType = c.ini.pgbouncer.auth_type;
  if (authType !== "hba") {
    return {
      ref: c.copy.ref,
      message: `${copyText(c.copy)}: auth_type must be hba (the rules that keep the admin console off the load balancer's listener), got ${authType ?? "nothing (PgBouncer's md5)"}`,
    };
  }
  const copy = c.config.files[HBA_FILE];
  if (!copy) {
    return {
      ref: c.copy.ref,
      message: `${copyText(c.copy)}: auth_type = hba needs ${HBA_FILE} in the same delivery, got none`,
    };
  }
  return { rules: parseHba(copy.text), copy };
}

const listSetting = (value: string | undefined) =>
  (value ?? "")
    .split(",")
    .map((u) => u.trim())
    .filter(Boolean);

/**
 * The admin console and the stats user over the unix socket only: every TCP login of an
 * admin_users or stats_users name to the console (IPv4 and IPv6, with TLS and without) must meet
 * a reject before any rule that lets it in, since the TCP listener is what the load balancer
 * reaches.
 */
export function checkAdminConsole(facts: Facts): Finding[] {
  const findings: Finding[] = [];
  for (const c of iniCopies(facts)) {
    const hba = hbaOf(c);
    if (!("rules" in hba)) {
      findings.push(hba);
      continue;
    }
    const users = [
      ...new Set([
        ...listSetting(c.ini.pgbouncer.admin_users),
        ...listSetting(c.ini.pgbouncer.stats_users),
      ]),
    ];
    for (const user of users) {
      for (const family of [4, 6] as const) {
        for (const tls of [true, false]) {
          const rule = admittingRule(hba.rules, { family, tls, database: ADMIN_DATABASE, user });
          if (!rule) continue;
          findings.push({
            ref: hba.copy.ref,
            message: `${copyText(hba.copy)}: ${user} over TCP (IPv${family}, ${tls ? "TLS" : "no TLS"}) to the admin console must be refused (the load balancer reaches TCP), got line ${rule.line} (${rule.text})`,
          });
        }
      }
    }
  }
  return findings;
}
