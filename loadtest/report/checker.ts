import { show, type Problem } from "../../platform/errors.js";

/** Collects one check's problems; each helper records what is wrong with one field. */
export class Checker {
  readonly problems: Problem[] = [];

  fail(path: string, message: string, got: unknown): void {
    this.problems.push({ path, message, got: printable(got) });
  }

  finite(path: string, value: unknown): value is number {
    if (typeof value === "number" && Number.isFinite(value)) return true;
    this.fail(path, "must be a finite number", value);
    return false;
  }

  nonNegative(path: string, value: unknown): value is number {
    if (!this.finite(path, value)) return false;
    if (value >= 0) return true;
    this.fail(path, "must be ≥ 0", value);
    return false;
  }

  count(path: string, value: unknown): void {
    if (this.nonNegative(path, value) && !Number.isInteger(value))
      this.fail(path, "must be a whole number", value);
  }

  positiveCount(path: string, value: unknown): void {
    this.count(path, value);
    if (value === 0) this.fail(path, "must be ≥ 1", value);
  }

  /** Names and labels land in table cells and file names: one line, no control characters. */
  text(path: string, value: unknown, { mayBeEmpty = false } = {}): void {
    if (typeof value !== "string") this.fail(path, "must be a string", value);
    else if (!mayBeEmpty && value.trim() === "") this.fail(path, "must not be empty", value);
    else if (/[\u0000-\u001f\u007f]/.test(value))
      this.fail(path, "must be one line without control characters", value);
  }

  /** A list of objects; returns it only when every item is an object, so callers may read fields. */
  list<T>(path: string, value: readonly T[] | undefined, each: (item: T, path: string) => void) {
    if (!Array.isArray(value)) {
      this.fail(path, "must be a list", value);
      return undefined;
    }
    let allObjects = true;
    value.forEach((item, i) => {
      if (isObject(item)) each(item, `${path}[${i}]`);
      else {
        allObjects = false;
        this.fail(`${path}[${i}]`, "must be an object", item);
      }
    });
    return allObjects ? value : undefined;
  }

  strings(
    path: string,
    value: readonly string[] | undefined,
    each: (s: string, path: string) => void,
  ) {
    if (!Array.isArray(value)) return this.fail(path, "must be a list", value);
    value.forEach((item, i) =>
      typeof item === "string"
        ? each(item, `${path}[${i}]`)
        : this.fail(`${path}[${i}]`, "must be a string", item),
    );
  }

  /** Samples are drawn as lines: out-of-order times would draw a scribble, not a series. */
  ordered(
    path: string,
    samples: readonly { t: number }[] | undefined,
    how: "strictly" | "loosely",
  ) {
    samples?.forEach((s, i) => {
      const previous = samples[i - 1];
      if (previous === undefined || !Number.isFinite(s.t) || !Number.isFinite(previous.t)) return;
      if (how === "strictly" ? s.t <= previous.t : s.t < previous.t)
        this.fail(
          `${path}[${i}].t`,
          `must be ${how === "strictly" ? ">" : "≥"} ${path}[${i - 1}].t (${previous.t}): samples sorted by time`,
          s.t,
        );
    });
  }
}

/** Like the config errors' `show`, but NaN and ±Infinity print as themselves, not as JSON `null`. */
function printable(value: unknown): string {
  return typeof value === "number" ? String(value) : show(value);
}

export function isObject<V>(value: V): value is V & object {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function isIsoTime(text: string): boolean {
  return (
    /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(text) &&
    !Number.isNaN(Date.parse(text))
  );
}
