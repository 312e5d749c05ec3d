import {
  COVERAGE_METRIC,
  observationQueries,
  type TuningWindow,
} from "../monitoring/tuning-queries.js";
import { DEFAULTS } from "../platform/defaults.js";
import { ConfigError, type Problem } from "../platform/errors.js";
import type { Plan } from "../platform/plan.js";
import type { ServiceObservation } from "../platform/tuning.js";
import { UsageError } from "./args.js";

/**
 * What the tier observed, read from the Prometheus the stack scrapes into (its HTTP query API).
 * Every problem of every service is reported at once: missing series name the query, a window
 * with too few samples says how many it holds.
 */

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** `7d`, `90m`, `45s` → seconds; anything else is a usage error naming the value. */
export function parseWindow(text: string, flag = "--window"): number {
  const m = /^([1-9][0-9]*)([smhd])$/.exec(text);
  if (!m)
    throw new UsageError(`${flag} must look like 7d, 12h, 30m or 90s; got ${JSON.stringify(text)}`);
  return Number(m[1]) * UNITS[m[2]!]!;
}

/** One instant query: its single value, or undefined when it returned no series. */
export async function instantQuery(url: string, expr: string): Promise<number | undefined> {
  const endpoint = `${url.replace(/\/$/, "")}/api/v1/query?query=${encodeURIComponent(expr)}`;
  let response: Response;
  try {
    response = await fetch(endpoint, { signal: AbortSignal.timeout(10_000) });
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    const why = cause?.code ?? cause?.message ?? (e as Error).message;
    throw new UsageError(`--prometheus ${url} is unreachable (${why})`);
  }
  const body = (await response.json().catch(() => undefined)) as
    | { status: string; error?: string; data?: { result: { value: [number, string] }[] } }
    | undefined;
  if (!response.ok || body?.status !== "success") {
    throw new Error(
      `Prometheus at ${url} refused a query (HTTP ${response.status}: ${body?.error ?? "no answer"}): ${expr}`,
    );
  }
  const value = body.data?.result[0]?.value[1];
  return value === undefined ? undefined : Number(value);
}

/**
 * Every service's observation over the window, or one ConfigError listing every gap. A service
 * with no transactions of its own in the window (beyond the library's lag probes) is not an
 * error: it is returned as idle, with why, and its declarations are not judged.
 */
export async function observeServices(
  url: string,
  plan: Plan,
  window: TuningWindow,
  services: readonly string[],
): Promise<{ observed: Record<string, ServiceObservation>; idle: Record<string, string> }> {
  const problems: Problem[] = [];
  const observed: Record<string, ServiceObservation> = {};
  const idle: Record<string, string> = {};
  for (const service of plan.services.filter((s) => services.includes(s.name))) {
    const queries = observationQueries(service, window);
    const coverage = await coverageProblem(url, service.name, queries.samples);
    if (coverage) {
      problems.push(coverage);
      continue;
    }
    if (!((await instantQuery(url, queries.transactions)) ?? 0)) {
      idle[service.name] =
        "no transactions in the window beyond the library's lag probes: nothing to tune from";
      continue;
    }
    const values: Partial<ServiceObservation> = {};
    for (const [field, expr] of Object.entries(queries)) {
      if (field === "samples" || field === "transactions") continue;
      const v = await instantQuery(url, expr);
      if (v === undefined || !Number.isFinite(v))
        problems.push({
          path: `services.${service.name}.${field}`,
          got: v === undefined ? undefined : String(v),
          message: `no value from Prometheus (${expr})`,
        });
      else values[field as keyof ServiceObservation] = v;
    }
    observed[service.name] = values as ServiceObservation;
  }
  if (problems.length > 0) throw new ConfigError(problems, `observations at ${url}`);
  return { observed, idle };
}

/** Whether the window holds enough of the service's series: a problem naming what is missing. */
async function coverageProblem(
  url: string,
  service: string,
  samplesQuery: string,
): Promise<Problem | undefined> {
  const samples = await instantQuery(url, samplesQuery);
  if (samples === undefined)
    return {
      path: `services.${service}`,
      message: `has no ${COVERAGE_METRIC} series for its entries in the window (${samplesQuery})`,
    };
  if (samples < DEFAULTS.tuning.minSamples)
    return {
      path: `services.${service}`,
      got: String(samples),
      message: `has too little data: ${samples} samples of ${COVERAGE_METRIC} in the window, at least ${DEFAULTS.tuning.minSamples} needed (widen --window, or wait)`,
    };
  return undefined;
}
