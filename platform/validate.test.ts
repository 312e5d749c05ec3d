import { describe, expect, test } from "vitest";
import { ConfigError, isConfigError } from "./errors.js";
import { atVersion, rawStack, withField } from "./fixtures.js";
import { validateStackConfig } from "./validate.js";

const base = rawStack("local");

function problemsOf(raw: unknown): string[] {
  try {
    validateStackConfig(raw);
  } catch (e) {
    expect(isConfigError(e)).toBe(true);
    return (e as ConfigError).message
      .split("\n")
      .slice(1)
      .map((l) => l.replace(/^ {2}- /, ""));
  }
  throw new Error("config was accepted");
}

/** The config is refused with a problem that contains `message`. */
function expectRefused(raw: unknown, message: string): void {
  const problems = problemsOf(raw);
  expect(
    problems.some((p) => p.includes(message)),
    problems.join("\n"),
  ).toBe(true);
}

describe("validateStackConfig", () => {
  test("the three stack files are valid", () => {
    for (const stack of ["local", "dev", "prod"])
      expect(() => validateStackConfig(rawStack(stack))).not.toThrow();
  });

  // GIVEN one bad field WHEN validated THEN the message names the path and the value it got.
  test.each([
    [
      "environment",
      "staging",
      'environment must be one of "local" | "dev" | "prod", got "staging"',
    ],
    ["environment", undefined, "environment is required"],
    ["database.port", -5432, "database.port must be ≥ 1024, got -5432"],
    ["database.port", 70000, "database.port must be ≤ 65535, got 70000"],
    ["database.port", "5432", 'database.port must be a number, got "5432"'],
    ["database.port", 5432.5, "database.port must be an integer, got 5432.5"],
    ["database.maxConnections", 10, "database.maxConnections must be ≥ 20, got 10"],
    ["database.maxConnections", -1, "database.maxConnections must be ≥ 20, got -1"],
    ["database.replicas", -1, "database.replicas must be ≥ 0, got -1"],
    [
      "database.replicas",
      0,
      "database.replicas must be ≥ 1: services.accounts.readShare is 0.5, got 0",
    ],
    [
      "database.superuserReservedConnections",
      -3,
      "database.superuserReservedConnections must be ≥ 0, got -3",
    ],
    [
      "database.reservedConnections.admin",
      -10,
      "database.reservedConnections.admin must be ≥ 0, got -10",
    ],
    [
      "database.reservedConnections.exporters",
      undefined,
      "database.reservedConnections.exporters is required (number)",
    ],
    [
      "database.instanceClass",
      "r6g.large",
      'database.instanceClass must look like db.r6g.large, got "r6g.large"',
    ],
    [
      "database.instanceClass",
      "db.r6g.large\nmax_connections=1",
      'database.instanceClass must look like db.r6g.large, got "db.r6g.large\\nmax_connections=1"',
    ],
    [
      "database.engineVersion",
      "fifteen",
      'database.engineVersion must look like 16 or 16.4, got "fifteen"',
    ],
    ["database.unknown", 1, "database.unknown is not a known key"],
    [
      "pgbouncer.version",
      "1.17.0",
      'pgbouncer.version must be a release this project knows, 1.18.0 to 1.26.1, got "1.17.0"',
    ],
    [
      "pgbouncer.version",
      "1.26.2",
      'pgbouncer.version must be a release this project knows, 1.18.0 to 1.26.1, got "1.26.2"',
    ],
    [
      "pgbouncer.version",
      "1.18.0\nlisten_addr=0.0.0.0",
      'pgbouncer.version must look like 1.25.1, got "1.18.0\\nlisten_addr=0.0.0.0"',
    ],
    [
      "network.vpcCidr",
      "10.40.1.0/16",
      'network.vpcCidr must be a network address with a prefix from /16 to /20, like 10.40.0.0/16, got "10.40.1.0/16"',
    ],
    ["network.azs", 1, "network.azs must be ≥ 2, got 1"],
    [
      "network.natGateways",
      3,
      "network.natGateways must be ≤ network.azs (2): a NAT gateway lives in one AZ's public subnet, got 3",
    ],
    ["database.storageGb", 10, "database.storageGb must be ≥ 20, got 10"],
    ["database.storageGb", 500, "database.maxStorageGb must be ≥ database.storageGb (500), got 20"],
    ["database.multiAz", "yes", 'database.multiAz must be a boolean, got "yes"'],
    ["database.backupRetentionDays", 0, "database.backupRetentionDays must be ≥ 1, got 0"],
    [
      "pgbouncer.instanceType",
      "c7g large",
      'pgbouncer.instanceType must look like c7g.large, got "c7g large"',
    ],
    ["pgbouncer.hosts", 0, "pgbouncer.hosts must be ≥ 1, got 0"],
    ["pgbouncer.processesPerHost", 0, "pgbouncer.processesPerHost must be ≥ 1, got 0"],
    ["pgbouncer.hosts", -2, "pgbouncer.hosts must be ≥ 1, got -2"],
    ["pgbouncer.port", 55432, "pgbouncer.port must differ from database.port, got 55432"],
    [
      "pgbouncer.endpoint",
      "pgbouncer.local",
      'pgbouncer.endpoint must be a loopback address for the local stack (its HAProxy listens there), got "pgbouncer.local"',
    ],
    [
      "pgbouncer.endpoint",
      "bouncer host",
      'pgbouncer.endpoint must be a hostname or address, got "bouncer host"',
    ],
    [
      "pgbouncer.endpoint",
      "a;listen_port=1",
      'pgbouncer.endpoint must be a hostname or address, got "a;listen_port=1"',
    ],
    [
      "pgbouncer.timeouts.queryWaitSeconds",
      0,
      "pgbouncer.timeouts.queryWaitSeconds must be > 0, got 0",
    ],
    [
      "pgbouncer.timeouts.serverIdleSeconds",
      -1,
      "pgbouncer.timeouts.serverIdleSeconds must be ≥ 0, got -1",
    ],
    [
      "pgbouncer.timeouts.clientIdleSeconds",
      10,
      "pgbouncer.timeouts.clientIdleSeconds must be 0 (off) or > 30",
    ],
    ["pgbouncer.tls.client", "required", 'pgbouncer.tls.client must be one of "disable" | "allow"'],
    [
      "pgbouncer.tls.certDir",
      "tls",
      'pgbouncer.tls.certDir must be an absolute path of letters, digits, . _ / -, got "tls"',
    ],
    ["pgbouncer.auth", "md5", 'pgbouncer.auth must be one of "scram-sha-256", got "md5"'],
    [
      "pgbouncer.settings.max_client_conn",
      5,
      "pgbouncer.settings.max_client_conn is derived by pg-pooling and cannot be overridden, got 5",
    ],
    [
      "pgbouncer.settings.auth_type",
      "trust",
      'pgbouncer.settings.auth_type is derived by pg-pooling and cannot be overridden, got "trust"',
    ],
    [
      "pgbouncer.settings.log_connections",
      "1\nauth_type=trust",
      "pgbouncer.settings.log_connections must be letters, digits and . _ , : / -",
    ],
    [
      "monitoring.scrapeFrom",
      ["10.40.0.0/33"],
      'monitoring.scrapeFrom.0 must be an IPv4 network address, like 10.40.0.0/16, got "10.40.0.0/33"',
    ],
    [
      "monitoring.scrapeFrom",
      ["10.40.1.0/16"],
      'monitoring.scrapeFrom.0 must be an IPv4 network address, like 10.40.0.0/16, got "10.40.1.0/16"',
    ],
    [
      "monitoring.scrapeFrom",
      ["::/0"],
      'monitoring.scrapeFrom.0 must be an IPv4 network address, like 10.40.0.0/16, got "::/0"',
    ],
    [
      "monitoring.scrapeFrom",
      ["10.40.0.0/16\n- 0.0.0.0/0"],
      'monitoring.scrapeFrom.0 must be an IPv4 network address, like 10.40.0.0/16, got "10.40.0.0/16\\n- 0.0.0.0/0"',
    ],
    [
      "monitoring.scrapeFrom",
      ["10.40.0.0/16", "0.0.0.0/0"],
      'monitoring.scrapeFrom.1 must not be the whole internet (exporters stay private), got "0.0.0.0/0"',
    ],
    [
      "monitoring.scrapeFrom",
      [],
      "monitoring.scrapeFrom must name at least one IPv4 range, got []",
    ],
    ["monitoring.scrapeFrom", undefined, "monitoring.scrapeFrom is required (array)"],
    [
      "monitoring.scrapeFrom",
      "10.40.0.0/16",
      'monitoring.scrapeFrom must be an array, got "10.40.0.0/16"',
    ],
    [
      "monitoring.scrapeFrom",
      ["10.40.0.0/16", "10.40.0.0/16"],
      'monitoring.scrapeFrom must not repeat a range, got ["10.40.0.0/16","10.40.0.0/16"]',
    ],
    ["services.orders.peakClients", -200, "services.orders.peakClients must be ≥ 1, got -200"],
    ["services.orders.peakClients", 0, "services.orders.peakClients must be ≥ 1, got 0"],
    ["services.orders.peakTps", 0, "services.orders.peakTps must be > 0, got 0"],
    ["services.orders.transactionMs", -12, "services.orders.transactionMs must be > 0, got -12"],
    ["services.orders.readShare", 1.5, "services.orders.readShare must be ≤ 1, got 1.5"],
    ["services.orders.readShare", -0.1, "services.orders.readShare must be ≥ 0, got -0.1"],
    [
      "services.orders.maxReplicaLagSeconds",
      0,
      "services.orders.maxReplicaLagSeconds must be > 0, got 0",
    ],
    [
      "services.orders.instances",
      500,
      "services.orders.instances must be ≤ peakClients (200): every instance holds at least one connection, got 500",
    ],
    [
      "services.orders.priority",
      "urgent",
      'services.orders.priority must be one of "critical" | "high" | "normal" | "low", got "urgent"',
    ],
    [
      "services.orders.sessionFeatures",
      ["cursors"],
      'services.orders.sessionFeatures.0 must be one of "listenNotify"',
    ],
    [
      "services.orders.sessionFeatures",
      ["tempTables", "tempTables"],
      "services.orders.sessionFeatures must not repeat a feature",
    ],
    ["services.orders.poolSize", 40, "services.orders.poolSize is not a known key"],
    ["services.Orders-API", {}, "services.Orders-API is not a valid name"],
    ["services.orders\nx", {}, "is not a valid name"],
    ["services", {}, "services must declare at least one service"],
  ])("%s = %j is refused", (path, value, message) => {
    expectRefused(withField(base, path, value), message);
  });

  // GIVEN the oldest line supported (Debian 12's 1.18) WHEN a field needs a newer one THEN it says so.
  const oldest = atVersion(base, "1.18.0");
  test.each([
    [
      "pgbouncer.processesPerHost",
      2,
      "pgbouncer.processesPerHost must be 1 for PgBouncer 1.18.0: cancel requests cross processes only with [peers] (1.19+), got 2",
    ],
    [
      "pgbouncer.settings.transaction_timeout",
      5,
      "pgbouncer.settings.transaction_timeout is not a key PgBouncer 1.18.0 knows, got 5",
    ],
    [
      "pgbouncer.tls.server",
      "verify-full",
      'pgbouncer.tls.server must be require for PgBouncer 1.18.0: before 1.25.0 it checks an ro entry\'s certificates against its whole host list (2 replicas), so no login succeeds, got "verify-full"',
    ],
  ])("on PgBouncer 1.18.0, %s = %j is refused", (path, value, message) => {
    expectRefused(withField(oldest, path, value), message);
  });

  test("every problem is reported at once", () => {
    let raw = withField(base, "database.port", -1);
    raw = withField(raw, "pgbouncer.hosts", 0);
    raw = withField(raw, "services.orders.peakTps", -5);
    raw = withField(raw, "services.catalog.priority", "meh");
    expect(problemsOf(raw)).toHaveLength(4);
  });

  test("every bad scrape range is reported at once, each with its index", () => {
    const raw = withField(base, "monitoring.scrapeFrom", ["0.0.0.0/0", "10.0.0.0/8", "nope"]);
    expect(problemsOf(raw)).toEqual([
      'monitoring.scrapeFrom.0 must not be the whole internet (exporters stay private), got "0.0.0.0/0"',
      'monitoring.scrapeFrom.2 must be an IPv4 network address, like 10.40.0.0/16, got "nope"',
    ]);
  });

  // GIVEN a cloud stack WHEN its Prometheus range is loopback (copied from the local stack) THEN
  // refused: Prometheus could never reach the hosts. The local stack's own loopback range passes.
  test("a loopback scrape range is refused outside the local stack", () => {
    const dev = withField(rawStack("dev"), "monitoring.scrapeFrom", [
      "10.41.0.0/16",
      "127.0.0.0/8",
    ]);
    expect(problemsOf(dev)).toEqual([
      'monitoring.scrapeFrom.1 must not be a loopback range outside the local stack (Prometheus scrapes the hosts over the network), got "127.0.0.0/8"',
    ]);
    expect(validateStackConfig(base).monitoring.scrapeFrom).toEqual(["127.0.0.0/8"]);
  });

  test("an unknown instance class needs an explicit maxConnections", () => {
    let raw = withField(base, "database.instanceClass", "db.x9z.huge");
    raw = withField(raw, "database.maxConnections", undefined);
    expect(problemsOf(raw)).toEqual([
      "database.maxConnections is required: no memory figure is known for instanceClass db.x9z.huge",
    ]);
  });
});
