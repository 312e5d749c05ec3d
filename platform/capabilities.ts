/**
 * Which pgbouncer.ini keys each supported PgBouncer release understands, and which of them a running
 * PgBouncer applies on RELOAD (SIGHUP).
 *
 * Why a table: a release rejects keys it does not know. An unknown [pgbouncer] key is an ERROR and
 * an unknown [databases] parameter is "unrecognized connection parameter". Either one stops 1.18.0
 * at startup, and makes a RELOAD fail. So a render for a version may emit only the keys that version
 * knows. `reloadable` decides how a change is rolled out. A change to reloadable keys is a RELOAD;
 * any change to a restart key (listen socket, pidfile, packet buffers, ...) needs a rolling restart.
 *
 * Where the facts come from:
 * - 1.18.0 (Debian 12): the installed /usr/sbin/pgbouncer. It starts with every "1.18.0" key below
 *   and rejects every later one (capabilities.live.test.ts). Its SHOW CONFIG `changeable` column
 *   gives reloadability.
 * - Later keys: "since" comes from the upstream changelog entry (PR number given in `source`), and
 *   the key itself from src/main.c `bouncer_params` / src/loader.c `parse_database`. In main.c,
 *   reloadable means the CF_ABS entry has no CF_NO_RELOAD flag (main.c of the 1.25 line and of
 *   master before 1.26.0, which has every 1.26 key).
 * - 1.26.1 (the production line): its binary starts with every key the table says it knows and
 *   refuses the rest (capabilities.live.test.ts). 1.26.0 removed online restart (`-R`, SHOW FDS,
 *   SUSPEND, #1581) and with it `suspend_timeout`, the one ini key that only served it.
 * - Every [databases] entry is parsed again on RELOAD (loader.c), so all its options are reloadable.
 * - Not modelled: the [users] section (per-user pool_mode, transaction_timeout from 1.25,
 *   query_wait_timeout from 1.26, ...). The renderer writes no [users] section.
 */

export type Section = "pgbouncer" | "databases";

/** A PgBouncer release as [major, minor, patch]. */
export type Version = readonly [number, number, number];

export interface KeyCapability {
  section: Section;
  key: string;
  /** First release that knows the key, "1.18.0" meaning it predates our oldest supported line. */
  since: string;
  /** First release that no longer accepts the key (renamed or removed), if any. */
  removedIn?: string;
  /** The key that replaces it from `removedIn`/ a rename, if any. */
  renamedTo?: string;
  /** true when a running PgBouncer applies a change on RELOAD/SIGHUP; false when it needs a restart. */
  reloadable: boolean;
  /** Where the fact comes from (changelog entry / source file), short. */
  source: string;
}

/**
 * Oldest: what Debian 12 ships. Production: the newest 1.26.x release. 1.26.1 (October 2026, CVE
 * fixes) adds no keys to 1.26.0, as 1.25.1 and 1.25.2 added none to 1.25.0.
 */
export const SUPPORTED_VERSIONS: { oldest: string; production: string } = Object.freeze({
  oldest: "1.18.0",
  production: "1.26.1",
});

/** Since 1.17.0 a [databases] `host` may be a comma-separated list, used round-robin (NEWS.md). */
export const HOST_LIST_SINCE = "1.17.0";

/** The [peers] section (with `peer_id`) arrived in 1.19.0 (#666). 1.18.0 has no such section. */
export const PEERS_SECTION_SINCE = "1.19.0";

/**
 * Before 1.25.0, server_tls_sslmode verify-ca/verify-full checks a multi-host entry's server
 * certificate against the whole `host=a,b` list, so every login fails ("name `a,b' not present in
 * server certificate", seen on 1.18.0 here); 1.25.0 fixed it (#1303).
 */
export const MULTI_HOST_VERIFY_SINCE = "1.25.0";

/**
 * Releases whose real binary runs capabilities.live.test.ts in `npm test` (Debian 12's package,
 * and the production line's package in the local stack's root): for them every row below is proven
 * live, accepted when the table says the release knows the key and refused when it says it does
 * not. What lies between (1.19 to 1.25) rests on the changelog and source, as `source` says.
 */
export const PROVEN_LIVE_LINES = ["1.18.0", "1.26.1"] as const;

/** The lines on which this key's row was proven against the real binary. */
export function provenLive(section: Section, key: string): string[] {
  capability(section, key);
  return PROVEN_LIVE_LINES.filter((line) => knows(parseVersion(line), section, key));
}

const OLD = SUPPORTED_VERSIONS.oldest;
const RELOAD = true;
const RESTART = false;
const PGB_OLD = "main.c bouncer_params; 1.18.0 SHOW CONFIG changeable=yes";
const PGB_FIXED = "main.c CF_NO_RELOAD; 1.18.0 SHOW CONFIG changeable=no";
const DB_OLD = "loader.c parse_database; accepted by 1.18.0; re-parsed on RELOAD";

type Rename = Pick<KeyCapability, "removedIn" | "renamedTo">;

function entry(
  section: Section,
  key: string,
  since: string,
  reloadable: boolean,
  source: string,
  rename: Rename = {},
): KeyCapability {
  return Object.freeze({ section, key, since, reloadable, source, ...rename });
}
const db = (key: string, since = OLD, source = DB_OLD, rename: Rename = {}) =>
  entry("databases", key, since, RELOAD, source, rename);
const pgb = (
  key: string,
  since = OLD,
  reloadable = RELOAD,
  source = PGB_OLD,
  rename: Rename = {},
) => entry("pgbouncer", key, since, reloadable, source, rename);
const fixed = (key: string) => pgb(key, OLD, RESTART, PGB_FIXED);

export const CAPABILITIES: readonly KeyCapability[] = Object.freeze([
  db("application_name"),
  db("auth_dbname", "1.19.0", "changelog 1.19.0 (#764); loader.c parse_database"),
  db("auth_query", "1.22.0", "changelog 1.22.0: auth_query per database (#979)"),
  db("auth_user"),
  db("client_encoding"),
  db("connect_query"),
  db("datestyle"),
  db("dbname"),
  db("host", OLD, `${DB_OLD}; comma-separated host list since ${HOST_LIST_SINCE}`),
  db("load_balance_hosts", "1.24.0", "changelog 1.24.0 (#736); loader.c parse_database"),
  db("max_db_client_connections", "1.24.0", "changelog 1.24.0 (#1138); loader.c parse_database"),
  db("max_db_connections"),
  db("min_pool_size"),
  db("password"),
  db("pool_mode"),
  db("pool_size"),
  db("port"),
  db("query_wait_timeout", "1.26.0", "changelog 1.26.0 (#1449); loader.c parse_database"),
  // Renamed in 1.24.0 (#1232), but loader.c still accepts the old name as an alias: no removedIn.
  db("reserve_pool", OLD, `${DB_OLD}; alias of reserve_pool_size since 1.24.0 (#1232)`, {
    renamedTo: "reserve_pool_size",
  }),
  db("reserve_pool_size", "1.24.0", "changelog 1.24.0: per-database reserve_pool renamed (#1232)"),
  db("timezone"),
  // Removing user= on RELOAD keeps the old forced user ("losing forced user not supported").
  db("user", OLD, `${DB_OLD}; removing it on RELOAD is ignored (loader.c)`),
  pgb("admin_users"),
  pgb("application_name_add_host"),
  pgb("auth_dbname", "1.19.0", RELOAD, "changelog 1.19.0 (#764); main.c flags 0"),
  pgb("auth_file"),
  pgb("auth_hba_file"),
  pgb("auth_ldap_options", "1.25.0", RELOAD, "changelog 1.25.0 (#731); main.c flags 0"),
  pgb("auth_query"),
  pgb("auth_type"),
  pgb("auth_user"),
  pgb("cancel_wait_timeout", "1.19.0", RELOAD, "changelog 1.19.0 (#833); main.c flags 0"),
  pgb("client_idle_timeout"),
  pgb("client_login_timeout"),
  pgb("client_tls13_ciphers", "1.25.0", RELOAD, "changelog 1.25.0 (#1352); main.c flags 0"),
  pgb("client_tls_ca_file"),
  pgb("client_tls_cert_file"),
  pgb("client_tls_ciphers"),
  pgb("client_tls_key_file"),
  pgb("client_tls_protocols"),
  pgb("client_tls_sslmode"),
  pgb("default_pool_size"),
  pgb("dns_max_ttl"),
  pgb("idle_transaction_timeout"),
  pgb("ignore_startup_parameters"),
  fixed("listen_addr"),
  fixed("listen_backlog"),
  fixed("listen_port"),
  pgb("log_connections"),
  pgb("log_disconnections"),
  pgb("log_pooler_errors"),
  pgb("log_stats"),
  pgb("logfile"),
  pgb("login_notify_message", "1.26.0", RELOAD, "changelog 1.26.0 (#1488); main.c flags 0"),
  pgb("max_client_conn"),
  pgb("max_db_client_connections", "1.24.0", RELOAD, "changelog 1.24.0 (#1138); main.c flags 0"),
  pgb("max_db_connections"),
  pgb("max_packet_size"),
  pgb("max_prepared_statements", "1.21.0", RELOAD, "changelog 1.21.0 (#845); default 200 in 1.24"),
  pgb("max_user_client_connections", "1.24.0", RELOAD, "changelog 1.24.0 (#1137); main.c flags 0"),
  pgb("max_user_connections"),
  pgb("min_pool_size"),
  pgb("peer_id", PEERS_SECTION_SINCE, RELOAD, "changelog 1.19.0 (#666); main.c 1.25 flags 0"),
  fixed("pidfile"),
  fixed("pkt_buf"),
  pgb("pool_idle_timeout", "1.26.0", RELOAD, "changelog 1.26.0 (#1491); main.c flags 0"),
  pgb("pool_mode"),
  pgb("query_timeout"),
  pgb("query_wait_notify", "1.25.0", RELOAD, "changelog 1.25.0 (#1264); main.c flags 0"),
  pgb("query_wait_timeout"),
  pgb("reserve_pool_size"),
  pgb("reserve_pool_timeout"),
  pgb("sbuf_loopcnt"),
  pgb("scram_iterations", "1.25.0", RELOAD, "changelog 1.25.0 (#1339); main.c flags 0"),
  pgb("server_check_delay"),
  pgb("server_check_query"),
  pgb("server_connect_timeout"),
  pgb("server_fast_close"),
  pgb("server_idle_timeout"),
  pgb("server_lifetime"),
  pgb("server_login_retry"),
  pgb("server_reset_query"),
  pgb("server_reset_query_always"),
  pgb("server_round_robin"),
  pgb("server_tls13_ciphers", "1.25.0", RELOAD, "changelog 1.25.0 (#1352); main.c flags 0"),
  pgb("server_tls_ca_file"),
  pgb("server_tls_protocols"),
  pgb("server_tls_sslmode"),
  fixed("so_reuseport"),
  pgb("stats_period"),
  pgb("stats_users"),
  // Only SUSPEND and online restart (-R) used it; 1.26.0 removed both (#1581), and the key too.
  pgb("suspend_timeout", OLD, RELOAD, "main.c flags 0 to 1.25; changelog 1.26.0: removed (#1581)", {
    removedIn: "1.26.0",
  }),
  pgb("syslog"),
  pgb("tcp_keepalive"),
  pgb("tcp_keepcnt"),
  pgb("tcp_keepidle"),
  pgb("tcp_keepintvl"),
  pgb("tcp_user_timeout"),
  pgb("track_extra_parameters", "1.20.0", RESTART, "changelog 1.20.0 (#867); main.c CF_NO_RELOAD"),
  pgb("transaction_timeout", "1.25.0", RELOAD, "changelog 1.25.0 (#1242); main.c flags 0"),
  fixed("unix_socket_dir"),
  fixed("unix_socket_mode"),
]);

const VERSION_TEXT = /^(0|[1-9]\d*)\.(0|[1-9]\d*)(?:\.(0|[1-9]\d*))?$/;

function parseLoose(text: string): Version | undefined {
  const match = VERSION_TEXT.exec(text);
  if (!match) return undefined;
  return [Number(match[1]), Number(match[2]), Number(match[3] ?? 0)];
}

/** Lexicographic order of [major, minor, patch]: negative, zero or positive. */
export function compareVersions(a: Version, b: Version): number {
  for (let i = 0; i < 3; i++) {
    const diff = (a[i] ?? 0) - (b[i] ?? 0);
    if (diff !== 0) return Math.sign(diff);
  }
  return 0;
}

const OLDEST = parseLoose(SUPPORTED_VERSIONS.oldest) as Version;
const PRODUCTION = parseLoose(SUPPORTED_VERSIONS.production) as Version;

/**
 * "1.26" or "1.26.1" into a Version. Anything else, or a release outside the supported range,
 * throws: the table says nothing trustworthy about releases it was not checked against.
 */
export function parseVersion(text: string): Version {
  const version = parseLoose(text);
  if (!version) {
    throw new Error(`invalid PgBouncer version ${JSON.stringify(text)}: expected N.N or N.N.N`);
  }
  if (compareVersions(version, OLDEST) < 0 || compareVersions(version, PRODUCTION) > 0) {
    throw new Error(
      `unsupported PgBouncer version ${JSON.stringify(text)}: supported are ` +
        `${SUPPORTED_VERSIONS.oldest} to ${SUPPORTED_VERSIONS.production}`,
    );
  }
  return version;
}

const BY_NAME = new Map(CAPABILITIES.map((c) => [`${c.section}/${c.key}`, c]));

/** The table row for a key; throws for a key the renderer has no facts about. */
export function capability(section: Section, key: string): KeyCapability {
  const found = BY_NAME.get(`${section}/${key}`);
  if (!found) throw new Error(`no capability recorded for [${section}] ${JSON.stringify(key)}`);
  return found;
}

/** Whether that release accepts the key; false for a key the table does not list. */
export function knows(version: Version, section: Section, key: string): boolean {
  const found = BY_NAME.get(`${section}/${key}`);
  if (!found) return false;
  const since = parseLoose(found.since) as Version;
  const gone = found.removedIn === undefined ? undefined : (parseLoose(found.removedIn) as Version);
  return compareVersions(version, since) >= 0 && (!gone || compareVersions(version, gone) < 0);
}

/**
 * The per-database reserve key for that version: "reserve_pool" before its rename,
 * "reserve_pool_size" after (1.24.0 still accepts the old name, but we emit the new one).
 */
export function databaseReserveKey(version: Version): "reserve_pool" | "reserve_pool_size" {
  return knows(version, "databases", "reserve_pool_size") ? "reserve_pool_size" : "reserve_pool";
}
