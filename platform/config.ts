import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse as parseYaml } from "yaml";
import { ConfigError, show } from "./errors.js";
import type { StackConfig } from "./schema.js";
import { validateStackConfig } from "./validate.js";

/** The Pulumi project name: stack files keep our keys under `pg-pooling:`. */
export const PROJECT = "pg-pooling";
export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");

export function stackFile(stack: string): string {
  if (!/^[a-z][a-z0-9-]{0,30}$/.test(stack)) {
    throw new ConfigError([
      { path: "stack", got: show(stack), message: "must be a stack name like prod" },
    ]);
  }
  return join(REPO_ROOT, `Pulumi.${stack}.yaml`);
}

/** Our keys from a Pulumi stack document, namespace stripped; other namespaces (aws:) are ignored. */
export function projectConfig(doc: unknown): Record<string, unknown> {
  const config = (doc as { config?: unknown } | null)?.config;
  if (typeof config !== "object" || config === null) return {};
  const ours: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(config)) {
    if (key.startsWith(`${PROJECT}:`)) ours[key.slice(PROJECT.length + 1)] = value;
  }
  return ours;
}

/**
 * A config file: a Pulumi stack file (`config:` with `pg-pooling:` keys) or the same keys as a
 * plain YAML/JSON document. Throws ConfigError naming the file for unreadable or invalid content.
 */
export function loadConfigFile(path: string): StackConfig {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new ConfigError(
      [
        {
          path: "file",
          got: show(path),
          message: `cannot be read (${(e as NodeJS.ErrnoException).code})`,
        },
      ],
      path,
    );
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw new ConfigError(
      [
        {
          path: "file",
          got: show(path),
          message: `is not YAML: ${(e as Error).message.split("\n")[0]}`,
        },
      ],
      path,
    );
  }
  const raw = doc !== null && typeof doc === "object" && "config" in doc ? projectConfig(doc) : doc;
  return validateStackConfig(raw, path);
}

export function loadStack(stack: string): StackConfig {
  return loadConfigFile(stackFile(stack));
}
