import { loadStack } from "../../../platform/config.js";
import { buildPlan } from "../../../platform/plan.js";
import { type PoolEntry } from "../../../platform/pool-entry.js";
import type { ErrorCount, PoolSample, RunRecord, ThroughputSample } from "../types.js";

/**
 * A realistic drill record for the report tests: the local stack's own services, pool entries and
 * PgBouncer hosts (from its plan, so names are never retyped), 60 one-second ticks, the primary
 * killed at t=20 and serving again at t=28. Numbers follow smooth formulas instead of a random
 * generator, so every call returns the same record.
 */
export const FIXTURE_TICKS = 60;
export const FIXTURE_FAULT_AT = 20;
export const FIXTURE_HEALED_AT = 28;
export const FIXTURE_ERRORS: readonly Omit<ErrorCount, "firstAt">[] = [
  {
    service: "orders",
    code: "57P01",
    message: "terminating connection due to administrator command",
    count: 31,
  },
  { service: "payments", code: "08006", message: "connection failure during failover", count: 9 },
  { service: "identity", code: "TimeoutError", message: "query_wait_timeout", count: 4 },
];

const plan = buildPlan(loadStack("local"));
/**
 * Clients a run puts on an entry: the rw entry's own; a service's reads spread over its replicas'
 * entries (each is sized for all of them, but a read goes to one replica).
 */
const runClients = (e: PoolEntry) =>
  e.role === "ro" ? Math.ceil(e.clients / plan.config.database.replicas) : e.clients;
/** Clients of every entry: the per-entry split, which the service rows add up to. */
const clientsOfAllEntries = plan.entries.reduce((sum, e) => sum + runClients(e), 0);
const SHAPES = ["insert+update", "point read", "long read"] as const;

const duringFault = (t: number) => t >= FIXTURE_FAULT_AT && t < FIXTURE_HEALED_AT;
/** A deterministic wobble in [−1, 1], different per series. */
const wobble = (t: number, seed: number) => Math.sin(t * 0.7 + seed * 1.3);

export function syntheticRunRecord(): RunRecord {
  const totalErrors = FIXTURE_ERRORS.reduce((sum, e) => sum + e.count, 0);
  const faultTicks = FIXTURE_HEALED_AT - FIXTURE_FAULT_AT;
  const throughput: ThroughputSample[] = [];
  for (let t = 1; t <= FIXTURE_TICKS; t++) {
    const fault = duringFault(t);
    // Spread the error total over the fault ticks, the remainder on the first tick.
    const errors = fault
      ? Math.floor(totalErrors / faultTicks) +
        (t === FIXTURE_FAULT_AT ? totalErrors % faultTicks : 0)
      : 0;
    const p50Ms = fault ? 40 + 5 * wobble(t, 1) : 2.1 + 0.3 * wobble(t, 1);
    throughput.push({
      t,
      tps: fault ? 310 + 40 * wobble(t, 0) : 2400 + 120 * wobble(t, 0),
      p50Ms,
      p95Ms: p50Ms * 3.5,
      p99Ms: fault ? 1900 + 80 * wobble(t, 2) : p50Ms * 7,
      errors,
      clientsWaiting: fault
        ? 640 + Math.round(60 * wobble(t, 3))
        : Math.round(3 + 3 * wobble(t, 3)),
      clientsConnected: clientsOfAllEntries,
      connectionsLost: 0,
    });
  }

  const pools: PoolSample[] = [];
  for (let t = 1; t <= FIXTURE_TICKS; t++)
    for (const host of plan.hosts)
      for (const [i, entry] of plan.entries.entries()) {
        const stalled = duringFault(t) && entry.role === "rw";
        const svActive = stalled
          ? 0
          : Math.max(1, Math.round(entry.poolSize * (0.6 + 0.3 * wobble(t, i))));
        pools.push({
          t,
          host: host.name,
          pool: entry.name,
          clActive: Math.ceil(runClients(entry) / plan.hosts.length),
          clWaiting: stalled ? 20 + i : Math.max(0, Math.round(wobble(t, i + host.index))),
          svActive,
          svIdle: Math.max(0, entry.poolSize - svActive),
          maxWaitMs: stalled ? 1000 * (t - FIXTURE_FAULT_AT + 1) : 0,
        });
      }

  const memory = [];
  for (let t = 5; t <= FIXTURE_TICKS; t += 5)
    for (const [i, process] of ["harness", ...plan.hosts.map((h) => h.name)].entries())
      memory.push({ t, process, rssMiB: (i === 0 ? 180 : 12) + t * 0.05 * (i + 1) });

  const services = plan.services.map((s, i) => {
    const clients = s.entries.reduce((sum, e) => sum + runClients(e), 0);
    const tps = 2400 / plan.services.length + 10 * i;
    return {
      service: s.name,
      shape: SHAPES[i % SHAPES.length]!,
      clients,
      transactions: Math.round(tps * FIXTURE_TICKS),
      tps,
      p50Ms: 2 + i * 0.25,
      p95Ms: 7 + i,
      p99Ms: 15 + i * 3,
      errors: FIXTURE_ERRORS.filter((e) => e.service === s.name).reduce((n, e) => n + e.count, 0),
    };
  });

  const recoverySeconds = FIXTURE_HEALED_AT - FIXTURE_FAULT_AT;
  return {
    meta: {
      command: "npm run loadtest -- --drill primary-failover --duration 60s",
      startedAt: "2025-11-27T06:41:09.512Z",
      machine: { cpus: 8, cpuModel: "AMD EPYC 7B13", memoryGiB: 31.3, node: "v22.23.3" },
      pgbouncerVersion: plan.pgbouncerVersion.join("."),
      postgresVersion: "17.6",
      mode: "pooled",
      clients: clientsOfAllEntries,
      durationSeconds: FIXTURE_TICKS,
      services: plan.services.map((s) => s.name),
    },
    throughput,
    pools,
    memory,
    errors: FIXTURE_ERRORS.map((e, i) => ({ ...e, firstAt: FIXTURE_FAULT_AT + i * 0.5 })),
    services,
    comparisons: [
      {
        name: "pooled vs direct throughput",
        numerator: { label: "pooled tps", value: 2412 },
        denominator: { label: "direct tps", value: 1608 },
        ratio: 2412 / 1608,
        goal: 1.2,
        unit: "×",
      },
      {
        name: "harness vs pgbench",
        numerator: { label: "harness tps", value: 2412 },
        denominator: { label: "pgbench tps", value: 3400 },
        ratio: 2412 / 3400,
        goal: 0.8,
        unit: "×",
      },
      {
        name: "p99 latency pooled vs direct",
        numerator: { label: "pooled p99 ms", value: 14.7 },
        denominator: { label: "direct p99 ms", value: 21 },
        ratio: 14.7 / 21,
        unit: "×",
      },
    ],
    drill: {
      name: "primary-failover",
      description: "kill -9 the primary at t=20; promote replica-1; PgBouncer reconnects",
      faultAt: FIXTURE_FAULT_AT,
      healedAt: FIXTURE_HEALED_AT,
      slos: [
        {
          name: "caller-visible errors",
          measured: totalErrors,
          limit: 100,
          comparison: "atMost",
          unit: "errors",
          pass: true,
        },
        {
          name: "time to recover",
          measured: recoverySeconds,
          limit: 30,
          comparison: "atMost",
          unit: "s",
          pass: true,
        },
        {
          name: "acknowledged writes present",
          measured: 100,
          limit: 100,
          comparison: "atLeast",
          unit: "%",
          pass: true,
        },
        {
          name: "duplicates",
          measured: 0,
          limit: 0,
          comparison: "atMost",
          unit: "rows",
          pass: true,
        },
      ],
      pass: true,
    },
    notes: [
      "retry budget capped at 10 % of each service's pool share",
      "pgbouncer-2 restarted once by systemd during the drill",
    ],
  };
}
