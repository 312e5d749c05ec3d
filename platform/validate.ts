import type { z } from "zod";
import { ConfigError, joinPath, show, type Problem } from "./errors.js";
import { DEFAULTS } from "./defaults.js";
import { defaultMaxConnections } from "./instance-classes.js";
import { isIpv4Address, parseCidr } from "./network.js";
import { stackConfigSchema, type StackConfig } from "./schema.js";
import {
  compareVersions,
  knows,
  MULTI_HOST_VERIFY_SINCE,
  parseVersion,
  SUPPORTED_VERSIONS,
  type Version,
} from "./capabilities.js";
import { FORCED_KEYS } from "./forced-keys.js";

/**
 * Config → validated StackConfig, or one ConfigError with every problem. Shape errors come from the
 * zod schema; cross-field rules (below) run on whatever parsed, so both kinds are reported together.
 */
export function validateStackConfig(raw: unknown, source = "config"): StackConfig {
  const parsed = stackConfigSchema.safeParse(raw, { reportInput: true });
  const problems: Problem[] = parsed.success ? [] : parsed.error.issues.map(toProblem);
  if (parsed.success) problems.push(...crossFieldProblems(parsed.data));
  if (problems.length > 0) throw new ConfigError(problems, source);
  return parsed.data as StackConfig;
}

function toProblem(issue: z.core.$ZodIssue): Problem {
  const path = joinPath(issue.path);
  const got = "input" in issue && issue.input !== undefined ? show(issue.input) : undefined;
  switch (issue.code) {
    case "too_small":
      return { path, got, message: `must be ${issue.inclusive ? "≥" : ">"} ${issue.minimum}` };
    case "too_big":
      return { path, got, message: `must be ${issue.inclusive ? "≤" : "<"} ${issue.maximum}` };
    case "invalid_type":
      return got === undefined
        ? { path, message: `is required (${issue.expected})` }
        : { path, got, message: `must be ${article(issue.expected)}` };
    case "invalid_value": {
      const allowed = issue.values.map((v) => show(v)).join(" | ");
      return got === undefined
        ? { path, message: `is required (one of ${allowed})` }
        : { path, got, message: `must be one of ${allowed}` };
    }
    case "unrecognized_keys":
      return issue.keys.length === 1
        ? { path: joinPath([...issue.path, issue.keys[0]!]), message: "is not a known key" }
        : { path, message: `has unknown keys ${issue.keys.join(", ")}` };
    case "invalid_key":
      return { path, message: "is not a valid name: " + (issue.issues[0]?.message ?? "bad key") };
    default:
      return { path, got, message: issue.message };
  }
}

function article(expected: string): string {
  return expected === "int"
    ? "an integer"
    : /^[aeiou]/.test(expected)
      ? `an ${expected}`
      : `a ${expected}`;
}

/** Every cross-field rule's problems, all reported at once, in the order the rules are listed. */
function crossFieldProblems(c: StackConfig): Problem[] {
  const version = knownVersion(c.pgbouncer.version);
  return CROSS_FIELD_RULES.flatMap((rule) => rule.check(c, version));
}

/**
 * One rule across fields the schema checks one at a time: a name saying what it requires, and the
 * problems a config has with it (none: it holds). `version` is the PgBouncer release parsed,
 * undefined when it is not one this project knows (pgbouncer-version-known reports that once).
 */
interface CrossFieldRule {
  name: string;
  check(c: StackConfig, version: Version | undefined): Problem[];
}

function knownVersion(text: string): Version | undefined {
  try {
    return parseVersion(text);
  } catch {
    return undefined;
  }
}

const CROSS_FIELD_RULES: readonly CrossFieldRule[] = [
  {
    name: "pgbouncer-version-known",
    check: (c, version) =>
      version
        ? []
        : [
            {
              path: "pgbouncer.version",
              got: show(c.pgbouncer.version),
              message: `must be a release this project knows, ${SUPPORTED_VERSIONS.oldest} to ${SUPPORTED_VERSIONS.production}`,
            },
          ],
  },
  {
    name: "pgbouncer-settings-overridable",
    check: (c, version) => {
      if (!version) return [];
      const problems: Problem[] = [];
      for (const [key, value] of Object.entries(c.pgbouncer.settings)) {
        const path = `pgbouncer.settings.${key}`;
        if ((FORCED_KEYS as readonly string[]).includes(key)) {
          problems.push({
            path,
            got: show(value),
            message: "is derived by pg-pooling and cannot be overridden",
          });
        } else if (!knows(version, "pgbouncer", key)) {
          problems.push({
            path,
            got: show(value),
            message: `is not a key PgBouncer ${c.pgbouncer.version} knows`,
          });
        }
      }
      return problems;
    },
  },
  {
    name: "server-tls-verify-multi-host",
    check: (c, version) => {
      const verifies =
        c.pgbouncer.tls.server === "verify-ca" || c.pgbouncer.tls.server === "verify-full";
      const multiHost = c.database.replicas > 1;
      if (
        !version ||
        !verifies ||
        !multiHost ||
        compareVersions(version, parseVersion(MULTI_HOST_VERIFY_SINCE)) >= 0
      )
        return [];
      return [
        {
          path: "pgbouncer.tls.server",
          got: show(c.pgbouncer.tls.server),
          message: `must be require for PgBouncer ${c.pgbouncer.version}: before ${MULTI_HOST_VERIFY_SINCE} it checks an ro entry's certificates against its whole host list (${c.database.replicas} replicas), so no login succeeds`,
        },
      ];
    },
  },
  {
    name: "processes-need-peers",
    check: (c, version) =>
      version && c.pgbouncer.processesPerHost > 1 && !knows(version, "pgbouncer", "peer_id")
        ? [
            {
              path: "pgbouncer.processesPerHost",
              got: show(c.pgbouncer.processesPerHost),
              message: `must be 1 for PgBouncer ${c.pgbouncer.version}: cancel requests cross processes only with [peers] (1.19+)`,
            },
          ]
        : [],
  },
  {
    name: "max-connections-known",
    check: (c) =>
      c.database.maxConnections === undefined && !defaultMaxConnections(c.database.instanceClass)
        ? [
            {
              path: "database.maxConnections",
              message: `is required: no memory figure is known for instanceClass ${c.database.instanceClass}`,
            },
          ]
        : [],
  },
  {
    name: "nat-gateways-within-azs",
    check: (c) =>
      c.network.natGateways > c.network.azs
        ? [
            {
              path: "network.natGateways",
              got: show(c.network.natGateways),
              message: `must be ≤ network.azs (${c.network.azs}): a NAT gateway lives in one AZ's public subnet`,
            },
          ]
        : [],
  },
  {
    name: "storage-within-max",
    check: (c) =>
      c.database.maxStorageGb < c.database.storageGb
        ? [
            {
              path: "database.maxStorageGb",
              got: show(c.database.maxStorageGb),
              message: `must be ≥ database.storageGb (${c.database.storageGb})`,
            },
          ]
        : [],
  },
  {
    name: "ports-differ",
    check: (c) =>
      c.database.port === c.pgbouncer.port
        ? [
            {
              path: "pgbouncer.port",
              got: show(c.pgbouncer.port),
              message: "must differ from database.port",
            },
          ]
        : [],
  },
  {
    name: "services-fit-their-clients-and-replicas",
    check: (c) => {
      const problems: Problem[] = [];
      for (const [name, s] of Object.entries(c.services)) {
        if (s.instances > s.peakClients) {
          problems.push({
            path: `services.${name}.instances`,
            got: show(s.instances),
            message: `must be ≤ peakClients (${s.peakClients}): every instance holds at least one connection`,
          });
        }
        if (s.readShare > 0 && c.database.replicas === 0) {
          problems.push({
            path: "database.replicas",
            got: "0",
            message: `must be ≥ 1: services.${name}.readShare is ${s.readShare}`,
          });
        }
      }
      return problems;
    },
  },
  {
    name: "client-idle-after-apps",
    check: (c) => {
      const t = c.pgbouncer.timeouts;
      // Apps close idle connections first, so PgBouncer never cuts a connection the app thinks
      // is live.
      const clientIdleFloorMs = DEFAULTS.client.idleTimeoutMs;
      if (!(t.clientIdleSeconds > 0 && t.clientIdleSeconds * 1000 <= clientIdleFloorMs)) return [];
      return [
        {
          path: "pgbouncer.timeouts.clientIdleSeconds",
          got: show(t.clientIdleSeconds),
          message: `must be 0 (off) or > ${clientIdleFloorMs / 1000}: apps close idle connections after ${clientIdleFloorMs / 1000}s`,
        },
      ];
    },
  },
  {
    name: "local-endpoint-loopback",
    check: (c) => {
      const endpoint = c.pgbouncer.endpoint;
      return c.environment === "local" && !(isIpv4Address(endpoint) && endpoint.startsWith("127."))
        ? [
            {
              path: "pgbouncer.endpoint",
              got: show(c.pgbouncer.endpoint),
              message: "must be a loopback address for the local stack (its HAProxy listens there)",
            },
          ]
        : [];
    },
  },
  {
    name: "cloud-scrape-not-loopback",
    // A range copied from the local stack: the cloud's Prometheus never scrapes from loopback.
    check: (c) =>
      c.environment === "local"
        ? []
        : [...c.monitoring.scrapeFrom.entries()]
            .filter(([, cidr]) => isLoopback(cidr))
            .map(([i, cidr]) => ({
              path: `monitoring.scrapeFrom.${i}`,
              got: show(cidr),
              message:
                "must not be a loopback range outside the local stack (Prometheus scrapes the hosts over the network)",
            })),
  },
];

/** Inside 127.0.0.0/8. The schema has already checked the syntax. */
function isLoopback(cidr: string): boolean {
  const c = parseCidr(cidr);
  return c !== undefined && c.prefix >= 8 && Math.floor(c.base / 2 ** 24) === 127;
}
