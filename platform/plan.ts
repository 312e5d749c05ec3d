import { DEFAULTS } from "./defaults.js";
import { ConfigError } from "./errors.js";
import { cpuPlan, cpuProblems, type CpuPlan } from "./cpu.js";
import { defaultMaxConnections, ec2Vcpus } from "./instance-classes.js";
import { budgetProblems, nodeBudgets, type NodeBudget } from "./budget.js";
import type { StackConfig } from "./schema.js";
import {
  appPools,
  choosePoolMode,
  sizeEntry,
  spreadBound,
  survivingHosts,
  type AppPools,
  type PoolMode,
} from "./sizing.js";
import { knows, parseVersion, type Version } from "./capabilities.js";
import { PRIMARY_NODE, REPLICA_NODE_PATTERN, replicaNodeName, replicaNodeNames } from "./nodes.js";
import type { EntryRole, PoolEntry } from "./pool-entry.js";

/**
 * The Plan: everything derived from a validated StackConfig. Renderers, the local stack, the
 * client profiles, the policies and the alerts read numbers from here and nowhere else.
 */

export interface ServicePlan {
  name: string;
  priority: StackConfig["services"][string]["priority"];
  /** The rw entry's mode and reason; an ro entry may differ (PRIMARY_ONLY in platform/sizing.ts). */
  poolMode: PoolMode;
  poolModeReason: string;
  app: AppPools;
  instances: number;
  maxReplicaLagSeconds: number;
  /** rw first, then the ro entries in replica order (replica1, replica2, …). */
  entries: PoolEntry[];
  /**
   * The role's CONNECTION LIMIT. It is one catalog value replicated to every node. A node sees at
   * most hosts × processes × (the rw entry's max_db_connections + one ro entry's): the rw entry
   * on the primary, an ro entry on its replica, and both on a replica promoted by a failover
   * (the primary's name moves to it while its own ro entry still points at it). A limit of only
   * the larger one refuses the promoted node's logins (53300), which PgBouncer then answers with
   * its login-retry lockout. Each of those entries also gets DEFAULTS.roleLoginOverlapPerEntry per
   * process, for a replacement login that arrives before the backend it replaces has exited.
   */
  roleConnectionLimit: number;
}

export interface HostPlan {
  /** `pgbouncer-1` … */
  name: string;
  index: number;
  /**
   * PgBouncer processes on the host (so_reuseport + [peers]). The numbers below are per process:
   * client slots are not divided, because while one process restarts the others take all of
   * its clients.
   */
  processes: number;
  /**
   * Clients this host holds at peak with one host lost: Σ over entries, so the ro clients count
   * once per replica, since an app instance may hold its full ro pool to each replica's entry.
   */
  clientsAtPeak: number;
  /** clientsAtPeak + connections kept for admin, exporters and operators. */
  maxClientConn: number;
  /** Server connections this host may open: Σ max_db_connections. */
  maxServerConnections: number;
  /** LimitNOFILE: one descriptor per client and server socket, plus slack. */
  openFilesLimit: number;
}

export interface Plan {
  environment: StackConfig["environment"];
  config: StackConfig;
  pgbouncerVersion: Version;
  maxConnections: number;
  services: ServicePlan[];
  /** All entries of all services, sorted by name: the [databases] section. */
  entries: PoolEntry[];
  hosts: HostPlan[];
  budget: NodeBudget[];
  totalPeakClients: number;
  /** PgBouncer's CPU at peak with one host lost: what the busiest process carries and may carry. */
  cpu: CpuPlan;
  notes: string[];
}

/** The ro entry of `service` on replica `replicaIndex` (0-based): `orders_ro_replica1`. */
export const roEntryName = (service: string, replicaIndex: number) =>
  `${service}_ro_${replicaNodeName(replicaIndex)}`;

/**
 * A regular expression (RE2) matching every entry of `service`, whatever the number of replicas:
 * `orders(_ro_replica[1-9][0-9]*)?`. `service` may be a dashboard variable (`$service`).
 */
export const serviceEntriesPattern = (service: string) =>
  `${service}(_ro_${REPLICA_NODE_PATTERN})?`;

/**
 * A service's entries: rw on the primary and, when it reads from replicas, one ro entry per
 * replica. Each replica's entry is sized for ALL reads (the full ro rate and clients): when a
 * replica is lost the library sends every read to the others, so one may carry them alone.
 */
function serviceEntries(
  config: StackConfig,
  service: string,
  tracksPrepared: boolean,
  app: AppPools,
): PoolEntry[] {
  const s = config.services[service]!;
  const { hosts, processesPerHost } = config.pgbouncer;
  const entry = (
    role: EntryRole,
    node: string,
    name: string,
    tps: number,
    perInstance: number,
  ): PoolEntry => {
    const clients = perInstance * s.instances;
    const target = role === "rw" ? "primary" : "replica";
    const { mode, reason } = choosePoolMode(s.sessionFeatures, tracksPrepared, target);
    const load = {
      mode,
      clients,
      tps,
      transactionMs: s.transactionMs,
      priority: s.priority,
      retryingInstances: role === "rw" ? s.instances : 0,
    };
    return {
      name,
      service,
      role,
      dbname: service,
      node,
      target,
      poolMode: mode,
      poolModeReason: reason,
      clients,
      ...sizeEntry(load, hosts, processesPerHost),
    };
  };
  const rw = entry("rw", PRIMARY_NODE, service, s.peakTps * (1 - s.readShare), app.rwPoolMax);
  if (app.roPoolMax === 0) return [rw];
  const readTps = s.peakTps * s.readShare;
  const ro = replicaNodeNames(config.database.replicas).map((node, i) =>
    entry("ro", node, roEntryName(service, i), readTps, app.roPoolMax),
  );
  return [rw, ...ro];
}

/** See ServicePlan.roleConnectionLimit. */
function roleConnectionLimit(entries: readonly PoolEntry[], processes: number): number {
  const [rw, ...ro] = entries;
  const perProcess = (e: PoolEntry | undefined) =>
    e ? e.maxDbConnections + DEFAULTS.roleLoginOverlapPerEntry : 0;
  const largestRo = ro.reduce<PoolEntry | undefined>(
    (a, e) => (!a || e.maxDbConnections > a.maxDbConnections ? e : a),
    undefined,
  );
  return processes * (perProcess(rw) + perProcess(largestRo));
}

export interface PlanOptions {
  /**
   * Refuse a plan whose pools overrun a node's connection budget. Off only for tools that report
   * the overrun themselves (`npm run check`): the plan's `budget` then has nodes with free < 0.
   * @default true
   */
  enforceBudget?: boolean;
}

/** StackConfig → Plan, or a ConfigError listing each node's overrun with every service's share. */
export function buildPlan(config: StackConfig, options: PlanOptions = {}): Plan {
  const version = parseVersion(config.pgbouncer.version);
  const services = servicePlans(config, version);
  const entries = services.flatMap((s) => s.entries).sort((a, b) => a.name.localeCompare(b.name));
  const hosts = hostPlans(config, entries);
  const maxConnections =
    config.database.maxConnections ?? defaultMaxConnections(config.database.instanceClass)!;
  const budget = nodeBudgets(config, maxConnections, entries);
  const cpu = cpuPlan(config);
  refuseOverruns(config, options, budget, maxConnections, cpu);
  return {
    environment: config.environment,
    config,
    pgbouncerVersion: version,
    maxConnections,
    services,
    entries,
    hosts,
    budget,
    totalPeakClients: Object.values(config.services).reduce((sum, s) => sum + s.peakClients, 0),
    cpu,
    notes: planNotes(config),
  };
}

/**
 * Each service's plan, sorted by name: its app pools, its entries (whether PgBouncer tracks
 * prepared statements decides the pool mode some need), and its role's connection limit over
 * every PgBouncer process.
 */
function servicePlans(config: StackConfig, version: Version): ServicePlan[] {
  const allProcesses = config.pgbouncer.hosts * config.pgbouncer.processesPerHost;
  const tracksPrepared = knows(version, "pgbouncer", "max_prepared_statements");
  return Object.keys(config.services)
    .sort()
    .map((name): ServicePlan => {
      const s = config.services[name]!;
      const app = appPools(s);
      const entries = serviceEntries(config, name, tracksPrepared, app);
      return {
        name,
        priority: s.priority,
        poolMode: entries[0]!.poolMode,
        poolModeReason: entries[0]!.poolModeReason,
        app,
        instances: s.instances,
        maxReplicaLagSeconds: s.maxReplicaLagSeconds,
        entries,
        roleConnectionLimit: roleConnectionLimit(entries, allProcesses),
      };
    });
}

/**
 * The PgBouncer hosts, all alike: sized for the clients the busiest one holds with one host
 * lost, the server connections every entry may open, and the file descriptors both take.
 */
function hostPlans(config: StackConfig, entries: readonly PoolEntry[]): HostPlan[] {
  const hosts = config.pgbouncer.hosts;
  // The balancer's hash spreads connections, not each host's share: with one host lost, the
  // busiest survivor holds up to the binomial bound of all the clients, not the average.
  const clientsAtPeak = spreadBound(
    entries.reduce((sum, e) => sum + e.clients, 0),
    survivingHosts(hosts),
    DEFAULTS.sessionSpreadTail,
  );
  const maxClientConn = clientsAtPeak + DEFAULTS.adminClientConnections;
  const maxServerConnections = entries.reduce((sum, e) => sum + e.maxDbConnections, 0);
  return Array.from({ length: hosts }, (_, i) => ({
    name: `pgbouncer-${i + 1}`,
    index: i,
    processes: config.pgbouncer.processesPerHost,
    clientsAtPeak,
    maxClientConn,
    maxServerConnections,
    // Rounded up to whole 1024s: LimitNOFILE only changes on a restart, so a small plan change
    // should not force one.
    openFilesLimit:
      Math.ceil((maxClientConn + maxServerConnections + DEFAULTS.openFilesSlack) / 1024) * 1024,
  }));
}

/**
 * Throws one ConfigError for every node whose pools overrun its connection budget (unless the
 * caller reports overruns itself) and for PgBouncer processes short of CPU, all at once.
 */
function refuseOverruns(
  config: StackConfig,
  options: PlanOptions,
  budget: NodeBudget[],
  maxConnections: number,
  cpu: CpuPlan,
): void {
  const problems = [
    ...(options.enforceBudget === false ? [] : budgetProblems(budget, maxConnections)),
    ...cpuProblems(config, cpu, ec2Vcpus(config.pgbouncer.instanceType)),
  ];
  if (problems.length > 0) throw new ConfigError(problems, "plan");
}

/** What the plan allows but the reader should know: a single host or replica has no spare. */
function planNotes(config: StackConfig): string[] {
  const notes: string[] = [];
  if (config.pgbouncer.hosts === 1)
    notes.push("one PgBouncer host: losing it stops every service (no host-loss margin)");
  if (config.database.replicas === 1)
    notes.push(
      "one replica: losing it leaves the reads no other replica to move to until it is back",
    );
  return notes;
}
