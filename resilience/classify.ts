/**
 * What a database error means for a retry. Pure and table-tested: the retry, breaker and routing
 * decisions all read this one function.
 *
 * - `retry-safe`: the statement never ran (connect refused, pooler queue timeout, server starting).
 *   Any call may be retried.
 * - `outcome-unknown`: the statement may or may not have run (connection lost mid-query). Only
 *   reads and work the caller marked idempotent may be retried.
 * - `retry-transaction`: the server rolled the transaction back (serialization failure, deadlock).
 *   Running the whole transaction again is the intended recovery.
 * - `permanent`: retrying cannot help (bad SQL, constraint violation, wrong password).
 */
export type ErrorClass = "retry-safe" | "outcome-unknown" | "retry-transaction" | "permanent";

/** `connect`: while getting a connection; `query`: after the statement was sent. */
export type Phase = "connect" | "query";

export interface Classification {
  class: ErrorClass;
  /** Short name of the cause, for metrics labels and logs. */
  reason: string;
  /** The statement reached a read-only server: run it on the primary instead. */
  reroute?: "primary";
}

interface PgLikeError {
  code?: string;
  message?: string;
}

/** PgBouncer's own errors arrive as SQLSTATE 08P01 with these messages. */
const PGBOUNCER_MESSAGES: [RegExp, ErrorClass, string][] = [
  [/query_wait_timeout/, "retry-safe", "pooler-wait-timeout"],
  [/no more connections allowed/, "retry-safe", "pooler-max-client-conn"],
  [/server login has been failing/, "retry-safe", "pooler-server-login-failing"],
  [/pooler is shutting down/, "retry-safe", "pooler-shutting-down"],
  // SIGINT / SHUTDOWN WAIT_FOR_SERVERS: a client that needs a server is turned away before
  // anything of its query reaches one (janitor.c, objects.c pause_client).
  [/server shutting down/, "retry-safe", "pooler-server-shutting-down"],
  [/client_idle_timeout|client_login_timeout/, "retry-safe", "pooler-client-timeout"],
  [/server conn crashed/, "outcome-unknown", "pooler-server-crashed"],
  [/idle transaction timeout/, "outcome-unknown", "pooler-idle-transaction-timeout"],
  [/query_timeout/, "outcome-unknown", "pooler-query-timeout"],
  [/(SASL|password) authentication failed|no such user|not allowed/, "permanent", "pooler-auth"],
  // Limits and resources of the pooler at login (client.c): another try may find room.
  [/client connections exceeded/, "retry-safe", "pooler-client-limit"],
  [
    /bouncer resources exhaustion|no memory for pool|out of memory/,
    "retry-safe",
    "pooler-resources",
  ],
  // Refusals by configuration: a database PgBouncer does not have, or one disabled (DISABLE).
  [/no such database/, "permanent", "pooler-no-such-database"],
  [/login rejected|is disabled|bouncer config error/, "permanent", "pooler-refused"],
  // client_tls_sslmode = require, and the client came without TLS.
  [/SSL required/, "permanent", "pooler-tls-required"],
];

/**
 * Node's certificate verification failures (OpenSSL's names) and TLS offered by neither side:
 * configuration, not a passing fault, so no retry and no breaker.
 */
const TLS_CODES = new Set([
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "CERT_SIGNATURE_FAILURE",
  "CERT_UNTRUSTED",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);
/** What node-postgres says when it asked for TLS and the server offers none. */
const NO_TLS = /does not support SSL connections/;

/** Is this a TLS failure (a certificate that did not verify, or no TLS offered)? */
export function isTlsFailure(error: unknown): boolean {
  const e = (typeof error === "object" && error !== null ? error : {}) as PgLikeError;
  return TLS_CODES.has(e.code ?? "") || NO_TLS.test(e.message ?? "");
}

/** Node socket errors: before the statement was sent they are safe, after it they are not. */
const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
]);

/**
 * node-postgres's and pg-pool's own words for a connection that is gone or never came: "Connection
 * terminated unexpectedly", "Connection terminated due to connection timeout" (pg), "timeout
 * exceeded when trying to connect" (pg-pool: no pooled connection came free in time).
 */
const CONNECTION_LOST =
  /Connection terminated|connection terminated|Client has encountered a connection error|Connection ended/;
const POOL_CONNECT_TIMEOUT = /timeout exceeded when trying to connect/;

export function classifyError(error: unknown, phase: Phase): Classification {
  const e = (typeof error === "object" && error !== null ? error : {}) as PgLikeError;
  const code = e.code ?? "";
  const message = e.message ?? String(error);
  const lost = (reason: string): Classification =>
    phase === "connect" ? { class: "retry-safe", reason } : { class: "outcome-unknown", reason };

  if (code === "08P01") {
    for (const [pattern, cls, reason] of PGBOUNCER_MESSAGES) {
      if (pattern.test(message)) return { class: cls, reason };
    }
    // An error this table does not know: mid-statement the connection is gone with its outcome;
    // at login it is the pooler refusing for a reason a retry is not known to fix.
    return phase === "connect"
      ? { class: "permanent", reason: "pooler-refused" }
      : { class: "outcome-unknown", reason: "protocol-violation" };
  }
  if (NETWORK_CODES.has(code)) return lost(`network-${code.toLowerCase()}`);
  if (TLS_CODES.has(code)) return { class: "permanent", reason: `tls-${code.toLowerCase()}` };
  if (NO_TLS.test(message)) return { class: "permanent", reason: "tls-not-offered" };
  switch (code) {
    case "40001":
      return { class: "retry-transaction", reason: "serialization-failure" };
    case "40P01":
      return { class: "retry-transaction", reason: "deadlock" };
    case "25006":
      return { class: "retry-safe", reason: "read-only-server", reroute: "primary" };
    case "53300":
      return { class: "retry-safe", reason: "too-many-connections" };
    case "57P03":
      return { class: "retry-safe", reason: "cannot-connect-now" };
    case "57P01":
      return lost("admin-shutdown");
    case "57P02":
      return lost("crash-shutdown");
    case "57014":
      return { class: "outcome-unknown", reason: "query-canceled" };
    case "08000":
    case "08003":
    case "08006":
    case "08007":
      return lost(`connection-exception-${code}`);
    case "08001":
    case "08004":
      return { class: "retry-safe", reason: `connection-rejected-${code}` };
    case "28P01":
    case "28000":
      return { class: "permanent", reason: "authentication" };
  }
  if (!code && POOL_CONNECT_TIMEOUT.test(message))
    return { class: "retry-safe", reason: "pool-connect-timeout" };
  if (!code && CONNECTION_LOST.test(message)) return lost("connection-lost");
  return { class: "permanent", reason: code ? `sqlstate-${code}` : "error" };
}

/** May a call of this kind be retried after this error? */
export function isRetryable(
  c: Classification,
  call: { idempotent: boolean; transaction: boolean },
): boolean {
  switch (c.class) {
    case "retry-safe":
      return true;
    case "outcome-unknown":
      return call.idempotent;
    case "retry-transaction":
      // The server rolled the work back: re-running it is the recovery, for a transaction and for
      // a single autocommit statement alike.
      return true;
    case "permanent":
      return false;
  }
}
