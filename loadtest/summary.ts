import type { fleet } from "./fleet.js";
import type { CallError } from "./protocol.js";
import type { ErrorCount, ServiceSummary, ThroughputSample } from "./report/types.js";
import { percentile, round } from "./stats.js";
import { workloadOf } from "./workloads.js";

/** What a run's raw measurements add up to: per-second samples, per-service totals, error groups. */

export function exactPerSecond(
  samples: ThroughputSample[],
  completions: number[],
  latencies: number[],
  errors: CallError[],
): void {
  const bySecond = new Map<number, number[]>();
  completions.forEach((t, i) => {
    const second = Math.floor(t / 1000) + 1;
    (bySecond.get(second) ?? bySecond.set(second, []).get(second)!).push(latencies[i]!);
  });
  for (const s of samples) {
    const l = (bySecond.get(s.t) ?? []).sort((a, b) => a - b);
    s.tps = l.length;
    s.p50Ms = round(percentile(l, 50));
    s.p95Ms = round(percentile(l, 95));
    s.p99Ms = round(percentile(l, 99));
    s.errors = errors.filter((e) => Math.floor(e.at / 1000) + 1 === s.t).length;
  }
}

export function summarise(
  specs: ReturnType<typeof fleet>,
  latencies: Record<string, number[]>,
  counts: Record<string, { reads: number; writes: number; errors: number }>,
  durationMs: number,
): ServiceSummary[] {
  return [...new Set(specs.map((s) => s.service))].sort().map((service) => {
    const l = (latencies[service] ?? []).sort((a, b) => a - b);
    return {
      service,
      shape: workloadOf(service).shape,
      clients: specs.filter((s) => s.service === service).reduce((n, s) => n + s.clients, 0),
      transactions: l.length,
      tps: round(l.length / (durationMs / 1000), 1),
      p50Ms: round(percentile(l, 50)),
      p95Ms: round(percentile(l, 95)),
      p99Ms: round(percentile(l, 99)),
      errors: counts[service]?.errors ?? 0,
    };
  });
}

export function countErrors(errors: CallError[]): ErrorCount[] {
  const byKey = new Map<string, ErrorCount>();
  for (const e of errors) {
    // Messages differ by role names and ids; group on the text with quoted parts and numbers out.
    const message = e.message.replace(/"[^"]*"/g, '"…"').replace(/\d+/g, "N");
    const key = `${e.service}|${e.code}|${message}`;
    const c = byKey.get(key);
    if (c) {
      c.count++;
      c.firstAt = Math.min(c.firstAt, e.at / 1000);
    } else
      byKey.set(key, { service: e.service, code: e.code, message, count: 1, firstAt: e.at / 1000 });
  }
  return [...byKey.values()].sort((a, b) => b.count - a.count);
}
