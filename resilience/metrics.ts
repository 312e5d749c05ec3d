import { Counter, Gauge, Registry } from "prom-client";

/**
 * The library's metrics. Names live here and nowhere else: dashboards and alerts (monitoring/)
 * import them. Labels: `service`, `target` (`primary`, or the ro entry), `class`/`reason`.
 */
export const METRIC_NAMES = {
  attempts: "pgpooling_client_attempts_total",
  retries: "pgpooling_client_retries_total",
  breakerState: "pgpooling_client_breaker_state",
  bulkheadQueued: "pgpooling_client_bulkhead_queued",
  bulkheadRejections: "pgpooling_client_bulkhead_rejections_total",
  reads: "pgpooling_client_reads_total",
  fallbacks: "pgpooling_client_fallbacks_total",
  replicaLag: "pgpooling_client_replica_lag_seconds",
} as const;

/** 0 closed, 1 open, 2 half-open: a gauge an alert can compare. */
export const BREAKER_STATE_VALUE = { closed: 0, open: 1, "half-open": 2 } as const;

/** A label set counted on every call: a plain number, added to its counter when it is read. */
export interface HotCount {
  inc(): void;
}

/**
 * prom-client hashes and validates the labels on every inc(), which costs more than the rest of
 * a call's bookkeeping; a counter bumped per statement keeps a number instead and hands it over
 * when a scrape (or a test) reads the counter.
 */
class HotCounts {
  private readonly counts: { labels: Record<string, string>; n: number }[] = [];
  counter?: Counter<string>;

  bind(labels: Record<string, string>): HotCount {
    const count = { labels, n: 0 };
    this.counts.push(count);
    this.counter!.inc(labels, 0); // the series exists at 0 before the first call
    return { inc: () => void count.n++ };
  }

  flush(): void {
    for (const count of this.counts)
      if (count.n > 0) {
        this.counter!.inc(count.labels, count.n);
        count.n = 0;
      }
  }
}

function hotCounter(config: ConstructorParameters<typeof Counter<string>>[0]) {
  const hot = new HotCounts();
  const counter = new Counter({ ...config, collect: () => hot.flush() });
  hot.counter = counter;
  return Object.assign(counter, { hot: (labels: Record<string, string>) => hot.bind(labels) });
}

export function createMetrics(registry: Registry = new Registry()) {
  const registers = [registry];
  return {
    registry,
    attempts: hotCounter({
      name: METRIC_NAMES.attempts,
      help: "Statement attempts by outcome class",
      labelNames: ["service", "target", "outcome"],
      registers,
    }),
    retries: new Counter({
      name: METRIC_NAMES.retries,
      help: "Retries by error class",
      labelNames: ["service", "class", "reason"],
      registers,
    }),
    breakerState: new Gauge({
      name: METRIC_NAMES.breakerState,
      help: "Circuit breaker state per target (0 closed, 1 open, 2 half-open)",
      labelNames: ["service", "target"],
      registers,
    }),
    bulkheadQueued: new Gauge({
      name: METRIC_NAMES.bulkheadQueued,
      help: "Callers waiting for a connection per target",
      labelNames: ["service", "target"],
      registers,
    }),
    bulkheadRejections: new Counter({
      name: METRIC_NAMES.bulkheadRejections,
      help: "Calls rejected because the target's pool and queue were full",
      labelNames: ["service", "target"],
      registers,
    }),
    reads: hotCounter({
      name: METRIC_NAMES.reads,
      help: "Reads by the target that served them",
      labelNames: ["service", "target"],
      registers,
    }),
    fallbacks: new Counter({
      name: METRIC_NAMES.fallbacks,
      help: "Fallbacks used while the database was unavailable",
      labelNames: ["service", "operation"],
      registers,
    }),
    replicaLag: new Gauge({
      name: METRIC_NAMES.replicaLag,
      help: "Replica lag last measured per ro target",
      labelNames: ["service", "target"],
      registers,
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

/**
 * Several instances' metrics as one exposition, the way one scrape target serves a process that
 * runs several databases (the load harness's worker threads): counters and queue depths add up,
 * a breaker state or a lag is the worst of them.
 */
export async function mergedExposition(registries: readonly Registry[]): Promise<string> {
  const worst = new Set<string>([METRIC_NAMES.breakerState, METRIC_NAMES.replicaLag]);
  const families = new Map<string, { help: string; type: string; values: Map<string, number> }>();
  for (const r of registries) {
    for (const m of await r.getMetricsAsJSON()) {
      const f = families.get(m.name) ?? {
        help: m.help,
        type: String(m.type),
        values: new Map<string, number>(),
      };
      families.set(m.name, f);
      for (const v of m.values) {
        const labels = Object.entries(v.labels)
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([k, val]) => `${k}="${String(val).replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`)
          .join(",");
        const before = f.values.get(labels);
        f.values.set(
          labels,
          before === undefined
            ? v.value
            : worst.has(m.name)
              ? Math.max(before, v.value)
              : before + v.value,
        );
      }
    }
  }
  const out: string[] = [];
  for (const [name, f] of [...families].sort(([a], [b]) => a.localeCompare(b))) {
    out.push(`# HELP ${name} ${f.help}`, `# TYPE ${name} ${f.type}`);
    for (const [labels, value] of [...f.values].sort(([a], [b]) => a.localeCompare(b)))
      out.push(`${name}${labels ? `{${labels}}` : ""} ${value}`);
  }
  return out.join("\n") + "\n";
}
