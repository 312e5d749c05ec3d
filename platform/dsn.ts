import type { StackConfig } from "./schema.js";

/**
 * What a client asks of PgBouncer: whenever PgBouncer offers TLS, verify-full, so the client
 * checks PgBouncer's certificate against the fleet's CA and the name it connected to. Not
 * `require`: libpq's require does not verify, and node-postgres reads require as verify-full
 * without a CA to verify against, so the one word means two things to two clients.
 */
export type ClientSslMode = "disable" | "verify-full";

export function clientSslMode(pgbouncerClientTls: StackConfig["pgbouncer"]["tls"]["client"]) {
  return (pgbouncerClientTls === "disable" ? "disable" : "verify-full") satisfies ClientSslMode;
}

/** One PgBouncer entry a service instance connects to, and its own pool for it. */
export interface ClientEndpoint {
  host: string;
  port: number;
  /** The PgBouncer entry, e.g. `orders` or `orders_ro_replica1`. */
  database: string;
  user: string;
  /** This instance's pool for this endpoint. */
  poolMax: number;
}

/**
 * How a client reaches PgBouncer over the network: TLS with PgBouncer's certificate verified
 * against the fleet's CA and the endpoint's name (verify-full), whenever PgBouncer offers TLS.
 */
export interface ClientTls {
  sslmode: ClientSslMode;
  /** The CA certificate (PEM file) that vouches for PgBouncer; absent when sslmode is disable. */
  caFile?: string;
}

/**
 * A service's connection string: its client endpoint, the password from the secret store, and
 * the TLS mode with the CA file (`sslrootcert`, read by libpq and by node-postgres alike). Built
 * only where the password is (the Pulumi program's secret outputs); profiles stay free of it.
 */
export function connectionUri(e: ClientEndpoint, password: string, tls: ClientTls): string {
  const user = encodeURIComponent(e.user);
  const db = encodeURIComponent(e.database);
  const ca = tls.caFile ? `&sslrootcert=${encodeURIComponent(tls.caFile)}` : "";
  return `postgresql://${user}:${encodeURIComponent(password)}@${e.host}:${e.port}/${db}?sslmode=${tls.sslmode}${ca}`;
}
