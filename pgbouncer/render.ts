import { DEFAULTS } from "../platform/defaults.js";
import type { HostPlan, Plan } from "../platform/plan.js";
import { renderIni } from "./ini.js";
import { ADMIN_USER, STATS_USER, type HostLayout, type Upstreams } from "./layout.js";
import { renderLogrotate } from "./logrotate.js";
import { renderSystemdUnit } from "./systemd.js";
import { REDACTED_VERIFIER, renderUserlist, type UserlistEntry } from "./userlist.js";

/** Every file one PgBouncer host runs on, by file name. */
export type HostFiles = Record<
  "pgbouncer.ini" | "userlist.txt" | "pgbouncer.service" | "logrotate.conf",
  string
>;

/** Accounts in the userlist: one per service, plus PgBouncer's admin and stats-only users. */
export function pgbouncerAccounts(plan: Plan): string[] {
  return [...plan.services.map((s) => s.name), ADMIN_USER, STATS_USER].sort();
}

/** Userlist entries from a verifier per account; `"redacted"` for a review render. */
export function userlistEntries(
  plan: Plan,
  verifiers: ReadonlyMap<string, string> | "redacted",
): UserlistEntry[] {
  return pgbouncerAccounts(plan).map((user) => {
    if (verifiers === "redacted") return { user, verifier: REDACTED_VERIFIER };
    const verifier = verifiers.get(user);
    if (!verifier) throw new Error(`no SCRAM verifier for account ${JSON.stringify(user)}`);
    return { user, verifier };
  });
}

export interface HostRenderInput {
  plan: Plan;
  host: HostPlan;
  upstreams: Upstreams;
  layout: HostLayout;
  users: readonly UserlistEntry[];
  /** Command logrotate runs after rotating: makes PgBouncer reopen its log (SIGHUP). */
  reloadCommand: string;
}

export function renderHostFiles(input: HostRenderInput): HostFiles {
  const { plan, host, upstreams, layout } = input;
  return {
    "pgbouncer.ini": renderIni(plan, host, upstreams, layout),
    "userlist.txt": renderUserlist(input.users),
    "pgbouncer.service": renderSystemdUnit(host, layout, DEFAULTS.pgbouncer.stopTimeoutSeconds),
    "logrotate.conf": renderLogrotate(layout, input.reloadCommand),
  };
}
