import { DEFAULTS } from "./defaults.js";
import type { Problem } from "./errors.js";
import { MAX_HOSTS, MAX_PROCESSES_PER_HOST, type StackConfig } from "./schema.js";
import { spreadBound, survivingHosts } from "./sizing.js";

/**
 * PgBouncer's CPU: each process is one thread, so a process carries at most one core's worth of
 * transactions, whatever the host has. The plan sizes the processes of a host from the peak with
 * one host lost, taking the busiest process (clients land on hosts by the balancer's hash and on a
 * host's processes by so_reuseport's, so each service's clients spread at random and its
 * transactions follow them).
 */
export interface CpuPlan {
  /** Statements per second one process may carry at peak (a share of one core). */
  capacityPerProcess: number;
  /** The busiest process's statements per second at peak with one host lost. */
  peakPerProcess: number;
  /** Processes per host the peak needs (at least 1); the plan runs config.pgbouncer.processesPerHost. */
  processesNeeded: number;
}

/** What one process may carry: the measured capacity of one core times the share the plan allows. */
export function capacityPerProcess(): number {
  return Math.floor(DEFAULTS.pgbouncer.statementsPerCoreSecond * DEFAULTS.pgbouncer.peakCoreShare);
}

/**
 * The busiest process's peak: per service, its statements per second times the largest share of its
 * clients one process gets (the binomial bound spreadBound gives for the session pools), summed.
 * Summing each service's worst case is an upper bound: they need not all peak on one process.
 */
export function peakPerProcess(config: StackConfig, hosts: number, processes: number): number {
  const targets = survivingHosts(hosts) * processes;
  let rate = 0;
  for (const s of Object.values(config.services)) {
    const busiest = spreadBound(s.peakClients, targets, DEFAULTS.sessionSpreadTail);
    rate += (s.peakTps * s.statementsPerTransaction * busiest) / s.peakClients;
  }
  return rate;
}

/** The processes per host, up to the schema's limit, whose busiest carries no more than its share. */
function fewestProcesses(config: StackConfig, hosts: number): number | undefined {
  const capacity = capacityPerProcess();
  for (let p = 1; p <= MAX_PROCESSES_PER_HOST; p++)
    if (peakPerProcess(config, hosts, p) <= capacity) return p;
  return undefined;
}

/** The hosts, with one process each, whose busiest process carries no more than its share. */
function fewestHosts(config: StackConfig): number | undefined {
  const capacity = capacityPerProcess();
  for (let h = 1; h <= MAX_HOSTS; h++) if (peakPerProcess(config, h, 1) <= capacity) return h;
  return undefined;
}

export function cpuPlan(config: StackConfig): CpuPlan {
  const { hosts, processesPerHost } = config.pgbouncer;
  return {
    capacityPerProcess: capacityPerProcess(),
    peakPerProcess: Math.ceil(peakPerProcess(config, hosts, processesPerHost)),
    processesNeeded: fewestProcesses(config, hosts) ?? MAX_PROCESSES_PER_HOST + 1,
  };
}

/**
 * A plan that cannot carry its peak is refused, saying what would: more processes per host while
 * the host has a core for each, else more hosts.
 */
export function cpuProblems(
  config: StackConfig,
  cpu: CpuPlan,
  vcpus: number | undefined,
): Problem[] {
  const { hosts, processesPerHost, instanceType } = config.pgbouncer;
  const problems: Problem[] = [];
  const load =
    `the busiest process would carry ${cpu.peakPerProcess} statements/s at peak with one host lost, ` +
    `over the ${cpu.capacityPerProcess} one process may (a single thread: ` +
    `${DEFAULTS.pgbouncer.peakCoreShare * 100}% of one core's ${DEFAULTS.pgbouncer.statementsPerCoreSecond})`;
  if (cpu.peakPerProcess > cpu.capacityPerProcess) {
    const needed = cpu.processesNeeded;
    const fits = needed <= MAX_PROCESSES_PER_HOST && (vcpus ?? needed) >= needed;
    if (fits) {
      problems.push({
        path: "pgbouncer.processesPerHost",
        got: String(processesPerHost),
        message: `must be ≥ ${needed}: ${load}`,
      });
    } else {
      const more = fewestHosts(config);
      problems.push({
        path: "pgbouncer.hosts",
        got: String(hosts),
        message: `must be ≥ ${more ?? `more than ${MAX_HOSTS}`} with one process per host: ${load}`,
      });
    }
  }
  if (vcpus !== undefined && processesPerHost > vcpus) {
    problems.push({
      path: "pgbouncer.processesPerHost",
      got: String(processesPerHost),
      message: `must be ≤ ${vcpus}, the vCPUs of ${instanceType}: each process needs a core of its own`,
    });
  }
  return problems;
}
