import { describe, expect, test } from "vitest";
import { loadStack } from "../../platform/config.js";
import { buildPlan, type Plan } from "../../platform/plan.js";
import { validateStackConfig } from "../../platform/validate.js";
import { atVersion, rawStack, withField } from "../../platform/fixtures.js";
import { localLayout, localUpstreams } from "../../local/topology.js";
import { renderLocalHost } from "../../local/pgbouncer.js";
import { knows, parseVersion } from "../../platform/capabilities.js";
import { fixtureVerifiers } from "../../pgbouncer/fixtures.js";
import { FORCED_KEYS } from "../../platform/forced-keys.js";
import { databaseLine, renderIni } from "../../pgbouncer/ini.js";
import { PRODUCTION_LAYOUT, type Upstreams } from "../../pgbouncer/layout.js";
import { renderHostFiles, userlistEntries, type HostFiles } from "../../pgbouncer/render.js";
import { RenderError } from "../../pgbouncer/sanitize.js";
import { renderUserlist } from "../../pgbouncer/userlist.js";

/** Goldens render the local stack under a fixed folder, so they match on every checkout. */
const GOLDEN_STATE = "/srv/pg-pooling/.stack";
const PROD_UPSTREAMS: Upstreams = {
  primary: "primary.db.internal",
  replicas: ["replica1.db.internal", "replica2.db.internal"],
  port: 5432,
};

/** A host's files as the local stack renders them, under a fixed state folder. */
const renderLocal = (plan: Plan, index = 0): HostFiles =>
  renderLocalHost(plan, plan.hosts[index]!, fixtureVerifiers(plan), GOLDEN_STATE);

function renderProd(plan: Plan, index = 0): HostFiles {
  const host = plan.hosts[index]!;
  return renderHostFiles({
    plan,
    host,
    upstreams: PROD_UPSTREAMS,
    layout: PRODUCTION_LAYOUT,
    users: userlistEntries(plan, fixtureVerifiers(plan)),
  });
}

const local = buildPlan(loadStack("local"));
const prod = buildPlan(loadStack("prod"));

/** The [section] → key → value view of a rendered ini. */
function sections(ini: string): Record<string, [string, string][]> {
  const out: Record<string, [string, string][]> = {};
  let current = "";
  for (const line of ini.split("\n")) {
    const head = /^\[(\w+)\]$/.exec(line);
    if (head) out[(current = head[1]!)] = [];
    const kv = /^(\w+) = (.*)$/.exec(line);
    if (kv && current) out[current]!.push([kv[1]!, kv[2]!]);
  }
  return out;
}

describe("golden files", () => {
  const FILES = [
    "pgbouncer.ini",
    "pgbouncer_hba.conf",
    "userlist.txt",
    "pgbouncer.service",
    "logrotate.conf",
  ] as const;
  test.each(FILES)("local %s", async (name) => {
    await expect(renderLocal(local)[name]).toMatchFileSnapshot(
      `../../pgbouncer/__golden__/local/pgbouncer-1/${name}`,
    );
  });
  test.each(FILES)("prod %s", async (name) => {
    await expect(renderProd(prod)[name]).toMatchFileSnapshot(
      `../../pgbouncer/__golden__/prod/pgbouncer-1/${name}`,
    );
  });
});

describe("pgbouncer.ini invariants", () => {
  test.each([
    ["local", local],
    ["prod", prod],
  ] as const)("%s: every service's rw entry and one ro entry per replica, once each", (_, plan) => {
    const names = sections(renderLocal(plan)["pgbouncer.ini"]).databases!.map(([k]) => k);
    const replicas = plan.config.database.replicas;
    const expected = Object.entries(plan.config.services).flatMap(([name, s]) => [
      name,
      ...(s.readShare > 0
        ? Array.from({ length: replicas }, (_, i) => `${name}_ro_replica${i + 1}`)
        : []),
    ]);
    expect(names).toEqual(expected.sort());
  });

  // Worked from Pulumi.prod.yaml by the formulas in docs/tuning.md (3 hosts, 2 carry the peak):
  // - orders (rw): 1600 tx/s × 0.7 writes × 12 ms × 1.5 headroom = 20.2 → 21 busy; 21 / 2 → 11;
  //   reserve: critical 25 % of 11 → 3, but one retry per instance, 12 / 2 hosts → 6; 11 + 6 = 17.
  // - catalog_ro_replica1: 5000 × 0.9 reads × 3 ms × 1.5 = 20.25 → 21; 11; normal 10 % → 2; 13.
  // - notifications (session, LISTEN): 30 clients, not 15 per host: 24 of 30 land on one host
  //   in at most 1/1000 of spreads; reserve high 20 % of 24 → 5; 29.
  test.each([
    ["orders", "transaction", 11, 6, 17],
    ["catalog_ro_replica1", "transaction", 11, 2, 13],
    ["notifications", "session", 24, 5, 29],
  ])(
    "prod %s: %s, pool_size %i, reserve %i, max_db_connections %i",
    (name, mode, size, reserve, max) => {
      const line = sections(renderProd(prod)["pgbouncer.ini"]).databases!.find(
        ([k]) => k === name,
      )![1];
      expect(line).toContain(` pool_mode=${mode} `);
      expect(line).toContain(` pool_size=${size} `);
      expect(line).toContain(` reserve_pool_size=${reserve} `);
      expect(line).toContain(` max_db_connections=${max}`);
    },
  );

  test.each([
    ["local", local],
    ["prod", prod],
  ] as const)("%s: keys sorted, each known to the target version", (_, plan) => {
    const keys = sections(renderLocal(plan)["pgbouncer.ini"]).pgbouncer!.map(([k]) => k);
    expect(keys).toEqual([...keys].sort());
    expect(new Set(keys).size).toBe(keys.length);
    for (const k of keys) expect(knows(plan.pgbouncerVersion, "pgbouncer", k), k).toBe(true);
  });

  test("version-aware: 1.18 vs 1.21 vs 1.24 keys; 1.26 emits what 1.25 does", () => {
    const one = withField(rawStack("local"), "pgbouncer.processesPerHost", 1);
    const at = (version: string) => buildPlan(validateStackConfig(atVersion(one, version)));
    const v118 = renderLocal(at("1.18.0"))["pgbouncer.ini"];
    expect(v118).toMatch(/ reserve_pool=\d/);
    expect(v118).not.toMatch(/reserve_pool_size=|load_balance_hosts|max_prepared_statements/);
    const v121 = renderLocal(at("1.21.0"))["pgbouncer.ini"];
    expect(v121).toMatch(/^max_prepared_statements = 200$/m);
    expect(v121).not.toMatch(/load_balance_hosts/);
    const v124 = renderLocal(at("1.24.0"))["pgbouncer.ini"];
    expect(v124).toMatch(/ reserve_pool_size=\d/);
    // load_balance_hosts only chooses among a multi-host entry's hosts, and every entry names one
    // node, so no version gets it (the capability table still knows it from 1.24).
    for (const v of [v124, renderLocal(at("1.26.1"))["pgbouncer.ini"]])
      expect(v).not.toMatch(/load_balance_hosts|host=[^ ]*,/);
    // 1.25 and 1.26 add keys (transaction_timeout, pool_idle_timeout, login_notify_message, ...)
    // that the render leaves at PgBouncer's defaults. The one it uses: 1.26's per-database
    // query_wait_timeout, on the ro entries only (a queued read fails over to another replica).
    const v125 = renderLocal(at("1.25.2"))["pgbouncer.ini"];
    const v126 = renderLocal(at("1.26.1"))["pgbouncer.ini"];
    expect(v125).not.toMatch(/ query_wait_timeout=/);
    const roLines = v126.split("\n").filter((l) => / query_wait_timeout=/.test(l));
    expect(roLines.length).toBeGreaterThan(0);
    for (const l of roLines) expect(l).toMatch(/^\w+_ro_replica\d+ = .* query_wait_timeout=2$/);
    expect(
      v126
        .replace("(PgBouncer 1.26.1,", "(PgBouncer 1.25.2,")
        .replace(/ query_wait_timeout=2$/gm, ""),
    ).toBe(v125);
    expect(parseVersion(prod.config.pgbouncer.version)).toEqual(prod.pgbouncerVersion);
  });

  test("forced keys win over overrides that slipped past validation", () => {
    const plan = buildPlan(loadStack("local"));
    plan.config.pgbouncer.settings = {
      auth_type: "trust",
      max_client_conn: 5,
      listen_addr: "0.0.0.0",
      log_connections: 1,
    };
    const ini = sections(renderLocal(plan)["pgbouncer.ini"]).pgbouncer!;
    const get = (k: string) => ini.find(([key]) => key === k)?.[1];
    expect(get("auth_type")).toBe("hba");
    expect(get("auth_hba_file")).toBe(localLayout(plan.hosts[0]!, GOLDEN_STATE).hbaFile);
    // 1,623 clients one host holds with the other lost (npm run plan -- --stack local), + 20 for
    // the consoles
    expect(get("max_client_conn")).toBe("1643");
    expect(get("listen_addr")).toBe("127.0.0.11");
    expect(get("log_connections")).toBe("1"); // a tunable: the override applies
    expect(FORCED_KEYS).toContain("auth_type");
  });

  test("output does not depend on the order services are declared in", () => {
    const raw = rawStack("local");
    const services = raw.services as Record<string, unknown>;
    const reversed = withField(
      raw,
      "services",
      Object.fromEntries(Object.entries(services).reverse()),
    );
    expect(renderLocal(buildPlan(validateStackConfig(reversed)))).toEqual(renderLocal(local));
  });

  test("every generated file starts with the do-not-edit header and ends with one newline", () => {
    for (const text of [...Object.values(renderLocal(local)), ...Object.values(renderProd(prod))]) {
      expect(text).toMatch(/^[;#] .*\n[;#] Generated by pg-pooling .* Do not edit/);
      expect(text.endsWith("\n") && !text.endsWith("\n\n")).toBe(true);
    }
  });
});

describe("injection attempts are refused by the renderers", () => {
  const entry = local.entries[0]!;
  test.each([
    ["a host with a space", { ...PROD_UPSTREAMS, primary: "db port=1" }],
    ["a host with a newline", { ...PROD_UPSTREAMS, primary: "db\n[pgbouncer]" }],
    ["a host with a quote", { ...PROD_UPSTREAMS, primary: "db' auth_user='x" }],
  ])("%s", (_, upstreams) => {
    expect(() => databaseLine(local, entry, upstreams)).toThrow(RenderError);
    expect(() => databaseLine(local, entry, upstreams)).toThrow(/databases\.accounts\.host/);
  });

  test("a settings value with a newline", () => {
    const plan = buildPlan(loadStack("local"));
    plan.config.pgbouncer.settings = { stats_period: "15\nauth_type = trust" };
    expect(() => renderLocal(plan)).toThrow(/pgbouncer\.stats_period must not contain newlines/);
  });

  test("a settings key that is not an identifier, or unknown to the table", () => {
    const plan = buildPlan(loadStack("local"));
    plan.config.pgbouncer.settings = { "x\n[databases]": 1 };
    expect(() => renderLocal(plan)).toThrow();
  });

  test("a layout path with a newline or a relative path", () => {
    const host = local.hosts[0]!;
    for (const logFile of [
      "/var/log/x\nauth_type = trust",
      "logs/pgbouncer.log",
      "/var/../etc/shadow",
    ]) {
      expect(() =>
        renderIni(local, host, PROD_UPSTREAMS, { ...PRODUCTION_LAYOUT, logFile }),
      ).toThrow(/layout\.logFile/);
    }
  });

  test("userlist: a user with a quote, a plaintext password, a duplicate", () => {
    const v = fixtureVerifiers(local).get("orders")!;
    expect(() => renderUserlist([{ user: 'or"ders', verifier: v }])).toThrow(
      /without double quotes/,
    );
    expect(() => renderUserlist([{ user: "orders", verifier: "hunter2-plaintext" }])).toThrow(
      /must be a SCRAM-SHA-256 verifier/,
    );
    expect(() => renderUserlist([{ user: "orders", verifier: "hunter2-plaintext" }])).not.toThrow(
      /hunter2/,
    );
    expect(() =>
      renderUserlist([
        { user: "orders", verifier: v },
        { user: "orders", verifier: v },
      ]),
    ).toThrow(/twice/);
  });
});

describe("several processes per host (so_reuseport + [peers])", () => {
  const raw = withField(
    withField(rawStack("local"), "pgbouncer.version", "1.26.1"),
    "pgbouncer.processesPerHost",
    2,
  );
  const two = buildPlan(validateStackConfig(raw));
  const one = buildPlan(validateStackConfig(withField(raw, "pgbouncer.processesPerHost", 1)));
  const peers = [
    { id: 1, host: "/srv/pgb/socket", port: 56432 },
    { id: 2, host: "/srv/pgb/socket-2", port: 56432 },
  ];

  test("each process gets half the host's pools, rounded up, and the budget counts every process", () => {
    for (const e of two.entries) {
      const single = one.entries.find((x) => x.name === e.name)!;
      // A session entry holds what a random spread over the processes may bring one of them.
      if (e.poolMode === "session") expect(e.poolSize).toBeGreaterThan(single.poolSize / 2);
      else expect(e.poolSize).toBe(Math.ceil(single.poolSize / 2));
    }
    expect(two.hosts[0]!.maxClientConn).toBe(one.hosts[0]!.maxClientConn); // all clients may land on one
    const perProcess = two.entries
      .filter((e) => e.target === "primary")
      .reduce((n, e) => n + e.maxDbConnections, 0);
    expect(two.budget[0]!.required).toBe(two.hosts.length * 2 * perProcess);
  });

  test("the ini of process 2 shares the port, names its peer id and lists every peer's socket", () => {
    const host = two.hosts[0]!;
    const layout = { ...localLayout(host, GOLDEN_STATE, 2) };
    const ini = renderIni(two, host, localUpstreams(two), layout, { id: 2, peers });
    const s = sections(ini);
    expect(s.peers).toEqual([
      ["1", "host=/srv/pgb/socket port=56432"],
      ["2", "host=/srv/pgb/socket-2 port=56432"],
    ]);
    const get = (k: string) => s.pgbouncer!.find(([key]) => key === k)?.[1];
    expect([get("so_reuseport"), get("peer_id"), get("unix_socket_dir")]).toEqual([
      "1",
      "2",
      `${GOLDEN_STATE}/pgbouncer-1/socket-2`,
    ]);
    // a one-process host renders neither
    expect(
      renderIni(one, one.hosts[0]!, localUpstreams(one), localLayout(one.hosts[0]!, GOLDEN_STATE)),
    ).not.toMatch(/peer|so_reuseport/);
  });

  test("peers across the fleet: a one-process host names its fleet-unique id and a peer by address", () => {
    const host = one.hosts[1]!;
    const fleet = [
      { id: 1, host: "10.42.1.10", port: 6432 },
      { id: 2, host: "10.42.2.10", port: 6432 },
    ];
    const ini = renderIni(one, host, localUpstreams(one), localLayout(host, GOLDEN_STATE), {
      id: 2,
      peers: fleet,
    });
    const s = sections(ini);
    expect(s.peers).toEqual([
      ["1", "host=10.42.1.10 port=6432"],
      ["2", "host=10.42.2.10 port=6432"],
    ]);
    const get = (k: string) => s.pgbouncer!.find(([key]) => key === k)?.[1];
    expect([get("so_reuseport"), get("peer_id")]).toEqual([undefined, "2"]);
  });

  test("a peer's host that could add a key is refused, naming the peer", () => {
    const host = one.hosts[0]!;
    const bad = [
      { id: 1, host: "10.42.1.10", port: 6432 },
      { id: 2, host: "10.42.2.10 dbname=x", port: 6432 },
    ];
    expect(() =>
      renderIni(one, host, localUpstreams(one), localLayout(host, GOLDEN_STATE), {
        id: 1,
        peers: bad,
      }),
    ).toThrow(/peers\.2\.host/);
  });

  test("PgBouncer 1.18 has no [peers]: the render leaves them out", () => {
    const old = buildPlan(validateStackConfig(atVersion(raw, "1.18.0")));
    const host = old.hosts[0]!;
    const ini = renderIni(old, host, localUpstreams(old), localLayout(host, GOLDEN_STATE), {
      id: 1,
      peers: [
        { id: 1, host: "/srv/a", port: 1 },
        { id: 2, host: "/srv/b", port: 1 },
      ],
    });
    expect(ini).not.toMatch(/peer/);
  });
});
