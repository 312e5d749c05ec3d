import { enforcesTls } from "../platform/schema.js";
import type { Plan } from "../platform/plan.js";
import { generatedHeader } from "./header.js";
import { ADMIN_USER, STATS_USER } from "./layout.js";

/** PgBouncer's name for its admin console database. */
export const ADMIN_DATABASE = "pgbouncer";

/** Both address families: `listen_addr = *` binds IPv4 and IPv6. */
const EVERY_ADDRESS = ["0.0.0.0/0", "::/0"] as const;

export interface HbaRule {
  type: "local" | "host" | "hostssl";
  databases: readonly string[];
  users: readonly string[];
  /** An address with its mask; none for `local`. */
  address?: string;
  method: "scram-sha-256" | "reject";
}

/**
 * Who may log in from where (auth_type = hba). The TCP listener is what the load balancer reaches,
 * so the admin console and the stats user answer on the unix socket only: the host's exporter and
 * an operator on the host get in, nothing through the NLB does. Every other login is SCRAM; over
 * TCP it must be TLS when PgBouncer requires TLS of its clients (hostssl), the same rule
 * client_tls_sslmode enforces, said twice so neither file alone opens the door. First match wins,
 * and a login no rule matches is refused.
 */
export function hbaRules(plan: Plan): HbaRule[] {
  const consoleUsers = [ADMIN_USER, STATS_USER];
  const tcp = enforcesTls(plan.config.pgbouncer.tls.client) ? "hostssl" : "host";
  const method = plan.config.pgbouncer.auth;
  return [
    { type: "local", databases: [ADMIN_DATABASE], users: consoleUsers, method },
    ...EVERY_ADDRESS.flatMap((address): HbaRule[] => [
      { type: "host", databases: ["all"], users: consoleUsers, address, method: "reject" },
      { type: "host", databases: [ADMIN_DATABASE], users: ["all"], address, method: "reject" },
    ]),
    { type: "local", databases: ["all"], users: ["all"], method },
    ...EVERY_ADDRESS.map((address): HbaRule => ({
      type: tcp,
      databases: ["all"],
      users: ["all"],
      address,
      method,
    })),
  ];
}

export function renderHba(plan: Plan): string {
  const lines = hbaRules(plan).map((r) =>
    [r.type, r.databases.join(","), r.users.join(","), ...(r.address ? [r.address] : []), r.method]
      .join(" ")
      .trimEnd(),
  );
  return (
    generatedHeader("#", "PgBouncer auth_hba_file: the admin console on the unix socket only") +
    lines.join("\n") +
    "\n"
  );
}
