import type { RunRecord } from "./types.js";

/** What a secret is replaced by in every file a report writes. */
export const REDACTED = "***";

/**
 * Secrets that can ride along in free text the harness copies verbatim (the command it was given, a
 * driver error message, a note): the password of a connection URI, a `password=` keyword of a
 * libpq connection string, and the PGPASSWORD environment variable.
 */
const SECRET_PATTERNS: readonly [RegExp, string][] = [
  [/(\b[a-z][a-z0-9+.-]*:\/\/[^:/@\s]*:)[^@\s]*@/gi, `$1${REDACTED}@`],
  [/\b(password\s*=\s*)('[^']*'|"[^"]*"|\S+)/gi, `$1${REDACTED}`],
  [/\b(PGPASSWORD\s*=\s*)('[^']*'|"[^"]*"|\S+)/g, `$1${REDACTED}`],
];

export function redactSecrets(text: string): string {
  return SECRET_PATTERNS.reduce(
    (out, [pattern, replacement]) => out.replace(pattern, replacement),
    text,
  );
}

/** A copy of the record with every free-text field redacted: what the JSON, Markdown and SVGs see. */
export function redactRecord(record: RunRecord): RunRecord {
  const copy = structuredClone(record);
  copy.meta.command = redactSecrets(copy.meta.command);
  copy.notes = copy.notes.map(redactSecrets);
  copy.errors = copy.errors.map((e) => ({ ...e, message: redactSecrets(e.message) }));
  if (copy.drill) copy.drill.description = redactSecrets(copy.drill.description);
  return copy;
}
