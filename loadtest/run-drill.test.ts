import { expect, test } from "vitest";
import type { SloResult } from "./report/types.js";
import { onlyTimesMissed } from "./run-drill.js";

const slo = (name: string, unit: string, pass: boolean): SloResult => ({
  name,
  measured: pass ? 0 : 2,
  limit: 1,
  comparison: "atMost",
  unit,
  pass,
});

test("a drill that missed only times may be run again", () => {
  expect(
    onlyTimesMissed([
      slo("time to recover", "s", false),
      slo("writes applied twice", "writes", true),
    ]),
  ).toBe(true);
});

test("a missed error, lost or doubled write is never excused, even beside a missed time", () => {
  expect(onlyTimesMissed([slo("caller-visible errors", "calls", false)])).toBe(false);
  expect(
    onlyTimesMissed([
      slo("time to recover", "s", false),
      slo("acknowledged writes missing", "writes", false),
    ]),
  ).toBe(false);
});

test("a drill that missed nothing is not a rerun case", () => {
  expect(onlyTimesMissed([slo("time to recover", "s", true)])).toBe(false);
  expect(onlyTimesMissed([])).toBe(false);
});
