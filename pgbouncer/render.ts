import { DEFAULTS } from "../platform/defaults.js";
import { hostPrivateIps } from "../platform/network.js";
import type { HostPlan, Plan } from "../platform/plan.js";
import { renderHba } from "./hba.js";
import { renderIni, type HostProcess, type PeerAddress } from "./ini.js";
import { ADMIN_USER, STATS_USER, type HostLayout, type Upstreams } from "./layout.js";
import { renderLogrotate } from "./logrotate.js";
import { renderSystemdUnit } from "./systemd.js";
import { REDACTED_VERIFIER, renderUserlist, type UserlistEntry } from "./userlist.js";

/** Every file one PgBouncer host runs on, by file name. */
export type HostFiles = Record<
  "pgbouncer.ini" | "pgbouncer_hba.conf" | "userlist.txt" | "pgbouncer.service" | "logrotate.conf",
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

/**
 * The cloud fleet's [peers]: every host at its fixed private address (platform/network.ts) on
 * PgBouncer's port, peer_id = host index + 1. Behind the load balancer a client's cancel request
 * reaches any host, which passes it on to the host that owns the cancel key. The one list the
 * hosts' files, the review render and the policies all render from.
 */
export function cloudPeers(plan: Plan): PeerAddress[] {
  const addresses = hostPrivateIps(plan.config.network, plan.hosts.length);
  const port = plan.config.pgbouncer.port;
  return plan.hosts.map((h) => ({ id: h.index + 1, host: addresses[h.index]!, port }));
}

/** A cloud host's place among its peers (one PgBouncer process per host in the cloud). */
export function cloudProcess(plan: Plan, host: HostPlan): HostProcess {
  return { id: host.index + 1, peers: cloudPeers(plan) };
}

/**
 * Every file of one host. A cloud host's ini lists the fleet's peers (cloudPeers); the local
 * stack renders one ini per process with its own peers (local/pgbouncer.ts) over this one.
 */
export function renderHostFiles(input: HostRenderInput): HostFiles {
  const { plan, host, upstreams, layout } = input;
  const process = plan.environment === "local" ? undefined : cloudProcess(plan, host);
  return {
    "pgbouncer.ini": renderIni(plan, host, upstreams, layout, process),
    "pgbouncer_hba.conf": renderHba(plan),
    "userlist.txt": renderUserlist(input.users),
    "pgbouncer.service": renderSystemdUnit(host, layout, DEFAULTS.pgbouncer.stopTimeoutSeconds),
    "logrotate.conf": renderLogrotate(layout, input.reloadCommand),
  };
}
