import { processFile, unitName } from "../pgbouncer/layout.js";
import { natural } from "./resources.js";
import { effectiveEntries, parseIni, type EffectiveEntry, type ParsedIni } from "./ini.js";
import type { Facts, FileCopy, HostConfig } from "./types.js";

/** One copy of one process's ini (pgbouncer.ini, pgbouncer-k.ini), parsed, with its copy's files. */
export interface IniCopy {
  host: string;
  source: HostConfig["source"];
  /** The process the ini is for: 1 for pgbouncer.ini, k for pgbouncer-k.ini. */
  process: number;
  /** The process's systemd unit by file name: pgbouncer.service, pgbouncer-k.service. */
  unit: string;
  copy: FileCopy;
  ini: ParsedIni;
  entries: EffectiveEntry[];
  config: HostConfig;
}

/** Every process's ini in every copy of every host's files, by host, copy, then process. */
export function iniCopies(facts: Facts): IniCopy[] {
  return facts.hosts.flatMap((config) =>
    Object.entries(config.files)
      .flatMap(([name, copy]) => {
        const file = processFile(name);
        if (file?.kind !== "ini" || !copy) return [];
        const process = file.k;
        const ini = parseIni(copy.text);
        const unit = unitName(process);
        return [
          {
            host: config.host,
            source: config.source,
            process,
            unit,
            copy,
            ini,
            entries: effectiveEntries(ini),
            config,
          },
        ];
      })
      .sort((a, b) => a.process - b.process),
  );
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
