import type { Plan } from "../platform/plan.js";
import type { FileTarget } from "./file-target.js";
import { forcedSettings } from "./ini.js";
import { PRODUCTION_LAYOUT } from "./layout.js";
import { absolutePath } from "./sanitize.js";

/**
 * The certificate the fleet's CA issued for the endpoint, and its key
 * (components/pgbouncer-tls.ts), at the paths pgbouncer.ini names (client_tls_cert_file,
 * client_tls_key_file under tls.certDir). Never in user-data (secret-files.ts WITHHELD_FILES):
 * the first boot and every revision fetch them from Parameter Store, where the key is a
 * SecureString. None when PgBouncer offers clients no TLS.
 */
export const TLS_FILES = ["pgbouncer.crt", "pgbouncer.key"] as const;
export type TlsFileName = (typeof TLS_FILES)[number];

export function tlsFileTargets(plan: Plan): Record<TlsFileName, FileTarget> | undefined {
  const forced = forcedSettings(plan, plan.hosts[0]!, PRODUCTION_LAYOUT);
  const cert = forced.client_tls_cert_file;
  const key = forced.client_tls_key_file;
  if (typeof cert !== "string" || typeof key !== "string") return undefined;
  const owner = PRODUCTION_LAYOUT.user;
  return {
    "pgbouncer.crt": { path: absolutePath("tls.certDir", cert), mode: "0644", owner },
    "pgbouncer.key": { path: absolutePath("tls.certDir", key), mode: "0600", owner },
  };
}
