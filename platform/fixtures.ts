import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { projectConfig, stackFile } from "./config.js";

/** Test helpers: a stack's raw config, and a deep copy with one field set or removed. */
export function rawStack(stack: string): Record<string, unknown> {
  return projectConfig(parseYaml(readFileSync(stackFile(stack), "utf8")));
}

export function withField(
  raw: Record<string, unknown>,
  path: string,
  value: unknown,
): Record<string, unknown> {
  const copy = structuredClone(raw);
  const keys = path.split(".");
  let node = copy as Record<string, unknown>;
  for (const key of keys.slice(0, -1)) node = node[key] as Record<string, unknown>;
  const last = keys[keys.length - 1]!;
  if (value === undefined) delete node[last];
  else node[last] = value;
  return copy;
}

/**
 * A raw config moved to an older PgBouncer release, with what that release needs: one process
 * per host before [peers] (1.19), unverified server TLS before multi-host verify-full (1.25).
 */
export function atVersion(raw: Record<string, unknown>, version: string): Record<string, unknown> {
  const [, minor] = version.split(".").map(Number) as [number, number];
  let out = withField(raw, "pgbouncer.version", version);
  if (minor < 19) out = withField(out, "pgbouncer.processesPerHost", 1);
  if (minor < 25) out = withField(out, "pgbouncer.tls.server", "require");
  return out;
}
