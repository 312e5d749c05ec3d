/**
 * Reading the files a PgBouncer host runs, as PgBouncer reads them: pgbouncer.ini (sections, keys,
 * the connection string of each [databases] entry), the systemd unit's LimitNOFILE and the
 * userlist. The policies check what a host would actually run, so a hand-edited file is read the
 * same way as a rendered one. Pure.
 */

/** What PgBouncer assumes for a key that is absent (pgbouncer.org/config.html). */
export const PGBOUNCER_BUILTIN = {
  pool_mode: "session",
  default_pool_size: 20,
  reserve_pool_size: 0,
  /** 0 = no limit. */
  max_db_connections: 0,
  max_client_conn: 100,
  auth_type: "md5",
  max_prepared_statements: 0,
  client_tls_sslmode: "disable",
  server_tls_sslmode: "prefer",
} as const;

export interface ParsedIni {
  /** `[pgbouncer]` keys, as written. */
  pgbouncer: Record<string, string>;
  /** `[databases]`: entry name → its connection-string parameters. */
  databases: Record<string, Record<string, string>>;
  /** Lines PgBouncer would not take as `key = value` (an `%include`, a stray line). */
  unparsed: string[];
}

export function parseIni(text: string): ParsedIni {
  const ini: ParsedIni = { pgbouncer: {}, databases: {}, unparsed: [] };
  let section = "";
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === "" || line.startsWith(";") || line.startsWith("#")) continue;
    const header = /^\[([^\]]+)\]$/.exec(line);
    if (header) {
      section = header[1]!.trim().toLowerCase();
      continue;
    }
    const eq = line.indexOf("=");
    if (eq < 0) {
      ini.unparsed.push(line);
      continue;
    }
    const key = line.slice(0, eq).trim();
    const value = line.slice(eq + 1).trim();
    if (section === "pgbouncer") ini.pgbouncer[key] = value;
    else if (section === "databases") ini.databases[key] = parseConnstring(value);
  }
  return ini;
}

/** `host=a,b port=5432 dbname='x y'` → {host: "a,b", port: "5432", dbname: "x y"}. */
export function parseConnstring(text: string): Record<string, string> {
  const params: Record<string, string> = {};
  const re = /([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(?:'((?:[^'\\]|\\.|'')*)'|(\S*))/g;
  for (const m of text.matchAll(re)) {
    params[m[1]!] = m[2] !== undefined ? m[2].replace(/''|\\'/g, "'") : m[3]!;
  }
  return params;
}

/** One [databases] entry with PgBouncer's fallbacks applied: what a host will really run. */
export interface EffectiveEntry {
  name: string;
  hosts: string[];
  poolMode: string;
  poolSize: number;
  reservePoolSize: number;
  /** 0 = no cap. */
  maxDbConnections: number;
}

function int(value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  return Number.isFinite(n) ? n : Number.NaN;
}

export function effectiveEntries(ini: ParsedIni): EffectiveEntry[] {
  const g = ini.pgbouncer;
  return Object.entries(ini.databases)
    .map(([name, p]) => ({
      name,
      hosts: (p.host ?? "")
        .split(",")
        .map((h) => h.trim())
        .filter(Boolean),
      poolMode: p.pool_mode ?? g.pool_mode ?? PGBOUNCER_BUILTIN.pool_mode,
      poolSize: int(p.pool_size ?? g.default_pool_size, PGBOUNCER_BUILTIN.default_pool_size),
      // `reserve_pool` until 1.24, `reserve_pool_size` since (both are read by 1.24+).
      reservePoolSize: int(
        p.reserve_pool_size ?? p.reserve_pool ?? g.reserve_pool_size,
        PGBOUNCER_BUILTIN.reserve_pool_size,
      ),
      maxDbConnections: int(
        p.max_db_connections ?? g.max_db_connections,
        PGBOUNCER_BUILTIN.max_db_connections,
      ),
    }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** A `[pgbouncer]` setting with PgBouncer's own default when absent. */
export function setting(ini: ParsedIni, key: keyof typeof PGBOUNCER_BUILTIN): string {
  return ini.pgbouncer[key] ?? String(PGBOUNCER_BUILTIN[key]);
}

/** LimitNOFILE of a systemd unit's [Service], or undefined when the unit does not set one. */
export function limitNofile(unit: string): number | undefined {
  let inService = false;
  let limit: number | undefined;
  for (const raw of unit.split(/\r?\n/)) {
    const line = raw.trim();
    if (/^\[.*\]$/.test(line)) inService = line === "[Service]";
    const m = inService ? /^LimitNOFILE\s*=\s*(\S+)$/.exec(line) : null;
    // `soft:hard`: the soft limit is what the process gets.
    if (m) limit = m[1] === "infinity" ? Infinity : Number(m[1]!.split(":")[0]);
  }
  return limit;
}

/** userlist.txt lines: `"user" "secret"`. */
export function parseUserlist(text: string): { line: number; user: string; secret: string }[] {
  const out: { line: number; user: string; secret: string }[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const m = /^\s*"((?:[^"]|"")*)"\s+"((?:[^"]|"")*)"/.exec(raw);
    if (m)
      out.push({ line: i + 1, user: m[1]!.replace(/""/g, '"'), secret: m[2]!.replace(/""/g, '"') });
  });
  return out;
}
