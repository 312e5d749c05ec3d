import { isConfigError } from "../platform/errors.js";

/**
 * `--name value` pairs, and `--name` alone for the `switches` (recorded as "true"); anything else is
 * a usage error that names what it got.
 */
export function parseArgs(
  argv: readonly string[],
  known: readonly string[],
  switches: readonly string[] = [],
): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < argv.length; i += 2) {
    const flag = argv[i]!;
    const name = flag.replace(/^--/, "");
    if (flag.startsWith("--") && switches.includes(name)) {
      out[name] = "true";
      i--;
      continue;
    }
    if (!flag.startsWith("--") || !known.includes(name)) {
      throw new UsageError(
        `unknown argument ${JSON.stringify(flag)}; expected ${[...known, ...switches].map((k) => "--" + k).join(", ")}`,
      );
    }
    const value = argv[i + 1];
    if (value === undefined || value.startsWith("--"))
      throw new UsageError(`${flag} needs a value`);
    out[name] = value;
  }
  return out;
}

export class UsageError extends Error {}

/** Run a CLI body: config problems and usage errors print as a list, never as a stack trace. */
export async function main(body: () => Promise<void> | void): Promise<void> {
  try {
    await body();
  } catch (e) {
    if (isConfigError(e) || e instanceof UsageError) {
      process.stderr.write(`error: ${e.message}\n`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`error: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  }
}
