import { createHash } from "node:crypto";
import { CAPABILITIES, type Section } from "../platform/capabilities.js";
import { processFile } from "./layout.js";

/**
 * How a config change reaches a running PgBouncer host. RELOAD (SIGHUP) applies most keys without
 * dropping a client; the keys the capability table marks `reloadable: false` (listen socket,
 * pidfile, packet buffers, …), a new systemd unit (LimitNOFILE) or a new binary need a restart,
 * which the fleet does one host at a time while the others carry the load (the plan sizes every
 * pool for the fleet minus one host). One function decides, for the local stack and the cloud.
 */
export type RolloutAction = "none" | "reload" | "rolling-restart";
export const ROLLOUT_ACTIONS: readonly RolloutAction[] = ["none", "reload", "rolling-restart"];

export interface RolloutDecision {
  action: RolloutAction;
  /** Why, one line per changed thing, for `pulumi preview` and the logs. Never a secret value. */
  reasons: string[];
}

const RANK: Record<RolloutAction, number> = { none: 0, reload: 1, "rolling-restart": 2 };

/** The stronger of several decisions, with every reason kept. */
export function combine(decisions: readonly RolloutDecision[]): RolloutDecision {
  const action = decisions.reduce<RolloutAction>(
    (max, d) => (RANK[d.action] > RANK[max] ? d.action : max),
    "none",
  );
  return { action, reasons: [...new Set(decisions.flatMap((d) => d.reasons))] };
}

/** `section.key` → value for every `key = value` line; [databases] values are whole connstrings. */
export function iniEntries(text: string): Map<string, string> {
  const entries = new Map<string, string>();
  let section = "";
  for (const line of text.split("\n")) {
    const head = /^\[(\w+)\]$/.exec(line);
    if (head) section = head[1]!;
    const kv = /^([\w.-]+) = (.*)$/.exec(line);
    if (kv) entries.set(`${section}.${kv[1]}`, kv[2]!);
  }
  return entries;
}

/** `host=a port=5432 dbname=b` → {host: a, port: 5432, dbname: b}. */
function connstring(text: string | undefined): Map<string, string> {
  const params = new Map<string, string>();
  for (const pair of (text ?? "").split(" ").filter(Boolean)) {
    const eq = pair.indexOf("=");
    params.set(eq < 0 ? pair : pair.slice(0, eq), eq < 0 ? "" : pair.slice(eq + 1));
  }
  return params;
}

const BY_KEY = new Map(CAPABILITIES.map((c) => [`${c.section}/${c.key}`, c]));

/** Restart unless the table says RELOAD applies it: a key we know nothing about is not a gamble. */
function keyDecision(section: Section, key: string, what: string): RolloutDecision {
  const known = BY_KEY.get(`${section}/${key}`);
  if (known?.reloadable) return { action: "reload", reasons: [`${what} changed`] };
  const why = known ? "only a restart applies it" : "not in the capability table, so restart";
  return { action: "rolling-restart", reasons: [`${what} changed: ${why}`] };
}

/** pgbouncer.ini before → after: "none", "reload", or "rolling-restart", with reasons. */
export function iniRollout(before: string, after: string): RolloutDecision {
  const a = iniEntries(before);
  const b = iniEntries(after);
  const changed = [...new Set([...a.keys(), ...b.keys()])]
    .filter((k) => a.get(k) !== b.get(k))
    .sort();
  return combine(
    changed.flatMap((k): RolloutDecision[] => {
      const dot = k.indexOf(".");
      const section = k.slice(0, dot);
      const key = k.slice(dot + 1);
      if (section === "pgbouncer") return [keyDecision("pgbouncer", key, `[pgbouncer] ${key}`)];
      // RELOAD re-reads [peers] whole: every peer is marked dead, those still listed come back
      // (main.c load_config, loader.c parse_peer), as for [databases].
      if (section === "peers") {
        const how = !a.has(k) ? "added" : !b.has(k) ? "removed" : "changed";
        return [{ action: "reload", reasons: [`[peers] ${key} ${how}`] }];
      }
      if (section !== "databases") {
        return [{ action: "rolling-restart", reasons: [`[${section}] ${key} changed: restart`] }];
      }
      // A pool added or dropped is picked up by RELOAD; a changed entry is re-parsed whole, and
      // the table says which of its parameters RELOAD honours.
      if (!a.has(k) || !b.has(k)) {
        return [
          { action: "reload", reasons: [`[databases] ${key} ${a.has(k) ? "removed" : "added"}`] },
        ];
      }
      const pa = connstring(a.get(k));
      const pb = connstring(b.get(k));
      return [...new Set([...pa.keys(), ...pb.keys()])]
        .filter((p) => pa.get(p) !== pb.get(p))
        .map((p) => keyDecision("databases", p, `[databases] ${key} ${p}`));
    }),
  );
}

/**
 * The files a host runs, as delivered: pgbouncer.ini, userlist.txt, the systemd unit, logrotate
 * and the apt pin of the PgBouncer package (a missing name means the host has not got it yet).
 */
export type FileSet = Readonly<Record<string, string>>;

/** What each non-ini file needs when it changes. */
const FILE_RULES: Record<string, RolloutDecision> = {
  "pgbouncer_hba.conf": {
    action: "reload",
    reasons: ["pgbouncer_hba.conf changed: RELOAD re-reads auth_hba_file"],
  },
  "userlist.txt": {
    action: "reload",
    reasons: ["userlist.txt changed: RELOAD re-reads auth_file"],
  },
  // RELOAD loads the TLS files again (main.c handle_sighup → sbuf_tls_setup): new connections
  // get the new certificate, open ones keep theirs. A rotation drops no client.
  "pgbouncer.crt": {
    action: "reload",
    reasons: ["pgbouncer.crt changed: RELOAD loads the new certificate"],
  },
  "pgbouncer.key": {
    action: "reload",
    reasons: ["pgbouncer.key changed: RELOAD loads the new key"],
  },
  "pgbouncer.service": {
    action: "rolling-restart",
    reasons: ["pgbouncer.service changed: systemd applies a unit (LimitNOFILE, …) on restart"],
  },
  "pgbouncer.pref": {
    action: "rolling-restart",
    reasons: ["the pinned PgBouncer package changed: a new binary runs after a restart"],
  },
  "logrotate.conf": {
    action: "none",
    reasons: ["logrotate.conf changed: read at the next rotation"],
  },
};

export function hostRollout(before: FileSet, after: FileSet): RolloutDecision {
  const names = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  return combine(
    names
      .filter((name) => before[name] !== after[name])
      .map((name) => {
        // Every process's ini (pgbouncer.ini, pgbouncer-k.ini) by what changed in it; every
        // process's unit as process 1's.
        const process = processFile(name);
        if (process?.kind === "ini") return iniRollout(before[name] ?? "", after[name] ?? "");
        const unit = FILE_RULES["pgbouncer.service"]!;
        const rule =
          process?.kind === "unit"
            ? { ...unit, reasons: unit.reasons.map((r) => r.replace("pgbouncer.service", name)) }
            : FILE_RULES[name];
        return rule ?? { action: "rolling-restart", reasons: [`${name} changed: restart`] };
      }),
  );
}

/** The rollout of one config revision to the whole fleet: what the SSM association runs. */
export interface FleetRollout extends RolloutDecision {
  /** SHA-256 over every host's files: changes exactly when some host's files change. */
  revision: string;
}

export function fleetRevision(next: Readonly<Record<string, FileSet>>): string {
  const canonical = Object.keys(next)
    .sort()
    .map((host) => [host, Object.entries(next[host]!).sort(([x], [y]) => x.localeCompare(y))]);
  return createHash("sha256").update(JSON.stringify(canonical)).digest("hex");
}

/**
 * From what the hosts run now to the next revision. `previous.files` holds the files that can be
 * compared (those stored readable; the userlist and the TLS key are stored encrypted and are left
 * out), and `previous.rollout` the decision recorded with them. The same revision keeps its
 * recorded decision, so a second `pulumi up` with nothing changed changes nothing (no re-run of a
 * restart, no flip back to "none"). A new revision is at least a RELOAD, since the userlist is
 * not comparable. Hosts with no previous files are new and boot with the new files.
 */
export function fleetRollout(
  previous: { files: Readonly<Record<string, FileSet>>; rollout?: FleetRollout },
  next: Readonly<Record<string, FileSet>>,
): FleetRollout {
  const revision = fleetRevision(next);
  if (previous.rollout?.revision === revision) return previous.rollout;
  const known = Object.keys(next).filter((host) => Object.keys(previous.files[host] ?? {}).length);
  if (known.length === 0) {
    return { revision, action: "none", reasons: ["new hosts boot with this revision"] };
  }
  const unseen = [
    ...new Set(
      known.flatMap((host) =>
        Object.keys(next[host]!).filter((n) => !(n in previous.files[host]!)),
      ),
    ),
  ].sort();
  const decision = combine(
    known.map((host) => {
      const before = previous.files[host]!;
      const comparable = Object.fromEntries(
        Object.entries(next[host]!).filter(([name]) => name in before),
      );
      return hostRollout(before, comparable);
    }),
  );
  if (decision.action !== "none" || unseen.length === 0) return { revision, ...decision };
  // Nothing readable needs more, yet the revision moved: a file that cannot be compared (stored
  // encrypted, or new to the hosts) may be what changed, and a RELOAD is cheap and drops no client.
  const why = `${unseen.join(", ")} may have changed (not readable back: stored encrypted, or new to the hosts): RELOAD re-reads ${unseen.length > 1 ? "them" : "it"}`;
  return { revision, action: "reload", reasons: [...decision.reasons, why] };
}

/** Parse a recorded FleetRollout; anything else (a hand edit, an older format) is no record. */
export function parseFleetRollout(text: string | undefined): FleetRollout | undefined {
  if (!text) return undefined;
  try {
    const v = JSON.parse(text) as Partial<FleetRollout>;
    const ok =
      typeof v.revision === "string" &&
      ROLLOUT_ACTIONS.includes(v.action as RolloutAction) &&
      Array.isArray(v.reasons) &&
      v.reasons.every((r) => typeof r === "string");
    return ok ? (v as FleetRollout) : undefined;
  } catch {
    return undefined;
  }
}
