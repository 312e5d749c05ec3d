import type { ClientEndpoint } from "./profiles.js";
import type { StackConfig } from "./schema.js";

/**
 * A service's connection string: its client endpoint plus the password from the secret store.
 * Built only where the password is (the Pulumi program's secret outputs); profiles stay free of it.
 */
export type ClientSslMode = "disable" | "require";

/**
 * What a client asks of PgBouncer: TLS whenever PgBouncer offers it. `require`, not `verify-full`:
 * the hosts make their own certificate, which no client CA vouches for (docs/deploying.md).
 */
export function clientSslMode(pgbouncerClientTls: StackConfig["pgbouncer"]["tls"]["client"]) {
  return (pgbouncerClientTls === "disable" ? "disable" : "require") satisfies ClientSslMode;
}

export function connectionUri(e: ClientEndpoint, password: string, sslmode: ClientSslMode): string {
  const user = encodeURIComponent(e.user);
  const db = encodeURIComponent(e.database);
  return `postgresql://${user}:${encodeURIComponent(password)}@${e.host}:${e.port}/${db}?sslmode=${sslmode}`;
}
