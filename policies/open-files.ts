import { entryCap, iniCopies } from "./host-files.js";
import { limitNofile, setting } from "./ini.js";
import { copyText, type Facts, type Finding, type PolicyConfig } from "./types.js";

/** systemd's soft limit when a unit sets no LimitNOFILE (DefaultLimitNOFILE=1024:524288). */
export const SYSTEMD_DEFAULT_NOFILE = 1024;

/**
 * Every client and every server connection is a socket, and a socket is a descriptor: a host's
 * max_client_conn must fit in its unit's LimitNOFILE minus the server connections its entries may
 * open and a margin for listeners, the log and the auth file. Otherwise PgBouncer accepts clients
 * it cannot serve (accept() fails with EMFILE), whatever max_client_conn promised.
 */
export function checkOpenFiles(facts: Facts, config: PolicyConfig): Finding[] {
  const findings: Finding[] = [];
  for (const c of iniCopies(facts)) {
    const unit = c.config.files[c.unit];
    const limit = unit ? limitNofile(unit.text) : undefined;
    const nofile = limit ?? SYSTEMD_DEFAULT_NOFILE;
    const server = c.entries.reduce((sum, e) => sum + entryCap(e), 0);
    const maxClientConn = Number(setting(c.ini, "max_client_conn"));
    const room = nofile - server - config.openFilesMargin;
    if (!(maxClientConn <= room)) {
      const from = unit
        ? `LimitNOFILE ${limit === undefined ? `unset (systemd's ${nofile})` : nofile} (${copyText(unit)})`
        : `LimitNOFILE ${nofile} (no ${c.unit}: systemd's default)`;
      findings.push({
        ref: c.copy.ref,
        message: `${copyText(c.copy)}: max_client_conn must be ≤ ${room} = ${from} − ${server} server connections − margin ${config.openFilesMargin}, got ${c.ini.pgbouncer.max_client_conn ?? `nothing (PgBouncer's ${maxClientConn})`}`,
      });
    }
  }
  return findings;
}
