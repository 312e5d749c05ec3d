import { expect, test } from "vitest";
import { recoverySeconds } from "./verify.js";
import { parseDuration } from "./stats.js";

/** Completions at `perSecond` evenly, except none in [gapFrom, gapTo). */
function completions(perSecond: number, endMs: number, gapFrom = 0, gapTo = 0): number[] {
  const out: number[] = [];
  for (let t = 0; t < endMs; t += 1000 / perSecond) if (t < gapFrom || t >= gapTo) out.push(t);
  return out;
}

test("no dip: recovered at once", () => {
  expect(recoverySeconds(completions(100, 10_000), 5_000, 10_000)).toBe(0);
});

test("a 1.5 s gap after the fault is a 1.5 s recovery", () => {
  expect(recoverySeconds(completions(100, 10_000, 5_000, 6_500), 5_000, 10_000)).toBe(1.5);
});

test("never recovered: the rest of the run", () => {
  expect(recoverySeconds(completions(100, 10_000, 5_000, 10_000), 5_000, 10_000)).toBe(5);
});

test("half the throughput is not recovered", () => {
  const full = completions(100, 5_000);
  const half = completions(40, 10_000).filter((t) => t >= 5_000);
  expect(recoverySeconds([...full, ...half], 5_000, 10_000)).toBe(5);
});

test("durations parse with units and name the flag when they do not", () => {
  expect(parseDuration("--duration", "20s")).toBe(20_000);
  expect(parseDuration("--duration", "10m")).toBe(600_000);
  expect(parseDuration("--duration", "30")).toBe(30_000);
  expect(() => parseDuration("--duration", "soon")).toThrow(/--duration .* got "soon"/);
  expect(() => parseDuration("--duration", "500ms")).toThrow(/at least 1s/);
});
