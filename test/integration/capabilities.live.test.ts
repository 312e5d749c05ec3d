/**
 * Checks the capability table against the real PgBouncer of the line under test: Debian 12's
 * 1.18.0, or the production line's 1.26.1 in its root. The binary must start with every key the
 * table says it knows, and refuse every key the table says it does not know: a wrong row shows up
 * here, not in a rollout. No PgBouncer that parseVersion accepts? Then the suite fails: the test
 * stack installs one.
 *
 * PgBouncer refuses to run as root, so as root it runs as `postgres` (spawn with uid/gid, or
 * chroot --userspec in the root: the same process, so we signal it directly). It uses a free
 * 127.0.0.1 port, keeps all its files in a fresh folder of the local stack's state folder (which
 * the root shares) owned by that user, and is stopped before each test ends.
 */
import { execFileSync, spawn } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  CAPABILITIES,
  HOST_LIST_SINCE,
  capability,
  compareVersions,
  knows,
  parseVersion,
  type KeyCapability,
  type Version,
  PROVEN_LIVE_LINES,
} from "../../platform/capabilities.js";
import { selectedPgbouncer } from "../../local/lines.js";
import { productionRoot } from "../../local/runtime.js";
import { stateDir } from "../../local/state-dir.js";

/**
 * The binary of the PgBouncer line this integration run uses (npm test runs each line): Debian
 * 12's on this machine, or the production line's inside its root (run there with chroot).
 */
const PGBOUNCER = selectedPgbouncer();
const BINARY = PGBOUNCER.binary;
/** argv that runs the binary, as `ids` when given (chroot --userspec inside the root). */
const command = (args: string[], ids?: { uid: number; gid: number }): [string, string[]] =>
  PGBOUNCER.inRoot
    ? [
        "chroot",
        [...(ids ? [`--userspec=${ids.uid}:${ids.gid}`] : []), productionRoot(), BINARY, ...args],
      ]
    : [BINARY, args];
const UNKNOWN = /unknown parameter: pgbouncer\/|unrecognized connection parameter: /;

function installedVersion(): Version | undefined {
  if (!existsSync(PGBOUNCER.hostPath)) return undefined;
  try {
    const out = execFileSync(...command(["--version"]), { encoding: "utf8" });
    const match = /^PgBouncer (\S+)/m.exec(out);
    return match ? parseVersion(match[1]!) : undefined;
  } catch {
    return undefined; // not runnable, or a release outside the supported range
  }
}

/** Root runs PgBouncer as postgres; anyone else runs it as themselves. */
function runAs(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return { uid: process.getuid!(), gid: process.getgid!() };
  try {
    const id = (flag: string) =>
      Number(execFileSync("id", [flag, "postgres"], { encoding: "utf8" }));
    return { uid: id("-u"), gid: id("-g") };
  } catch {
    return undefined;
  }
}

const VERSION = installedVersion();
const USER = runAs();

/**
 * A valid value for every key in the table. The TLS file keys get "" (their default). With both
 * sslmodes "disable" no certificate is needed, and the key is still parsed, so it is still checked.
 */
function liveValues(dir: string, port: number): Record<string, string> {
  const authQuery = "SELECT usename, passwd FROM pg_shadow WHERE usename=$1";
  const pgbouncer: Record<string, string> = {
    admin_users: "postgres",
    application_name_add_host: "1",
    auth_dbname: "postgres",
    auth_file: join(dir, "userlist.txt"),
    auth_hba_file: join(dir, "pgbouncer_hba.conf"),
    auth_ldap_options: "",
    auth_query: authQuery,
    auth_type: "trust",
    auth_user: "postgres",
    cancel_wait_timeout: "10",
    client_idle_timeout: "0",
    client_login_timeout: "60",
    client_tls13_ciphers: "TLS_AES_256_GCM_SHA384",
    client_tls_ca_file: "",
    client_tls_cert_file: "",
    client_tls_ciphers: "default",
    client_tls_key_file: "",
    client_tls_protocols: "secure",
    client_tls_sslmode: "disable",
    default_pool_size: "20",
    dns_max_ttl: "15",
    idle_transaction_timeout: "0",
    ignore_startup_parameters: "extra_float_digits",
    listen_addr: "127.0.0.1",
    listen_backlog: "128",
    listen_port: String(port),
    log_connections: "1",
    log_disconnections: "1",
    log_pooler_errors: "1",
    log_stats: "1",
    logfile: join(dir, "pgbouncer.log"),
    login_notify_message: "capcheck",
    max_client_conn: "100",
    max_db_client_connections: "0",
    max_db_connections: "0",
    max_packet_size: "2147483647",
    max_prepared_statements: "0",
    max_user_client_connections: "0",
    max_user_connections: "0",
    min_pool_size: "0",
    peer_id: "1",
    pidfile: join(dir, "pgbouncer.pid"),
    pkt_buf: "4096",
    pool_idle_timeout: "0",
    pool_mode: "transaction",
    query_timeout: "0",
    query_wait_notify: "5",
    query_wait_timeout: "120",
    reserve_pool_size: "0",
    reserve_pool_timeout: "5",
    sbuf_loopcnt: "5",
    scram_iterations: "4096",
    server_check_delay: "30",
    server_check_query: "select 1",
    server_connect_timeout: "15",
    server_fast_close: "0",
    server_idle_timeout: "600",
    server_lifetime: "3600",
    server_login_retry: "15",
    server_reset_query: "DISCARD ALL",
    server_reset_query_always: "0",
    server_round_robin: "0",
    server_tls13_ciphers: "TLS_AES_256_GCM_SHA384",
    server_tls_ca_file: "",
    server_tls_protocols: "secure",
    server_tls_sslmode: "disable",
    so_reuseport: "0",
    stats_period: "60",
    stats_users: "postgres",
    suspend_timeout: "10",
    syslog: "0",
    tcp_keepalive: "1",
    tcp_keepcnt: "3",
    tcp_keepidle: "60",
    tcp_keepintvl: "10",
    tcp_user_timeout: "10000",
    track_extra_parameters: "IntervalStyle",
    transaction_timeout: "0",
    unix_socket_dir: dir,
    unix_socket_mode: "0700",
  };
  // min_pool_size=0: nothing ever dials the (absent) PostgreSQL on 127.0.0.1:5432.
  const databases: Record<string, string> = {
    application_name: "capcheck",
    auth_dbname: "postgres",
    auth_query: authQuery,
    auth_user: "postgres",
    client_encoding: "UTF8",
    connect_query: "SELECT 1",
    datestyle: "ISO",
    dbname: "postgres",
    host: "127.0.0.1",
    load_balance_hosts: "disable",
    max_db_client_connections: "5",
    max_db_connections: "5",
    min_pool_size: "0",
    password: "unused",
    pool_mode: "transaction",
    pool_size: "2",
    port: "5432",
    query_wait_timeout: "5",
    reserve_pool: "1",
    reserve_pool_size: "1",
    timezone: "UTC",
    user: "postgres",
  };
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(pgbouncer)) out[`pgbouncer/${key}`] = value;
  for (const [key, value] of Object.entries(databases)) out[`databases/${key}`] = value;
  return out;
}

const connValue = (v: string) => (/[\s']/.test(v) ? `'${v.replaceAll("'", "''")}'` : v);

const BASE_KEYS = ["listen_addr", "listen_port", "unix_socket_dir", "logfile", "pidfile"];
const BASE = [...BASE_KEYS, "auth_type", "auth_file"].map((key) => capability("pgbouncer", key));
const HOST_LIST = HOST_LIST_SINCE.split(".").map(Number) as unknown as Version;

/** pgbouncer.ini with the given rows on top of a minimal valid base. */
function renderIni(rows: readonly KeyCapability[], values: Record<string, string>): string {
  const all = new Map([...BASE, ...rows].map((r) => [`${r.section}/${r.key}`, r]));
  const value = (r: KeyCapability) => {
    const v = values[`${r.section}/${r.key}`];
    if (v === undefined) throw new Error(`no live value for [${r.section}] ${r.key}`);
    return v;
  };
  const pick = (section: string) => [...all.values()].filter((r) => r.section === section);
  const conn = pick("databases").map((r) => `${r.key}=${connValue(value(r))}`);
  if (!conn.some((c) => c.startsWith("host="))) conn.unshift("host=127.0.0.1");
  const hostList = compareVersions(VERSION!, HOST_LIST) >= 0;
  return [
    "[databases]",
    `capcheck = ${conn.join(" ")}`,
    hostList ? "hostlist = host=127.0.0.1,127.0.0.2" : "",
    "[pgbouncer]",
    ...pick("pgbouncer").map((r) => `${r.key} = ${value(r)}`),
    "",
  ].join("\n");
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address ? resolve(address.port) : reject(),
      );
    });
  });
}

interface Run {
  up: boolean;
  code: number | null;
  output: string;
}

/** Starts PgBouncer on `ini`, waits for "process up" or exit, and always leaves it stopped. */
function runPgbouncer(dir: string, ini: string): Promise<Run> {
  const path = join(dir, "pgbouncer.ini");
  writeFileSync(path, ini);
  chownSync(path, USER!.uid, USER!.gid);
  // Inside the root chroot itself drops to the user; on this machine spawn does.
  const [file, argv] = command([path], PGBOUNCER.inRoot ? USER : undefined);
  const child = spawn(file, argv, {
    ...(PGBOUNCER.inRoot ? {} : USER),
    cwd: dir,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  let up = false;
  return new Promise((resolve) => {
    const stop = () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    };
    const force = setTimeout(() => child.kill("SIGKILL"), 15_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (!up && output.includes("process up")) {
        up = true;
        stop();
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    const giveUp = setTimeout(stop, 10_000);
    child.on("exit", (code) => {
      clearTimeout(giveUp);
      clearTimeout(force);
      resolve({ up, code, output });
    });
  });
}

test("a PgBouncer this table covers is installed, with its service user", () => {
  expect(VERSION, `pgbouncer -V of ${BINARY} (install: bash scripts/ensure-deps.sh)`).toBeDefined();
  expect(USER, "the postgres OS user").toBeDefined();
});

test("this line is one the table records as proven live, so that record is backed by this run", () => {
  expect(PROVEN_LIVE_LINES).toContain(VERSION!.join("."));
});

describe("real PgBouncer on this machine", () => {
  let dir = "";
  let values: Record<string, string> = {};

  beforeAll(async () => {
    // In the local stack's state folder: the root sees it under the same path.
    dir = mkdtempSync(join(stateDir(), "pgb-capabilities-"));
    chownSync(dir, USER!.uid, USER!.gid);
    const userlist = join(dir, "userlist.txt");
    writeFileSync(userlist, '"postgres" ""\n');
    chownSync(userlist, USER!.uid, USER!.gid);
    values = liveValues(dir, await freePort());
  });

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("every row of the table has a live value, so none escapes this check", () => {
    const missing = CAPABILITIES.filter((c) => values[`${c.section}/${c.key}`] === undefined);
    expect(missing.map((c) => `${c.section}/${c.key}`)).toEqual([]);
  });

  test("starts with every key the table says this version knows", async () => {
    const known = CAPABILITIES.filter((c) => knows(VERSION!, c.section, c.key));
    const run = await runPgbouncer(dir, renderIni(known, values));
    const log = existsSync(values["pgbouncer/logfile"]!)
      ? readFileSync(values["pgbouncer/logfile"]!, "utf8")
      : "";
    expect(run.output + log).not.toMatch(UNKNOWN);
    expect(run.up, run.output).toBe(true);
  }, 30_000);

  const unknownRows = CAPABILITIES.filter((c) => VERSION && !knows(VERSION, c.section, c.key));
  test.each(unknownRows.map((c) => [c.section, c.key, c] as const))(
    "refuses [%s] %s, which the table says this version does not know",
    async (_section, _key, row) => {
      const run = await runPgbouncer(dir, renderIni([row], values));
      expect(run.up, run.output).toBe(false);
      expect(run.output).toMatch(UNKNOWN);
      expect(run.output).toContain(row.key);
    },
    30_000,
  );
});
