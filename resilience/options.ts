import { readFileSync } from "node:fs";
import type { Registry } from "prom-client";
import type { ClientProfile } from "../platform/profiles.js";
import { LAG_PROBE } from "../replicas/lag.js";
import { DEFAULTS } from "./defaults.js";

/**
 * What a service passes besides its client profile. Every field has a default; the profile (from
 * the plan) decides pool sizes, timeouts that must agree with PgBouncer's, lag tolerance and the
 * retry budget, so a service cannot configure itself out of line with the pooler.
 */
export interface ResilienceOptions {
  /** The service's password, from the secret store. Never logged. */
  password: string;
  retry?: {
    /** @default profile.retry.maxAttempts */
    maxAttempts?: number;
    /** First backoff delay; later ones grow exponentially with decorrelated jitter. @default DEFAULTS.retry.initialDelayMs */
    initialDelayMs?: number;
    /** @default DEFAULTS.retry.maxDelayMs */
    maxDelayMs?: number;
  };
  breaker?: {
    /** Consecutive failures that open a target's breaker… @default DEFAULTS.breaker.consecutiveFailures */
    consecutiveFailures?: number;
    /** …when also at least this share of the calls in the window failed. @default DEFAULTS.breaker.failureRate */
    failureRate?: number;
    /** The window that share is measured over. @default DEFAULTS.breaker.failureWindowMs */
    failureWindowMs?: number;
    /**
     * Time an open breaker waits before letting probes through: with PgBouncer's
     * server_login_retry of 0.5 s, a returning node is found within about a second. @default DEFAULTS.breaker.halfOpenAfterMs
     */
    halfOpenAfterMs?: number;
    /** Successful probes needed, while half-open, to close again. @default DEFAULTS.breaker.halfOpenProbes */
    halfOpenProbes?: number;
  };
  /** Per statement; the query is cancelled on the server when it expires. @default profile.statementTimeoutMs (from the plan) */
  statementTimeoutMs?: number;
  /** Callers that may wait for a connection per target, beyond the pool. @default max(4 × pool, 64) */
  queuePerTarget?: number;
  /** How often each replica's lag is measured. @default LAG_PROBE.intervalMs (250) */
  lagProbeIntervalMs?: number;
  /** A lag probe not answered in this long has failed. @default LAG_PROBE.timeoutMs (1000) */
  lagProbeTimeoutMs?: number;
  /**
   * How long a write whose connection died may wait for the primary to say whether it committed
   * (the primary may be restarting or failing over). @default DEFAULTS.outcomeCheckMs
   */
  outcomeCheckMs?: number;
  /** Where metrics are registered. @default a new prom-client Registry */
  registry?: Registry;
}

export interface ResolvedOptions {
  password: string;
  /** TLS as the profile says: node-postgres's `ssl` with the CA read from profile.tls.caFile. */
  tls: { ssl: false | { ca: string; rejectUnauthorized: true }; caFile?: string };
  maxAttempts: number;
  initialDelayMs: number;
  maxDelayMs: number;
  consecutiveFailures: number;
  failureRate: number;
  failureWindowMs: number;
  halfOpenAfterMs: number;
  halfOpenProbes: number;
  statementTimeoutMs: number;
  queuePerTarget?: number;
  lagProbeIntervalMs: number;
  lagProbeTimeoutMs: number;
  outcomeCheckMs: number;
  retryBudget: number;
  connectTimeoutMs: number;
  idleTimeoutMs: number;
  maxReplicaLagSeconds: number;
}

export function resolveOptions(profile: ClientProfile, o: ResilienceOptions): ResolvedOptions {
  const problems: string[] = [];
  const resolved: ResolvedOptions = {
    password: o.password,
    tls: resolveTls(profile, problems),
    maxAttempts: o.retry?.maxAttempts ?? profile.retry.maxAttempts,
    initialDelayMs: o.retry?.initialDelayMs ?? DEFAULTS.retry.initialDelayMs,
    maxDelayMs: o.retry?.maxDelayMs ?? DEFAULTS.retry.maxDelayMs,
    consecutiveFailures: o.breaker?.consecutiveFailures ?? DEFAULTS.breaker.consecutiveFailures,
    failureRate: o.breaker?.failureRate ?? DEFAULTS.breaker.failureRate,
    failureWindowMs: o.breaker?.failureWindowMs ?? DEFAULTS.breaker.failureWindowMs,
    halfOpenAfterMs: o.breaker?.halfOpenAfterMs ?? DEFAULTS.breaker.halfOpenAfterMs,
    halfOpenProbes: o.breaker?.halfOpenProbes ?? DEFAULTS.breaker.halfOpenProbes,
    statementTimeoutMs: o.statementTimeoutMs ?? profile.statementTimeoutMs,
    queuePerTarget: o.queuePerTarget,
    lagProbeIntervalMs: o.lagProbeIntervalMs ?? LAG_PROBE.intervalMs,
    lagProbeTimeoutMs: o.lagProbeTimeoutMs ?? LAG_PROBE.timeoutMs,
    outcomeCheckMs: o.outcomeCheckMs ?? DEFAULTS.outcomeCheckMs,
    retryBudget: profile.retry.maxConcurrent,
    connectTimeoutMs: profile.connectTimeoutMs,
    idleTimeoutMs: profile.idleTimeoutMs,
    maxReplicaLagSeconds: profile.maxReplicaLagSeconds,
  };
  const positive = (name: string, value: number | undefined, min = 1) => {
    if (value !== undefined && !(Number.isFinite(value) && value >= min)) {
      problems.push(`${name} must be a number ≥ ${min}, got ${value}`);
    }
  };
  positive("retry.maxAttempts", resolved.maxAttempts);
  positive("retry.initialDelayMs", resolved.initialDelayMs);
  positive("retry.maxDelayMs", resolved.maxDelayMs, resolved.initialDelayMs);
  positive("breaker.consecutiveFailures", resolved.consecutiveFailures);
  positive("breaker.failureWindowMs", resolved.failureWindowMs);
  if (!(resolved.failureRate >= 0 && resolved.failureRate <= 1)) {
    problems.push(`breaker.failureRate must be between 0 and 1, got ${resolved.failureRate}`);
  }
  positive("breaker.halfOpenAfterMs", resolved.halfOpenAfterMs);
  positive("breaker.halfOpenProbes", resolved.halfOpenProbes);
  positive("statementTimeoutMs", resolved.statementTimeoutMs);
  positive("queuePerTarget", resolved.queuePerTarget, 0);
  positive("lagProbeIntervalMs", resolved.lagProbeIntervalMs, 10);
  positive("lagProbeTimeoutMs", resolved.lagProbeTimeoutMs, 10);
  positive("outcomeCheckMs", resolved.outcomeCheckMs, 0);
  if (typeof o.password !== "string" || o.password.length === 0)
    problems.push("password is required");
  if (problems.length > 0) {
    throw new Error(
      `resilience options for ${profile.service} are invalid: ${problems.join("; ")}`,
    );
  }
  return resolved;
}

/**
 * node-postgres's `ssl` for a profile, for a connection of the service's own beside the library's
 * (a LISTEN session): the same verification, the same clear error for a bad CA file.
 */
export function tlsOptions(profile: ClientProfile): ResolvedOptions["tls"]["ssl"] {
  const problems: string[] = [];
  const tls = resolveTls(profile, problems);
  if (problems.length > 0) throw new Error(`TLS for ${profile.service}: ${problems.join("; ")}`);
  return tls.ssl;
}

/**
 * verify-full: PgBouncer's certificate must chain to the CA in profile.tls.caFile and name the host
 * connected to (node's default check), so a missing or unreadable CA file is an error here, at
 * creation, not a failing connection later.
 */
function resolveTls(profile: ClientProfile, problems: string[]): ResolvedOptions["tls"] {
  const { sslmode, caFile } = profile.tls;
  if (sslmode === "disable") return { ssl: false };
  if (sslmode !== "verify-full") {
    problems.push(`tls.sslmode must be disable or verify-full, got ${JSON.stringify(sslmode)}`);
    return { ssl: false };
  }
  if (!caFile) {
    problems.push("tls.caFile is required with sslmode verify-full, got none");
    return { ssl: false };
  }
  try {
    const ca = readFileSync(caFile, "utf8");
    if (!ca.includes("-----BEGIN CERTIFICATE-----")) {
      problems.push(`tls.caFile ${caFile} holds no PEM certificate`);
      return { ssl: false, caFile };
    }
    return { ssl: { ca, rejectUnauthorized: true }, caFile };
  } catch (e) {
    problems.push(
      `tls.caFile ${caFile} cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
    );
    return { ssl: false, caFile };
  }
}
