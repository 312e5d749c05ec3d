import { expect, test } from "vitest";
import { parseWindow } from "./observe.js";

test("windows: 7d, 12h, 30m, 90s; anything else names the flag and the value", () => {
  expect([parseWindow("7d"), parseWindow("12h"), parseWindow("30m"), parseWindow("90s")]).toEqual([
    604_800, 43_200, 1800, 90,
  ]);
  for (const bad of ["7", "0d", "1w", "-1h", "1.5h"])
    expect(() => parseWindow(bad)).toThrow(
      `--window must look like 7d, 12h, 30m or 90s; got "${bad}"`,
    );
});
