import { DEFAULTS } from "../platform/defaults.js";
import type { Plan } from "../platform/plan.js";
import { clientProfiles } from "../platform/profiles.js";
import { spreadBound, survivingHosts } from "../platform/sizing.js";
import { hostNames, iniCopies } from "./host-files.js";
import { setting } from "./ini.js";
import { copyText, type Facts, type Finding } from "./types.js";

/**
 * The clients the services will open — each instance's app-side pools (its client profile: the rw
 * pool and the full ro pool to each replica's entry) times the instances — spread over the hosts left when one is lost: that is each service's share of a
 * host's max_client_conn. Every host's real max_client_conn must hold the shares plus the
 * connections kept for admin consoles and exporters, or clients beyond it are refused at peak.
 */
export function checkClientCapacity(facts: Facts, plan: Plan): Finding[] {
  const findings: Finding[] = [];
  const hosts = hostNames(facts).length;
  if (hosts === 0) return findings;
  const survivors = survivingHosts(hosts);
  const instancesOf = (service: string) => plan.services.find((s) => s.name === service)!.instances;
  const shares = clientProfiles(plan).map((p) => {
    const instances = instancesOf(p.service);
    // One slot per connection the instance may hold: its rw pool and its full pool to each replica.
    const perInstance = p.rw.poolMax + p.replicas.reduce((sum, r) => sum + r.poolMax, 0);
    return {
      service: p.service,
      text: `${p.service} ${perInstance}×${instances}/${survivors}`,
      share: Math.ceil((perInstance * instances) / survivors),
    };
  });
  const admin = DEFAULTS.adminClientConnections;
  // The balancer spreads connections at random: the busiest survivor may get more than the
  // average, up to the binomial bound of all of them.
  const all = clientProfiles(plan).reduce((sum, p) => {
    const perInstance = p.rw.poolMax + p.replicas.reduce((n, r) => n + r.poolMax, 0);
    return sum + perInstance * instancesOf(p.service);
  }, 0);
  const busiest = spreadBound(all, survivors, DEFAULTS.sessionSpreadTail);
  const need =
    Math.max(
      shares.reduce((sum, s) => sum + s.share, 0),
      busiest,
    ) + admin;
  for (const c of iniCopies(facts)) {
    const got = Number(setting(c.ini, "max_client_conn"));
    if (got >= need) continue;
    findings.push({
      ref: c.copy.ref,
      message:
        `${copyText(c.copy)}: max_client_conn must be ≥ ${need} (app pool × instances of every service over ` +
        `${survivors} of ${hosts} hosts, ` +
        (survivors > 1
          ? `the busiest holding up to ${busiest} of all ${all} (the binomial bound, exceeded in ≤ ${DEFAULTS.sessionSpreadTail * 100} % of spreads), `
          : "") +
        `+ ${admin} for admin and exporters: ` +
        shares.map((s) => `${s.text}=${s.share}`).join(", ") +
        `), got ${c.ini.pgbouncer.max_client_conn ?? `nothing (PgBouncer's ${got})`}`,
    });
  }
  return findings;
}
