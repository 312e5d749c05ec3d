import { natural } from "./resources.js";
import { effectiveEntries, parseIni, type EffectiveEntry, type ParsedIni } from "./ini.js";
import type { Facts, FileCopy, HostConfig } from "./types.js";

/** One copy of a host's pgbouncer.ini, parsed, with the other files of the same copy. */
export interface IniCopy {
  host: string;
  source: HostConfig["source"];
  copy: FileCopy;
  ini: ParsedIni;
  entries: EffectiveEntry[];
  config: HostConfig;
}

export function iniCopies(facts: Facts): IniCopy[] {
  return facts.hosts.flatMap((config) => {
    const copy = config.files["pgbouncer.ini"];
    if (!copy) return [];
    const ini = parseIni(copy.text);
    return [
      {
        host: config.host,
        source: config.source,
        copy,
        ini,
        entries: effectiveEntries(ini),
        config,
      },
    ];
  });
}

/** The distinct PgBouncer hosts, in plan order. */
export function hostNames(facts: Facts): string[] {
  return [...new Set(facts.hosts.map((h) => h.host))].sort(natural);
}

/**
 * The server connections an entry may open on one host: max_db_connections when it caps the
 * entry, else every pool it may grow to (pool_size + reserve) — the budget rule reports the
 * missing cap separately.
 */
export function entryCap(e: EffectiveEntry): number {
  return e.maxDbConnections > 0 ? e.maxDbConnections : e.poolSize + e.reservePoolSize;
}
