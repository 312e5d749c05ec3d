import { readFileSync } from "node:fs";
import { describe, expect, test } from "vitest";
import { CATALOGUE, metricSpec } from "./catalogue.js";
import {
  escapeLabelValue,
  pgbouncerDownExposition,
  pgbouncerExposition,
  SHOW_COMMANDS,
  versionText,
  type Row,
  type ShowResults,
} from "./pgbouncer-metrics.js";

type Fixture = Record<string, { columns: string[]; rows: Row[] }>;

/** A fixture as the server would hand it over: one field per SHOW command. */
function showResults(file: string): ShowResults {
  const fixture = JSON.parse(
    readFileSync(new URL(`./__fixtures__/${file}`, import.meta.url), "utf8"),
  ) as Fixture;
  const rows = (command: string) => fixture[command.replace(/^SHOW /, "")]!.rows;
  return {
    version: versionText(rows(SHOW_COMMANDS.version)),
    config: rows(SHOW_COMMANDS.config),
    databases: rows(SHOW_COMMANDS.databases),
    pools: rows(SHOW_COMMANDS.pools),
    stats: rows(SHOW_COMMANDS.stats),
    lists: rows(SHOW_COMMANDS.lists),
  };
}

interface Parsed {
  types: Map<string, string>;
  samples: { name: string; labels: Record<string, string>; value: number }[];
}

/** A strict reader of the text format: every line is a HELP, a TYPE or a sample. */
function parse(text: string): Parsed {
  const types = new Map<string, string>();
  const samples: Parsed["samples"] = [];
  for (const line of text.trimEnd().split("\n")) {
    const type = /^# TYPE (\S+) (gauge|counter)$/.exec(line);
    if (type) types.set(type[1]!, type[2]!);
    else if (line.startsWith("# HELP ")) continue;
    else {
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
      if (!m) throw new Error(`not a sample line: ${line}`);
      const labels: Record<string, string> = {};
      for (const l of (m[2] ?? "").matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g))
        labels[l[1]!] = l[2]!;
      samples.push({ name: m[1]!, labels, value: Number(m[3]) });
    }
  }
  return { types, samples };
}

const value = (p: Parsed, name: string, labels: Record<string, string>) =>
  p.samples.find(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  )?.value;

describe.each([
  ["show-1.18.json", "PgBouncer 1.18.0"],
  ["show-1.24.json", "PgBouncer 1.24.1"],
])("the exposition of %s", (file, version) => {
  const show = showResults(file);
  const text = pgbouncerExposition(show);
  const parsed = parse(text);

  test("serves only catalogue names, with exactly the catalogue's labels and type", () => {
    expect(parsed.samples.length).toBeGreaterThan(100);
    for (const s of parsed.samples) {
      const spec = metricSpec(s.name);
      expect(spec.source).toBe("pgbouncer_exporter");
      expect([s.name, Object.keys(s.labels).sort()]).toEqual([s.name, [...spec.labels].sort()]);
      expect(parsed.types.get(s.name)).toBe(spec.type);
    }
  });

  test("reports up, the version, and the fixture's numbers in the exporter's units", () => {
    expect(value(parsed, "pgbouncer_up", {})).toBe(1);
    expect(value(parsed, "pgbouncer_version_info", { version })).toBe(1);
    const db = (column: string) => show.databases.find((r) => r.name === "accounts")![column];
    expect(value(parsed, "pgbouncer_databases_pool_size", { name: "accounts" })).toBe(
      Number(db("pool_size")),
    );
    // 1.24 renamed reserve_pool to reserve_pool_size; the metric keeps its name.
    expect(value(parsed, "pgbouncer_databases_reserve_pool", { name: "accounts" })).toBe(
      Number(db("reserve_pool") ?? db("reserve_pool_size")),
    );
    expect(
      value(parsed, "pgbouncer_databases_pool_size", { name: "accounts", force_user: "" }),
    ).toBeDefined();
    const orders = show.stats.find((r) => r.database === "orders")!;
    expect(
      value(parsed, "pgbouncer_stats_totals_client_wait_seconds_total", { database: "orders" }),
    ).toBeCloseTo(Number(orders.total_wait_time) / 1e6, 12);
    expect(
      value(parsed, "pgbouncer_stats_totals_sql_transactions_pooled_total", { database: "orders" }),
    ).toBe(Number(orders.total_xact_count));
    const pool = show.pools.find((r) => r.database === "orders")!;
    expect(
      value(parsed, "pgbouncer_pools_server_idle_connections", {
        database: "orders",
        user: "orders",
      }),
    ).toBe(Number(pool.sv_idle));
    const used = show.lists.find((r) => r.list === "used_clients")!;
    expect(value(parsed, "pgbouncer_used_clients", {})).toBe(Number(used.items));
    const maxClient = show.config.find((r) => r.key === "max_client_conn")!;
    expect(value(parsed, "pgbouncer_config_max_client_connections", {})).toBe(
      Number(maxClient.value),
    );
  });

  test("is sorted and deterministic, one TYPE per family", () => {
    expect(pgbouncerExposition(show)).toBe(text);
    const families = [...text.matchAll(/^# TYPE (\S+)/gm)].map((m) => m[1]!);
    expect(families).toEqual([...families].sort());
    expect(new Set(families).size).toBe(families.length);
    expect(text.endsWith("\n")).toBe(true);
  });
});

test("1.24 serves every PgBouncer metric of the catalogue; 1.18 all but the newer columns'", () => {
  const served = (file: string) =>
    new Set(parse(pgbouncerExposition(showResults(file))).samples.map((s) => s.name));
  const catalogued = CATALOGUE.filter((m) => m.source === "pgbouncer_exporter").map((m) => m.name);
  expect(catalogued.filter((n) => !served("show-1.24.json").has(n))).toEqual([]);
  expect(catalogued.filter((n) => !served("show-1.18.json").has(n)).sort()).toEqual([
    "pgbouncer_stats_totals_binds_total",
    "pgbouncer_stats_totals_client_parses_total",
    "pgbouncer_stats_totals_server_assignments_total",
    "pgbouncer_stats_totals_server_parses_total",
  ]);
});

test("label values are escaped and NULL numbers are NaN", () => {
  expect(escapeLabelValue('a"b\\c\nd')).toBe('a\\"b\\\\c\\nd');
  const show = showResults("show-1.24.json");
  show.databases = [{ ...show.databases[0]!, name: 'x"y', force_user: null, paused: null }];
  const text = pgbouncerExposition(show);
  expect(text).toContain('name="x\\"y"');
  expect(text).toMatch(/^pgbouncer_databases_paused\{.*force_user="".*\} NaN$/m);
});

test("a non-numeric value is an error naming the command and column", () => {
  const show = showResults("show-1.18.json");
  show.stats = [{ ...show.stats[0]!, total_xact_count: "many" }];
  expect(() => pgbouncerExposition(show)).toThrow(
    /SHOW STATS column total_xact_count must be numeric, got "many"/,
  );
});

test("the down exposition is pgbouncer_up 0 alone", () => {
  expect(parse(pgbouncerDownExposition()).samples).toEqual([
    { name: "pgbouncer_up", labels: {}, value: 0 },
  ]);
});
