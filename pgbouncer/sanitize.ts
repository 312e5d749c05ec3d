/**
 * Last line of defence before text reaches a generated file. The schema already constrains every
 * string; the renderers check again so that no caller (a test, a Pulumi Output, a future field)
 * can add a key or a line by smuggling a newline, `=`, a quote or a space into a value.
 */
export class RenderError extends Error {
  constructor(
    readonly field: string,
    readonly got: string,
    reason: string,
  ) {
    super(`${field} ${reason}, got ${JSON.stringify(got)}`);
    this.name = "RenderError";
  }
}

const CONTROL = /[\u0000-\u001f\u007f]/;

/** A value on the right of `key = ` in an ini file: one line, no control characters. */
export function iniValue(field: string, value: string | number | boolean): string {
  const text = typeof value === "boolean" ? (value ? "1" : "0") : String(value);
  if (CONTROL.test(text))
    throw new RenderError(field, text, "must not contain newlines or control characters");
  if (text !== text.trim()) throw new RenderError(field, text, "must not start or end with spaces");
  return text;
}

/** A key or an ini entry name: a plain identifier, nothing that could open a section or a comment. */
export function iniKey(field: string, key: string): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(key))
    throw new RenderError(field, key, "must be a lowercase identifier");
  return key;
}

/**
 * A value inside a [databases] connection string (`host=a port=5432 ...`): space-separated
 * key=value pairs, so spaces, `=` and quotes would add a parameter. Hosts lists use commas.
 */
export function connstringValue(field: string, value: string | number): string {
  const text = String(value);
  if (!/^[A-Za-z0-9._,:/-]+$/.test(text)) {
    throw new RenderError(field, text, "must contain only letters, digits and . _ , : / -");
  }
  return text;
}

/** A double-quoted field in userlist.txt; PgBouncer doubles embedded quotes, we refuse them. */
export function userlistField(field: string, value: string): string {
  if (CONTROL.test(value) || value.includes('"') || value.length === 0) {
    throw new RenderError(field, value, "must be non-empty, one line, without double quotes");
  }
  return `"${value}"`;
}

/** An absolute filesystem path written into a unit, ini or logrotate file. */
export function absolutePath(field: string, value: string): string {
  if (!/^\/[A-Za-z0-9._/-]*$/.test(value) || value.includes("..")) {
    throw new RenderError(field, value, "must be an absolute path of letters, digits and . _ / -");
  }
  return value;
}
