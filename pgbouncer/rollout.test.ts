import { describe, expect, test } from "vitest";
import { loadStack } from "../platform/config.js";
import { buildPlan } from "../platform/plan.js";
import { CAPABILITIES } from "../platform/capabilities.js";
import { PRODUCTION_LAYOUT } from "./layout.js";
import { renderHostFiles, userlistEntries } from "./render.js";
import {
  fleetRevision,
  fleetRollout,
  hostRollout,
  iniRollout,
  parseFleetRollout,
  type FileSet,
} from "./rollout.js";

const plan = buildPlan(loadStack("prod"));
const files = renderHostFiles({
  plan,
  host: plan.hosts[0]!,
  upstreams: { primary: "primary.db.internal", replicas: ["r1", "r2"], port: 5432 },
  layout: PRODUCTION_LAYOUT,
  users: userlistEntries(plan, "redacted"),
});
const ini = files["pgbouncer.ini"];

/** The ini with one `key = value` line of [pgbouncer] set (or added, or removed with undefined). */
function withKey(key: string, value: string | undefined): string {
  const line = new RegExp(`^${key} = .*$\\n?`, "m");
  if (value === undefined) return ini.replace(line, "");
  if (line.test(ini)) return ini.replace(line, `${key} = ${value}\n`);
  return ini.replace("[pgbouncer]\n", `[pgbouncer]\n${key} = ${value}\n`);
}

describe("iniRollout: which keys RELOAD applies, from the capability table", () => {
  test.each([
    ["nothing", ini, "none"],
    ["a re-render of the same plan", ini.slice(0), "none"],
    ["a comment (the header)", ini.replace("pgbouncer-1", "pgbouncer-9"), "none"],
    ["max_client_conn", withKey("max_client_conn", "900"), "reload"],
    ["query_wait_timeout", withKey("query_wait_timeout", "20"), "reload"],
    ["a tunable added", withKey("log_stats", "0"), "reload"],
    ["a tunable removed", withKey("tcp_keepalive", undefined), "reload"],
    ["listen_port", withKey("listen_port", "6433"), "rolling-restart"],
    ["listen_addr", withKey("listen_addr", "10.0.0.1"), "rolling-restart"],
    ["unix_socket_dir", withKey("unix_socket_dir", "/run/pgb"), "rolling-restart"],
    ["pidfile", withKey("pidfile", "/run/pgb/pgbouncer.pid"), "rolling-restart"],
    ["pkt_buf added", withKey("pkt_buf", "8192"), "rolling-restart"],
    ["a key the table does not know", withKey("brand_new_key", "1"), "rolling-restart"],
    ["a pool size", ini.replace(/^(orders = .*) pool_size=\d+/m, "$1 pool_size=99"), "reload"],
    ["an upstream host", ini.replaceAll("host=primary.db.internal", "host=other"), "reload"],
    ["a new entry", ini.replace(/^(orders = .*)$/m, "$1\nextra = host=x dbname=extra"), "reload"],
    [
      "a peer added (a host joins)",
      ini.replace(/^(3 = .*)$/m, "$1\n4 = host=10.40.0.17 port=6432"),
      "reload",
    ],
    ["a peer removed", ini.replace(/^3 = .*\n/m, ""), "reload"],
    ["a peer's address", ini.replace("host=10.40.16.16", "host=10.40.16.17"), "reload"],
    ["the host's peer_id", withKey("peer_id", "7"), "reload"],
    ["an entry removed", ini.replace(/^orders_ro_replica1 = .*\n/m, ""), "reload"],
    [
      "a reload key and a restart key together",
      withKey("max_client_conn", "900").replace("listen_port = 6432", "listen_port = 6433"),
      "rolling-restart",
    ],
  ])("%s → %s", (_, after, action) => {
    expect(iniRollout(ini, after).action).toBe(action);
  });

  test("the cloud ini has [peers]; a change there is named by peer", () => {
    expect(ini).toMatch(/^\[peers\]$/m);
    expect(iniRollout(ini, ini.replace(/^3 = .*\n/m, "")).reasons).toEqual(["[peers] 3 removed"]);
  });

  test("reasons name each changed key and say why a restart is needed", () => {
    const after = withKey("max_client_conn", "900").replace(
      "listen_port = 6432",
      "listen_port = 6433",
    );
    expect(iniRollout(ini, after).reasons).toEqual([
      "[pgbouncer] listen_port changed: only a restart applies it",
      "[pgbouncer] max_client_conn changed",
    ]);
  });

  test.each(
    CAPABILITIES.filter((c) => c.section === "pgbouncer").map((c) => [c.key, c.reloadable]),
  )(
    "[pgbouncer] %s: restart exactly when the table says it is not reloadable",
    (key, reloadable) => {
      const after = withKey(key as string, "changed-value");
      expect(iniRollout(ini, after).action).toBe(reloadable ? "reload" : "rolling-restart");
    },
  );
});

describe("hostRollout: every delivered file", () => {
  const base: FileSet = {
    ...files,
    "pgbouncer.pref": "Pin: version 1.26.1-*\n",
    "pgbouncer.crt": "certificate\n",
    "pgbouncer.key": "key\n",
  };
  test.each([
    ["nothing", {}, "none"],
    ["the userlist", { "userlist.txt": "other" }, "reload"],
    ["logrotate only", { "logrotate.conf": "other" }, "none"],
    [
      "the systemd unit (LimitNOFILE)",
      { "pgbouncer.service": "LimitNOFILE=4096" },
      "rolling-restart",
    ],
    [
      "the package pin (a new PgBouncer)",
      { "pgbouncer.pref": "Pin: version 1.26.2-*\n" },
      "rolling-restart",
    ],
    ["the certificate (a renewal)", { "pgbouncer.crt": "other" }, "reload"],
    [
      "the certificate and its key (a new key)",
      { "pgbouncer.crt": "a", "pgbouncer.key": "b" },
      "reload",
    ],
    ["an unknown file", { "other.conf": "x" }, "rolling-restart"],
    [
      "the userlist and a restart key",
      { "userlist.txt": "x", "pgbouncer.ini": withKey("pkt_buf", "8192") },
      "rolling-restart",
    ],
  ])("%s → %s", (_, change, action) => {
    expect(hostRollout(base, { ...base, ...change }).action).toBe(action);
  });
});

describe("fleetRollout: one decision per revision", () => {
  const hosts = (ini: string) =>
    Object.fromEntries(plan.hosts.map((h) => [h.name, { ...files, "pgbouncer.ini": ini }]));
  /** What Parameter Store lets the program read back: everything but the encrypted userlist. */
  const readable = (fleet: Record<string, FileSet>) =>
    Object.fromEntries(
      Object.entries(fleet).map(([h, f]) => {
        const { "userlist.txt": _secret, ...rest } = f;
        return [h, rest];
      }),
    );
  const current = hosts(ini);

  test("first deploy: hosts boot with the files, nothing to roll", () => {
    expect(fleetRollout({ files: {} }, current)).toMatchObject({ action: "none" });
  });

  test("a restart key rolls the fleet; the same revision later keeps that decision (no flip, no re-run)", () => {
    const next = hosts(withKey("listen_port", "6433"));
    const first = fleetRollout({ files: readable(current) }, next);
    expect(first).toMatchObject({ action: "rolling-restart", revision: fleetRevision(next) });
    // after the deploy, Parameter Store holds `next` and the recorded decision
    expect(fleetRollout({ files: readable(next), rollout: first }, next)).toBe(first);
  });

  test("a userlist-only change (not readable back) is a RELOAD", () => {
    const next = Object.fromEntries(
      Object.entries(current).map(([h, f]) => [h, { ...f, "userlist.txt": "rotated" }]),
    );
    const decision = fleetRollout(
      { files: readable(current), rollout: fleetRollout({ files: {} }, current) },
      next,
    );
    expect(decision.action).toBe("reload");
    expect(decision.reasons.join()).toMatch(/userlist/);
  });

  // GIVEN hosts serving a certificate WHEN only the key is new (not readable back: a
  // SecureString) or the certificate is new THEN the fleet reloads, like a userlist change.
  test("a TLS key or certificate rotation is a RELOAD, never a restart", () => {
    const tls = (crt: string, key: string) =>
      Object.fromEntries(
        Object.entries(current).map(([h, f]) => [
          h,
          { ...f, "pgbouncer.crt": crt, "pgbouncer.key": key },
        ]),
      );
    const readableTls = (fleet: Record<string, FileSet>) =>
      Object.fromEntries(
        Object.entries(readable(fleet)).map(([h, f]) => {
          const { "pgbouncer.key": _secret, ...rest } = f;
          return [h, rest];
        }),
      );
    const before = tls("cert 1", "key 1");
    const keyOnly = fleetRollout({ files: readableTls(before) }, tls("cert 1", "key 2"));
    expect(keyOnly.action).toBe("reload");
    expect(keyOnly.reasons.join()).toMatch(/pgbouncer\.key, userlist\.txt may have changed/);
    const renewed = fleetRollout({ files: readableTls(before) }, tls("cert 2", "key 1"));
    expect(renewed).toMatchObject({
      action: "reload",
      reasons: ["pgbouncer.crt changed: RELOAD loads the new certificate"],
    });
  });

  test("a host added to the fleet boots with the new files; the others reload", () => {
    const { "pgbouncer-3": _new, ...old } = readable(current);
    expect(fleetRollout({ files: old }, hosts(withKey("max_client_conn", "900"))).action).toBe(
      "reload",
    );
  });

  test("the revision ignores key order and changes with any byte of any host", () => {
    const reordered = Object.fromEntries(Object.entries(current).reverse());
    expect(fleetRevision(reordered)).toBe(fleetRevision(current));
    expect(fleetRevision(hosts(ini + " "))).not.toBe(fleetRevision(current));
  });

  test.each([
    ["not JSON", "{"],
    ["an unknown action", JSON.stringify({ revision: "x", action: "restart", reasons: [] })],
    ["no reasons", JSON.stringify({ revision: "x", action: "reload" })],
  ])("a recorded decision that is %s is ignored", (_, text) => {
    expect(parseFleetRollout(text)).toBeUndefined();
  });
});
