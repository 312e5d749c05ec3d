import { DEFAULTS } from "./defaults.js";
import { ConfigError } from "./errors.js";
import { defaultMaxConnections } from "./instance-classes.js";
import { budgetProblems, nodeBudgets, type NodeBudget } from "./budget.js";
import type { StackConfig } from "./schema.js";
import {
  appPools,
  choosePoolMode,
  sizeEntry,
  type AppPools,
  type EntrySizing,
  type PoolMode,
} from "./sizing.js";
import { knows, parseVersion, type Version } from "./capabilities.js";

/**
 * The Plan: everything derived from a validated StackConfig. Renderers, the local stack, the
 * client profiles and (later) policies and alerts read numbers from here and nowhere else.
 */

export type EntryRole = "rw" | "ro";

/** One [databases] entry, identical on every PgBouncer host. */
export interface PoolEntry extends EntrySizing {
  /** The name clients put in their connection string: `orders` or `orders_ro`. */
  name: string;
  service: string;
  role: EntryRole;
  /** The Postgres database the entry connects to (the service's own). */
  dbname: string;
  target: "primary" | "replicas";
  poolMode: PoolMode;
  /** Client connections to this entry, fleet-wide. */
  clients: number;
}

export interface ServicePlan {
  name: string;
  priority: StackConfig["services"][string]["priority"];
  poolMode: PoolMode;
  poolModeReason: string;
  app: AppPools;
  instances: number;
  maxReplicaLagSeconds: number;
  entries: PoolEntry[];
  /**
   * The role's CONNECTION LIMIT. It is one catalog value replicated to every node, and a node sees
   * at most hosts × one entry's max_db_connections of this role (rw on the primary, ro on a
   * replica), so the larger of the two bounds it everywhere.
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
  /** Clients this host holds at peak with one host lost. */
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
  notes: string[];
}

export const roEntryName = (service: string) => `${service}_ro`;

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
  const hosts = config.pgbouncer.hosts;
  const processes = config.pgbouncer.processesPerHost;
  const tracksPrepared = knows(version, "pgbouncer", "max_prepared_statements");
  const services = Object.keys(config.services)
    .sort()
    .map((name): ServicePlan => {
      const s = config.services[name]!;
      const { mode, reason } = choosePoolMode(s.sessionFeatures, tracksPrepared);
      const app = appPools(s);
      const entry = (role: EntryRole, tps: number, perInstance: number): PoolEntry => {
        const clients = perInstance * s.instances;
        const load = { mode, clients, tps, transactionMs: s.transactionMs, priority: s.priority };
        return {
          name: role === "rw" ? name : roEntryName(name),
          service: name,
          role,
          dbname: name,
          target: role === "rw" ? "primary" : "replicas",
          poolMode: mode,
          clients,
          ...sizeEntry(load, hosts, processes),
        };
      };
      const entries = [entry("rw", s.peakTps * (1 - s.readShare), app.rwPoolMax)];
      if (app.roPoolMax > 0) entries.push(entry("ro", s.peakTps * s.readShare, app.roPoolMax));
      return {
        name,
        priority: s.priority,
        poolMode: mode,
        poolModeReason: reason,
        app,
        instances: s.instances,
        maxReplicaLagSeconds: s.maxReplicaLagSeconds,
        entries,
        roleConnectionLimit:
          hosts * processes * Math.max(...entries.map((e) => e.maxDbConnections)),
      };
    });
  const entries = services.flatMap((s) => s.entries).sort((a, b) => a.name.localeCompare(b.name));
  const clientsAtPeak = entries.reduce((sum, e) => sum + e.clientsPerHost, 0);
  const maxClientConn = clientsAtPeak + DEFAULTS.adminClientConnections;
  const maxServerConnections = entries.reduce((sum, e) => sum + e.maxDbConnections, 0);
  const hostPlans = Array.from({ length: hosts }, (_, i) => ({
    name: `pgbouncer-${i + 1}`,
    index: i,
    processes,
    clientsAtPeak,
    maxClientConn,
    maxServerConnections,
    // Rounded up to whole 1024s: LimitNOFILE only changes on a restart, so a small plan change
    // should not force one.
    openFilesLimit:
      Math.ceil((maxClientConn + maxServerConnections + DEFAULTS.openFilesSlack) / 1024) * 1024,
  }));
  const maxConnections =
    config.database.maxConnections ?? defaultMaxConnections(config.database.instanceClass)!;
  const budget = nodeBudgets(config, maxConnections, entries);
  const problems = budgetProblems(budget, maxConnections);
  if (problems.length > 0 && options.enforceBudget !== false)
    throw new ConfigError(problems, "plan");

  const notes: string[] = [];
  if (hosts === 1)
    notes.push("one PgBouncer host: losing it stops every service (no host-loss margin)");
  if (config.database.replicas === 1)
    notes.push("one replica: losing it moves every ro entry's load nowhere until it is back");
  return {
    environment: config.environment,
    config,
    pgbouncerVersion: version,
    maxConnections,
    services,
    entries,
    hosts: hostPlans,
    budget,
    totalPeakClients: Object.values(config.services).reduce((sum, s) => sum + s.peakClients, 0),
    notes,
  };
}
