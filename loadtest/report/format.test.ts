import { describe, expect, test } from "vitest";
import { formatCount, formatMeasure, formatNumber, formatQuantity } from "./format.js";

describe("format", () => {
  test.each([
    [0, "0"],
    [44, "44"],
    [1608, "1,608"],
    [156597, "156,597"],
    [-1234567, "-1,234,567"],
  ])("formatCount(%d) = %s", (value, text) => expect(formatCount(value)).toBe(text));

  // Three significant digits, never fewer than whole units, thousands grouped.
  test.each([
    [0, "0.00"],
    [2, "2.00"],
    [2.254, "2.25"],
    [9.996, "10.00"],
    [14.7, "14.7"],
    [99.96, "100.0"],
    [342.86, "343"],
    [2412, "2,412"],
    [1234567.8, "1,234,568"],
    [-0.5, "-0.50"],
    [NaN, "NaN"],
  ])("formatMeasure(%d) = %s", (value, text) => expect(formatMeasure(value)).toBe(text));

  test.each([
    [8, "s", "8 s"],
    [20.5, "s", "20.5 s"],
    [100, "%", "100%"],
    [1.5, "×", "1.50×"],
    [31.3, "GiB", "31.3 GiB"],
    [44, "", "44"],
  ])("formatQuantity(%d, %s) = %s", (value, unit, text) =>
    expect(formatQuantity(value, unit)).toBe(text),
  );

  test("formatNumber prints whole numbers as counts and the rest as measurements", () => {
    expect([formatNumber(3), formatNumber(3.25)]).toEqual(["3", "3.25"]);
  });
});
