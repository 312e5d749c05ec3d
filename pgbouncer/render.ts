import { DEFAULTS } from "../platform/defaults.js";
import { hostPrivateIps } from "../platform/network.js";
import type { HostPlan, Plan } from "../platform/plan.js";
import { renderHba } from "./hba.js";
import { renderIni, type HostProcess, type PeerAddress } from "./ini.js";
import {
  ADMIN_USER,
  iniName,
  peerId,
  processNumbers,
  productionLayout,
  STATS_USER,
  unitName,
  type HostLayout,
  type Upstreams,
} from "./layout.js";
import { renderLogrotate } from "./logrotate.js";
import { renderSystemdUnit } from "./systemd.js";
import { REDACTED_VERIFIER, renderUserlist, type UserlistEntry } from "./userlist.js";

/**
 * Every file one PgBouncer host runs on, by file name: the shared ones, and one ini and one unit
 * per process (`pgbouncer-k.ini`, `pgbouncer-k.service` for k > 1).
 */
export type HostFiles = Record<
  "pgbouncer.ini" | "pgbouncer_hba.conf" | "userlist.txt" | "pgbouncer.service" | "logrotate.conf",
  string
> &
  Record<string, string>;

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
  /** Process 1's layout. */
  layout: HostLayout;
  /** Process k's layout, k > 1. @default productionLayout (a cloud host) */
  processLayout?: (k: number) => HostLayout;
  /** The [peers] process k lists. @default cloudPeers; none for a local plan */
  peers?: (k: number) => readonly PeerAddress[];
  users: readonly UserlistEntry[];
  /**
   * Command logrotate runs after rotating: makes every process reopen its log (SIGHUP).
   * @default systemdReload of the host's units
   */
  reloadCommand?: string;
}

/** How a fleet's processes are reached: a host's address, and a process's socket folder. */
export interface FleetAddresses {
  /** TCP, on PgBouncer's port: so_reuseport hands a connection to any of the host's processes. */
  host: (host: HostPlan) => string;
  socket: (host: HostPlan, k: number) => string;
}

/**
 * The [peers] of a process of `self`: every process of every host. Another host's are reached
 * at its address, where its kernel hands the cancel to any of its processes and that one passes
 * it on by socket (PgBouncer forwards a cancel up to three times); the processes of `self`'s own
 * host, when it runs several, by their sockets. Without `self`, every process at its host's
 * address. The cloud fleet and the local stack render the same shape (cloudPeers, localPeers).
 */
export function fleetPeers(plan: Plan, at: FleetAddresses, self?: HostPlan): PeerAddress[] {
  const port = plan.config.pgbouncer.port;
  return plan.hosts.flatMap((h) =>
    processNumbers(h).map((k) => ({
      id: peerId(h, k),
      host: self && h.index === self.index && h.processes > 1 ? at.socket(h, k) : at.host(h),
      port,
    })),
  );
}

/** The cloud fleet's [peers]: hosts at their fixed private addresses (platform/network.ts). */
export function cloudPeers(plan: Plan, self?: HostPlan): PeerAddress[] {
  const addresses = hostPrivateIps(plan.config.network, plan.hosts.length);
  return fleetPeers(
    plan,
    { host: (h) => addresses[h.index]!, socket: (_, k) => productionLayout(k).unixSocketDir },
    self,
  );
}

/**
 * Production's logrotate postrotate: systemd reloads every PgBouncer unit of the host (it knows
 * their PIDs; ExecReload = SIGHUP: RELOAD, and the log reopened).
 */
export function systemdReload(host: HostPlan): string {
  const units = processNumbers(host).map(unitName);
  return `/bin/systemctl reload ${units.join(" ")} >/dev/null 2>&1 || true`;
}

/**
 * Every file of one host: per process, its ini (with its peer_id and the fleet's peers) and its
 * unit; shared, the hba rules, the userlist and the logrotate of every process's log.
 */
export function renderHostFiles(input: HostRenderInput): HostFiles {
  const { plan, host, upstreams, layout } = input;
  const layouts = processNumbers(host).map((k) =>
    k === 1 ? layout : (input.processLayout ?? productionLayout)(k),
  );
  const files: Record<string, string> = {
    "pgbouncer_hba.conf": renderHba(plan),
    "userlist.txt": renderUserlist(input.users),
    "logrotate.conf": renderLogrotate(
      layout,
      input.reloadCommand ?? systemdReload(host),
      layouts.slice(1).map((l) => l.logFile),
    ),
  };
  for (const [i, l] of layouts.entries()) {
    const k = i + 1;
    // The local stack's processes all run on one machine: it names its own peers (sockets).
    const peers =
      input.peers?.(k) ?? (plan.environment === "local" ? undefined : cloudPeers(plan, host));
    const process: HostProcess | undefined = peers && { id: peerId(host, k), peers };
    files[iniName(k)] = renderIni(plan, host, upstreams, l, process);
    files[unitName(k)] = renderSystemdUnit(host, l, DEFAULTS.pgbouncer.stopTimeoutSeconds, k);
  }
  return files as HostFiles;
}
