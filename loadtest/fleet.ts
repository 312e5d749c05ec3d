import type { Plan, ServicePlan } from "../platform/plan.js";
import type { ClientProfile } from "../platform/profiles.js";
import { localProfiles } from "../local/tls.js";

/**
 * The simulated fleet: the plan's service instances, scaled so their pools add up to the client
 * count asked for, spread over the PgBouncer hosts (or, with --direct, pointed at Postgres). Each
 * instance is one `createDatabase` with the service's own pool sizes, exactly what a real instance
 * of the service opens.
 */
export interface InstanceSpec {
  service: string;
  /** `orders#3`. */
  id: string;
  profile: ClientProfile;
  /** Transactions per second this instance aims at (closed loop: it never exceeds it). */
  targetTps: number;
  readShare: number;
  /**
   * Callers it runs, one per connection it uses at once: rw pool + one replica's pool. Each
   * replica endpoint has the full ro pool (sized for all reads), and a read goes to one replica.
   */
  clients: number;
}

export interface Endpoints {
  /** Pooled: the host an instance's connections go to (instances are spread round-robin). */
  pgbouncerHosts?: string[];
  /** Direct: Postgres addresses, primary and replicas. */
  postgres?: { primary: string; replicas: string[]; port: number };
}

export interface FleetOptions {
  clients: number;
  /** Share of the plan's peak rate each client aims at: the machine sets what is reachable. */
  rate: number;
  /** Only these services (all when empty). */
  services?: string[];
}

/** Services that hold a LISTEN session per instance. */
export const listens = (service: string) => service === "notifications";

/** The callers of a profile: its rw pool and one replica's pool (see InstanceSpec.clients). */
const callers = (p: ClientProfile) => p.rw.poolMax + (p.replicas[0]?.poolMax ?? 0);

export function fleet(plan: Plan, options: FleetOptions, endpoints: Endpoints): InstanceSpec[] {
  const chosen = chosenServices(plan, options);
  const perInstance = (s: ServicePlan) => s.app.rwPoolMax + s.app.roPoolMax;
  const planned = chosen.reduce((sum, s) => sum + perInstance(s) * s.instances, 0);
  const scale = options.clients / planned;
  const profiles = new Map(localProfiles(plan).map((p) => [p.service, p]));
  const specs: InstanceSpec[] = [];
  let spread = 0;
  for (const s of chosen) {
    const spec = plan.config.services[s.name]!;
    const instances = Math.max(1, Math.round(s.instances * scale));
    // Fewer clients than one instance holds: one instance with proportionally smaller pools (a
    // small direct run needs this to find Postgres's best concurrency).
    const shrink = Math.min(1, s.instances * scale);
    const ratePerClient = (spec.peakTps / spec.peakClients) * options.rate;
    for (let i = 1; i <= instances; i++) {
      const base = profiles.get(s.name)!;
      const profile = structuredClone(base);
      const shrunk = (poolMax: number) => Math.max(1, Math.round(poolMax * shrink));
      profile.rw.poolMax = shrunk(profile.rw.poolMax);
      for (const r of profile.replicas) r.poolMax = shrunk(r.poolMax);
      const clients = callers(profile);
      if (endpoints.pgbouncerHosts) {
        const host = endpoints.pgbouncerHosts[spread++ % endpoints.pgbouncerHosts.length]!;
        profile.rw.host = host;
        for (const r of profile.replicas) r.host = host;
      } else if (endpoints.postgres) pointAtPostgres(profile, s.name, endpoints.postgres);
      // A busy service keeps its pool open for the whole run (the plan's idle timeout would
      // close connections the closed loop happens not to need this second).
      profile.idleTimeoutMs = 0;
      // The LISTEN session is one of the instance's connections (session pooling gives it a server
      // connection of its own), so the pool has one fewer and the client count stays the plan's.
      if (listens(s.name) && profile.rw.poolMax > 1) profile.rw.poolMax -= 1;
      specs.push({
        service: s.name,
        id: `${s.name}#${i}`,
        profile,
        targetTps: ratePerClient * clients,
        readShare: spec.readShare,
        clients,
      });
    }
  }
  return specs;
}

/** The plan's services the run drives: all, or those --service names; an unknown name is refused. */
function chosenServices(plan: Plan, options: FleetOptions): ServicePlan[] {
  const chosen = plan.services.filter(
    (s) => !options.services?.length || options.services.includes(s.name),
  );
  const unknown = (options.services ?? []).filter((n) => !plan.services.some((s) => s.name === n));
  if (unknown.length > 0)
    throw new Error(
      `--service must name services of the plan (${plan.services.map((s) => s.name).join(", ")}), got ${unknown.join(", ")}`,
    );
  return chosen;
}

/**
 * A direct run: the instance's rw pool straight to the primary and each ro pool to a replica, on
 * the service's own database, as the PgBouncer entries would route them.
 */
function pointAtPostgres(
  profile: ClientProfile,
  service: string,
  pg: NonNullable<Endpoints["postgres"]>,
): void {
  profile.rw = { ...profile.rw, host: pg.primary, port: pg.port, database: service };
  // Replica i's endpoint goes straight to replica i, as its PgBouncer entry would.
  profile.replicas = profile.replicas.map((r, k) => ({
    ...r,
    host: pg.replicas[k % pg.replicas.length]!,
    port: pg.port,
    database: service,
  }));
}

/** Connections an instance reads through (one replica's pool, or rw when it has none). */
export const readers = (spec: InstanceSpec) =>
  spec.profile.replicas[0]?.poolMax ?? spec.profile.rw.poolMax;

/** Splits instances over worker threads, balancing client counts. */
export function partition<T extends { clients: number }>(items: T[], parts: number): T[][] {
  const out: T[][] = Array.from({ length: parts }, () => []);
  const load = new Array<number>(parts).fill(0);
  for (const item of [...items].sort((a, b) => b.clients - a.clients)) {
    const i = load.indexOf(Math.min(...load));
    out[i]!.push(item);
    load[i]! += item.clients;
  }
  return out.filter((p) => p.length > 0);
}
