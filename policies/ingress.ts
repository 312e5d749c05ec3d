import { EXPORTERS, pgbouncerExporterPort } from "../platform/exporters.js";
import type { Plan } from "../platform/plan.js";
import { parseCidr } from "../platform/network.js";
import { processNumbers } from "../pgbouncer/layout.js";
import { refText, type Facts, type Finding, type PolicyConfig } from "./types.js";

/** IPv4 ranges that are not the internet: RFC 1918, shared (RFC 6598), loopback, link-local. */
const PRIVATE_V4 = [
  "10.0.0.0/8",
  "172.16.0.0/12",
  "192.168.0.0/16",
  "100.64.0.0/10",
  "127.0.0.0/8",
  "169.254.0.0/16",
].map((c) => parseCidr(c)!);

/**
 * Whether a source range reaches beyond private addresses. IPv4 through platform/network.ts's
 * parser; IPv6 is private only inside fc00::/7 (unique local) or fe80::/10 (link-local).
 */
export function isPublicRange(cidr: string): boolean {
  if (cidr.includes(":")) {
    const [addr = "", prefix = "128"] = cidr.split("/");
    const first = parseInt(addr.split(":")[0] || "0", 16);
    const ula = (first & 0xfe00) === 0xfc00 && Number(prefix) >= 7;
    const linkLocal = (first & 0xffc0) === 0xfe80 && Number(prefix) >= 10;
    return !(ula || linkLocal);
  }
  const c = parseCidr(cidr) ?? parseCidr(cidr.includes("/") ? cidr : `${cidr}/32`);
  if (!c) return true;
  return !PRIVATE_V4.some(
    (p) =>
      c.prefix >= p.prefix &&
      Math.floor(c.base / 2 ** (32 - p.prefix)) === p.base / 2 ** (32 - p.prefix),
  );
}

/** The ports no security group may open to the world, and what listens there. */
export function guardedPorts(plan: Plan, config: PolicyConfig): Map<number, string> {
  const ports = new Map<number, string>([
    [plan.config.database.port, "Postgres"],
    [plan.config.pgbouncer.port, "PgBouncer"],
  ]);
  const names = new Map<number, string>(Object.values(EXPORTERS).map((e) => [e.port, e.what]));
  // A host running several PgBouncer processes has an exporter per process, one port each.
  for (const k of processNumbers(plan.hosts[0] ?? { processes: 1 }).slice(1))
    ports.set(pgbouncerExporterPort(k), `${EXPORTERS.pgbouncer.what} of process ${k}`);
  for (const p of config.exporterPorts)
    if (!ports.has(p)) ports.set(p, names.get(p) ?? "an exporter");
  return ports;
}

/** No ingress permission admits a public range to Postgres, PgBouncer or an exporter. */
export function checkIngress(facts: Facts, plan: Plan, config: PolicyConfig): Finding[] {
  const ports = guardedPorts(plan, config);
  const findings: Finding[] = [];
  for (const rule of facts.ingress) {
    if (!["-1", "tcp", "6"].includes(rule.protocol)) continue;
    const hit = [...ports].filter(([p]) => p >= rule.fromPort && p <= rule.toPort);
    if (hit.length === 0) continue;
    for (const cidr of rule.cidrs.filter(isPublicRange)) {
      const world = /^(0\.0\.0\.0|::)\/0$/.test(cidr) ? "the internet" : "a public range";
      const range =
        rule.protocol === "-1"
          ? "all traffic"
          : rule.fromPort === rule.toPort
            ? `port ${rule.fromPort}`
            : `ports ${rule.fromPort}-${rule.toPort}`;
      findings.push({
        ref: rule.ref,
        message: `${refText(rule.ref)}: ${rule.field} must not admit ${world} to ${hit.map(([p, what]) => `${p} (${what})`).join(", ")}, got ${cidr} on ${range}`,
      });
    }
  }
  return findings;
}
