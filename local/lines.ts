import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { projectConfig, stackFile } from "../platform/config.js";
import { buildPlan, type Plan } from "../platform/plan.js";
import { validateStackConfig } from "../platform/validate.js";
import { inRootPath } from "./runtime.js";
import { stateDir } from "./state-dir.js";

/**
 * The PgBouncer lines the local stack runs: the production line, Debian sid's package in the
 * production-line root (local/runtime.ts), and Debian 12's package, the oldest line supported.
 * Pulumi.local.yaml names the default; `--pgbouncer <line>` (or PG_POOLING_PGBOUNCER) picks the
 * other, and the line an `up` started is remembered in the state folder, so `status` and a later
 * `up` see the same one.
 */
export const LOCAL_LINES = {
  "1.18": {
    version: "1.18.0",
    binary: "/usr/sbin/pgbouncer",
    inRoot: false,
    from: "Debian 12's pgbouncer package",
    processesPerHost: 1, // no [peers] before 1.19: a cancel could reach the wrong process
    // TLS to Postgres without verifying its name: before 1.25 verify-full fails on a multi-host
    // entry (platform/capabilities.ts MULTI_HOST_VERIFY_SINCE).
    serverTls: "require",
  },
  "1.26": {
    version: "1.26.1",
    binary: "/usr/sbin/pgbouncer",
    inRoot: true,
    from: "Debian sid's pgbouncer package in the production-line root",
    processesPerHost: 2, // so_reuseport + [peers], restarted one process at a time
    serverTls: "verify-full",
  },
} as const;
export type LocalLine = keyof typeof LOCAL_LINES;

export function isLocalLine(text: string): text is LocalLine {
  return Object.hasOwn(LOCAL_LINES, text);
}

/**
 * The line asked for (flag/env), else the one the running stack was started with, else the one
 * Pulumi.local.yaml names.
 */
export function selectedLine(): LocalLine | undefined {
  const asked = process.env.PG_POOLING_PGBOUNCER;
  if (asked) {
    if (!isLocalLine(asked)) {
      throw new Error(
        `PgBouncer line ${JSON.stringify(asked)} is not one the local stack runs: ${Object.keys(LOCAL_LINES).join(", ")}`,
      );
    }
    return asked;
  }
  if (existsSync(lineFile())) {
    const saved = readFileSync(lineFile(), "utf8").trim();
    if (isLocalLine(saved)) return saved;
  }
  return configuredLine();
}

/** The line Pulumi.local.yaml's pgbouncer.version belongs to, when the local stack runs it. */
function configuredLine(): LocalLine | undefined {
  const raw = projectConfig(parseYaml(readFileSync(stackFile("local"), "utf8")));
  const version = String((raw.pgbouncer as { version?: unknown } | undefined)?.version ?? "");
  const line = version.split(".").slice(0, 2).join(".");
  return isLocalLine(line) ? line : undefined;
}

/** Where `up` records the line it started. */
export function lineFile(): string {
  return join(stateDir(), "pgbouncer-line");
}

/** Pulumi.local.yaml's plan, for the selected PgBouncer line when one is selected. */
export function localPlan(): Plan {
  const raw = projectConfig(parseYaml(readFileSync(stackFile("local"), "utf8")));
  const line = selectedLine();
  if (line) {
    const pgbouncer = raw.pgbouncer as Record<string, unknown>;
    pgbouncer.version = LOCAL_LINES[line].version;
    pgbouncer.processesPerHost = LOCAL_LINES[line].processesPerHost;
    (pgbouncer.tls as Record<string, unknown>).server = LOCAL_LINES[line].serverTls;
  }
  return buildPlan(
    validateStackConfig(raw, line ? `Pulumi.local.yaml (PgBouncer ${line})` : "Pulumi.local.yaml"),
  );
}

/** The line the local stack runs when neither the flag nor Pulumi.local.yaml names one. */
export const DEFAULT_LINE: LocalLine = "1.26";

/**
 * The selected line's binary: its path where it runs (inside the root for the production line),
 * whether it runs in the root, and its path as seen from here. PGBOUNCER_BIN names any other
 * build on this machine.
 */
export function selectedPgbouncer(): { binary: string; inRoot: boolean; hostPath: string } {
  if (process.env.PGBOUNCER_BIN) {
    const binary = process.env.PGBOUNCER_BIN;
    return { binary, inRoot: false, hostPath: binary };
  }
  const line = LOCAL_LINES[selectedLine() ?? DEFAULT_LINE];
  return {
    binary: line.binary,
    inRoot: line.inRoot,
    hostPath: line.inRoot ? inRootPath(line.binary) : line.binary,
  };
}

/** The selected line's binary, by the path it runs under. */
export function selectedBinary(): string {
  return selectedPgbouncer().binary;
}
