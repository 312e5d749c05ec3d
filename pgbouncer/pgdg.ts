import { readFileSync } from "node:fs";
import type { Version } from "../platform/capabilities.js";
import { generatedHeader } from "./header.js";

/**
 * Where the cloud hosts get PgBouncer: the PostgreSQL project's own apt repository (PGDG), which
 * builds every PgBouncer release for Debian, with the same package layout as Debian's (the one
 * the local stack runs). The hosts run Debian 12, like this machine, so the cloud-init module
 * versions `cloud-init schema` checks here are the ones that run there.
 */
export const HOST_OS = { distribution: "debian", version: "12", codename: "bookworm" } as const;

/**
 * The repository's signing key, as shipped by Debian's postgresql-common
 * (/usr/share/postgresql-common/pgdg/apt.postgresql.org.asc). Embedded rather than fetched at
 * boot: a key downloaded next to the packages it vouches for proves nothing.
 */
export const PGDG_KEY = readFileSync(new URL("./pgdg-archive-key.asc", import.meta.url), "utf8");
export const PGDG_KEY_FINGERPRINT = "B97B0AFCAA1A47F044F244A07FCC7D46ACCC4CF8";
export const PGDG_KEYRING = "/etc/apt/keyrings/apt.postgresql.org.asc";
export const PGDG_SOURCES = "/etc/apt/sources.list.d/pgdg.sources";
export const PGBOUNCER_PIN = "/etc/apt/preferences.d/pgbouncer.pref";

/**
 * deb822 sources. apt.postgresql.org keeps only the newest build of each package, so a pinned
 * release would vanish from it with the next one; apt-archive.postgresql.org keeps every build
 * ever published, and the pin picks the release from whichever has it.
 */
export function pgdgSources(codename: string = HOST_OS.codename): string {
  const source = (host: string, suite: string) =>
    `Types: deb\nURIs: https://${host}/pub/repos/apt\nSuites: ${codename}-${suite}\n` +
    `Components: main\nSigned-By: ${PGDG_KEYRING}\n`;
  return (
    generatedHeader("#", "PostgreSQL apt repository (PGDG) for PgBouncer") +
    source("apt.postgresql.org", "pgdg") +
    "\n" +
    source("apt-archive.postgresql.org", "pgdg-archive")
  );
}

/**
 * The apt pin of the PgBouncer release the config is rendered for. Priority 1001 installs exactly
 * that release (downgrading if need be) and keeps upgrades from moving past it: a newer PgBouncer
 * arrives only when pgbouncer.version changes. apt reads `Explanation:` lines as comments.
 */
export function pgbouncerPin(version: Version): string {
  return (
    "Explanation: PgBouncer pin for pg-pooling. Generated from the platform model: do not edit,\n" +
    "Explanation: change pgbouncer.version in Pulumi.<stack>.yaml and deploy.\n" +
    "Package: pgbouncer\n" +
    `Pin: version ${version.join(".")}-*\n` +
    "Pin-Priority: 1001\n"
  );
}
