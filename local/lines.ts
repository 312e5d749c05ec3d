import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { projectConfig, stackFile } from "../platform/config.js";
import { buildPlan, type Plan } from "../platform/plan.js";
import { validateStackConfig } from "../platform/validate.js";
import { STATE_DIR } from "./topology.js";

/**
 * The PgBouncer lines the local stack runs: Debian 12's package, and the production line built
 * from Debian trixie's source package by scripts/pgbouncer-build.sh. Pulumi.local.yaml names the
 * default; `--pgbouncer <line>` (or PG_POOLING_PGBOUNCER) picks another, and the line an `up`
 * started is remembered in the state folder, so `status` and a later `up` see the same one.
 */
const CACHE = process.env.PG_POOLING_CACHE || "/var/cache/pg-pooling";

export const LOCAL_LINES = {
  "1.18": {
    version: "1.18.0",
    binary: "/usr/sbin/pgbouncer",
    from: "Debian 12's pgbouncer package",
    processesPerHost: 1, // no [peers] before 1.19: a cancel could reach the wrong process
  },
  "1.24": {
    version: "1.24.1",
    binary: join(CACHE, "pgbouncer-1.24.1", "bin", "pgbouncer"),
    from: "bash scripts/pgbouncer-build.sh (Debian trixie's source package)",
    processesPerHost: 2, // so_reuseport + [peers], restarted one process at a time
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

/** Where `up` records the line it started (computed on use: topology.ts imports this module). */
export function lineFile(): string {
  return join(STATE_DIR, "pgbouncer-line");
}

/** Pulumi.local.yaml's plan, for the selected PgBouncer line when one is selected. */
export function localPlan(): Plan {
  const raw = projectConfig(parseYaml(readFileSync(stackFile("local"), "utf8")));
  const line = selectedLine();
  if (line) {
    const pgbouncer = raw.pgbouncer as Record<string, unknown>;
    pgbouncer.version = LOCAL_LINES[line].version;
    pgbouncer.processesPerHost = LOCAL_LINES[line].processesPerHost;
  }
  return buildPlan(
    validateStackConfig(raw, line ? `Pulumi.local.yaml (PgBouncer ${line})` : "Pulumi.local.yaml"),
  );
}

/** The binary for the selected line; PGBOUNCER_BIN names any other build. */
export function selectedBinary(): string {
  return process.env.PGBOUNCER_BIN || LOCAL_LINES[selectedLine() ?? "1.18"].binary;
}
