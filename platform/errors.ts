/**
 * One error for every problem in a config, thrown once. Each problem names the field path and the
 * value it got, so a user fixes the whole file in one pass.
 */
export interface Problem {
  /** Dotted field path, e.g. `services.orders.peakTps`. */
  path: string;
  /** What the field must be, e.g. `must be ≥ 1`. */
  message: string;
  /** The value found, already printable (JSON, newlines escaped); absent when the field is missing. */
  got?: string;
}

const BRAND = Symbol.for("pg-pooling.ConfigError");

export class ConfigError extends Error {
  readonly [BRAND] = true;
  constructor(
    readonly problems: readonly Problem[],
    readonly source = "config",
  ) {
    super(
      `${source} is invalid (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n` +
        problems.map((p) => `  - ${formatProblem(p)}`).join("\n"),
    );
    this.name = "ConfigError";
  }
}

export function isConfigError(e: unknown): e is ConfigError {
  return typeof e === "object" && e !== null && (e as Record<symbol, unknown>)[BRAND] === true;
}

export function formatProblem(p: Problem): string {
  return p.got === undefined ? `${p.path} ${p.message}` : `${p.path} ${p.message}, got ${p.got}`;
}

/** Printable form of any config value: JSON keeps newlines and quotes visible as escapes. */
export function show(value: unknown): string {
  if (value === undefined) return "nothing";
  const text = JSON.stringify(value);
  return text.length > 80 ? text.slice(0, 77) + "..." : text;
}

export function joinPath(path: readonly PropertyKey[]): string {
  return path.map((p) => String(p)).join(".") || "(root)";
}
