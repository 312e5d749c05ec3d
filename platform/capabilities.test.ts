import { describe, expect, test } from "vitest";
import {
  CAPABILITIES,
  HOST_LIST_SINCE,
  PEERS_SECTION_SINCE,
  PROVEN_LIVE_LINES,
  SUPPORTED_VERSIONS,
  capability,
  compareVersions,
  databaseReserveKey,
  knows,
  parseVersion,
  type Section,
  type Version,
  provenLive,
} from "./capabilities.js";

describe("parseVersion", () => {
  test.each([
    ["1.18", [1, 18, 0]],
    ["1.18.0", [1, 18, 0]],
    ["1.21.0", [1, 21, 0]],
    ["1.24.1", [1, 24, 1]],
    ["1.25", [1, 25, 0]],
    ["1.25.1", [1, 25, 1]],
    ["1.25.2", [1, 25, 2]],
    ["1.26", [1, 26, 0]],
    ["1.26.0", [1, 26, 0]],
    ["1.26.1", [1, 26, 1]],
  ])("accepts %s", (text, expected) => {
    expect(parseVersion(text)).toEqual(expected);
  });

  test.each([
    ["", "invalid"],
    ["1", "invalid"],
    ["1.18.0.1", "invalid"],
    ["v1.18.0", "invalid"],
    ["1.18.x", "invalid"],
    [" 1.18.0", "invalid"],
    ["1.18.0 ", "invalid"],
    ["01.18.0", "invalid"],
    ["1.-18.0", "invalid"],
    ["1.17.0", "unsupported"],
    ["1.17", "unsupported"],
    ["0.99.0", "unsupported"],
    ["1.26.2", "unsupported"],
    ["1.27", "unsupported"],
    ["1.27.0", "unsupported"],
    ["2.0", "unsupported"],
  ])("rejects %j as %s, naming the value", (text, kind) => {
    expect(() => parseVersion(text)).toThrow(`${kind} PgBouncer version ${JSON.stringify(text)}`);
  });

  test("the supported range is Debian 12's 1.18.0 to the newest 1.26.x", () => {
    expect(SUPPORTED_VERSIONS).toEqual({ oldest: "1.18.0", production: "1.26.1" });
    expect(parseVersion(SUPPORTED_VERSIONS.oldest)).toEqual([1, 18, 0]);
    expect(parseVersion(SUPPORTED_VERSIONS.production)).toEqual([1, 26, 1]);
  });
});

describe("compareVersions", () => {
  test.each([
    [[1, 18, 0], [1, 18, 0], 0],
    [[1, 18, 0], [1, 19, 0], -1],
    [[1, 24, 1], [1, 24, 0], 1],
    [[1, 9, 0], [1, 18, 0], -1],
    [[2, 0, 0], [1, 26, 1], 1],
    [[1, 26, 0], [1, 25, 2], 1],
  ] as [Version, Version, number][])("%j vs %j is %i", (a, b, expected) => {
    expect(compareVersions(a, b)).toBe(expected);
  });
});

const V118 = parseVersion("1.18.0");
const V121 = parseVersion("1.21.0");
const V124 = parseVersion("1.24.0");
const V125 = parseVersion("1.25.2");
const V126 = parseVersion("1.26.1");

describe("knows", () => {
  // Columns: 1.18.0, 1.21.0, 1.24.0, 1.25.2, 1.26.1.
  test.each([
    ["pgbouncer", "max_prepared_statements", false, true, true, true, true],
    ["databases", "load_balance_hosts", false, false, true, true, true],
    ["databases", "reserve_pool", true, true, true, true, true],
    ["databases", "reserve_pool_size", false, false, true, true, true],
    ["pgbouncer", "reserve_pool_size", true, true, true, true, true],
    ["pgbouncer", "transaction_timeout", false, false, false, true, true],
    ["pgbouncer", "peer_id", false, true, true, true, true],
    ["pgbouncer", "track_extra_parameters", false, true, true, true, true],
    ["pgbouncer", "auth_dbname", false, true, true, true, true],
    ["databases", "auth_query", false, false, true, true, true],
    ["pgbouncer", "max_db_client_connections", false, false, true, true, true],
    ["databases", "max_db_client_connections", false, false, true, true, true],
    ["pgbouncer", "listen_addr", true, true, true, true, true],
    ["pgbouncer", "auth_ldap_options", false, false, false, true, true],
    ["pgbouncer", "client_tls13_ciphers", false, false, false, true, true],
    ["pgbouncer", "server_tls13_ciphers", false, false, false, true, true],
    ["pgbouncer", "query_wait_notify", false, false, false, true, true],
    ["pgbouncer", "scram_iterations", false, false, false, true, true],
    ["pgbouncer", "pool_idle_timeout", false, false, false, false, true],
    ["pgbouncer", "login_notify_message", false, false, false, false, true],
    ["pgbouncer", "query_wait_timeout", true, true, true, true, true],
    ["databases", "query_wait_timeout", false, false, false, false, true],
    ["pgbouncer", "suspend_timeout", true, true, true, true, false],
  ] as [Section, string, boolean, boolean, boolean, boolean, boolean][])(
    "[%s] %s: 1.18 %s, 1.21 %s, 1.24 %s, 1.25 %s, 1.26 %s",
    (section, key, at118, at121, at124, at125, at126) => {
      expect(knows(V118, section, key)).toBe(at118);
      expect(knows(V121, section, key)).toBe(at121);
      expect(knows(V124, section, key)).toBe(at124);
      expect(knows(V125, section, key)).toBe(at125);
      expect(knows(V126, section, key)).toBe(at126);
    },
  );

  test.each([
    ["pgbouncer", "no_such_key"],
    ["databases", "listen_addr"],
    ["pgbouncer", "load_balance_hosts"],
    // a stat in SHOW STATS (1.26.0, #1457), not a setting
    ["pgbouncer", "client_login_count"],
    // per database since 1.26, but never a [pgbouncer] key
    ["databases", "pool_idle_timeout"],
  ] as [Section, string][])("[%s] %s is unknown to every version", (section, key) => {
    for (const version of [V118, V121, V124, V125, V126])
      expect(knows(version, section, key)).toBe(false);
  });

  test("the first release of a key knows it, the one before does not", () => {
    expect(knows(parseVersion("1.18.0"), "pgbouncer", "peer_id")).toBe(false);
    expect(knows(parseVersion("1.19.0"), "pgbouncer", "peer_id")).toBe(true);
    expect(knows(parseVersion("1.24.1"), "pgbouncer", "transaction_timeout")).toBe(false);
    expect(knows(parseVersion("1.25.0"), "pgbouncer", "transaction_timeout")).toBe(true);
    expect(knows(parseVersion("1.25.2"), "pgbouncer", "pool_idle_timeout")).toBe(false);
    expect(knows(parseVersion("1.26.0"), "pgbouncer", "pool_idle_timeout")).toBe(true);
  });

  test("the last release before a removal knows the key, the removing release does not", () => {
    expect(knows(parseVersion("1.25.2"), "pgbouncer", "suspend_timeout")).toBe(true);
    expect(knows(parseVersion("1.26.0"), "pgbouncer", "suspend_timeout")).toBe(false);
    expect(knows(parseVersion("1.26.1"), "pgbouncer", "suspend_timeout")).toBe(false);
  });
});

describe("reserve_pool rename", () => {
  test.each([
    ["1.18.0", "reserve_pool"],
    ["1.23.1", "reserve_pool"],
    ["1.24.0", "reserve_pool_size"],
    ["1.24.1", "reserve_pool_size"],
    ["1.25.2", "reserve_pool_size"],
    ["1.26.1", "reserve_pool_size"],
  ])("%s uses %s", (text, key) => {
    expect(databaseReserveKey(parseVersion(text))).toBe(key);
  });

  test("suspend_timeout went with online restart in 1.26.0: removed, not renamed", () => {
    const gone = capability("pgbouncer", "suspend_timeout");
    expect(gone.removedIn).toBe("1.26.0");
    expect(gone.renamedTo).toBeUndefined();
  });

  test("the old name stays an accepted alias: renamed, not removed", () => {
    const old = capability("databases", "reserve_pool");
    expect(old.renamedTo).toBe("reserve_pool_size");
    expect(old.removedIn).toBeUndefined();
    expect(capability("databases", "reserve_pool_size").since).toBe("1.24.0");
  });
});

describe("capability", () => {
  test("returns the row", () => {
    expect(capability("pgbouncer", "listen_port")).toMatchObject({
      section: "pgbouncer",
      key: "listen_port",
      since: "1.18.0",
      reloadable: false,
    });
  });

  test.each([
    ["pgbouncer", "nope"],
    ["databases", "max_client_conn"],
  ] as [Section, string][])("throws for [%s] %s", (section, key) => {
    expect(() => capability(section, key)).toThrow(`[${section}] ${JSON.stringify(key)}`);
  });

  // Keys whose change needs a restart: the rollout plan depends on exactly this set.
  test("restart keys", () => {
    const fixed = CAPABILITIES.filter((c) => !c.reloadable).map((c) => `${c.section}/${c.key}`);
    expect(fixed).toEqual(
      [
        "listen_addr",
        "listen_backlog",
        "listen_port",
        "pidfile",
        "pkt_buf",
        "so_reuseport",
        "track_extra_parameters",
        "unix_socket_dir",
        "unix_socket_mode",
      ].map((key) => `pgbouncer/${key}`),
    );
  });
});

describe("the table", () => {
  test("is sorted by section then key, without duplicates", () => {
    const names = CAPABILITIES.map((c) => `${c.section}/${c.key}`);
    const sorted = [...names].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    expect(names).toEqual(sorted);
    expect(new Set(names).size).toBe(names.length);
  });

  test.each(CAPABILITIES.map((c) => [c.section, c.key, c]))(
    "[%s] %s has facts inside the supported range",
    (_section, _key, c) => {
      expect(c.since).toMatch(/^\d+\.\d+\.\d+$/);
      expect(() => parseVersion(c.since)).not.toThrow();
      if (c.removedIn !== undefined) expect(() => parseVersion(c.removedIn!)).not.toThrow();
      if (c.renamedTo !== undefined)
        expect(() => capability(c.section, c.renamedTo!)).not.toThrow();
      expect(c.source.length).toBeGreaterThan(0);
    },
  );

  test("section-level facts", () => {
    expect(HOST_LIST_SINCE).toBe("1.17.0");
    expect(PEERS_SECTION_SINCE).toBe("1.19.0");
    expect(capability("pgbouncer", "peer_id").since).toBe(PEERS_SECTION_SINCE);
  });

  test("is frozen", () => {
    expect(Object.isFrozen(CAPABILITIES)).toBe(true);
    expect(Object.isFrozen(CAPABILITIES[0])).toBe(true);
  });
});

describe("provenLive", () => {
  test.each([
    ["pgbouncer", "max_client_conn", ["1.18.0", "1.26.1"]],
    ["pgbouncer", "max_prepared_statements", ["1.26.1"]],
    ["databases", "load_balance_hosts", ["1.26.1"]],
    ["databases", "reserve_pool", ["1.18.0", "1.26.1"]],
    ["pgbouncer", "transaction_timeout", ["1.26.1"]],
    ["pgbouncer", "pool_idle_timeout", ["1.26.1"]],
    ["databases", "query_wait_timeout", ["1.26.1"]],
    ["pgbouncer", "suspend_timeout", ["1.18.0"]],
  ] as const)("[%s] %s was proven on %j", (section, key, lines) => {
    expect(provenLive(section, key)).toEqual(lines);
  });
  test("the proven lines are the oldest supported release and the production one", () => {
    expect(PROVEN_LIVE_LINES).toEqual([SUPPORTED_VERSIONS.oldest, SUPPORTED_VERSIONS.production]);
  });
  test("a key missing from the table is an error, not an empty list", () => {
    expect(() => provenLive("pgbouncer", "no_such_key")).toThrow();
  });
});
