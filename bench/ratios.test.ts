import { expect, test } from "vitest";
import { pairedRatio, percentileOf } from "./ratios.js";

test("percentiles of values in any order, by nearest rank", () => {
  expect(percentileOf([3, 1, 2], 50)).toBe(2);
  expect(percentileOf([10, 0, 5, 15], 25)).toBe(5);
  expect(percentileOf([7], 75)).toBe(7);
});

test("a paired ratio is read row by row: a slow row moves both variants and cancels", () => {
  // Row 2 ran under load: both variants are halved. A ratio of totals would weigh row 1 twice as
  // much; row by row, every row says 0.9.
  const rows = [
    { raw: 1000, wrapped: 900 },
    { raw: 500, wrapped: 450 },
    { raw: 1000, wrapped: 900 },
  ];
  const r = pairedRatio(rows, "wrapped", "raw");
  expect(r.median).toBeCloseTo(0.9, 10);
  expect(r.p25).toBeCloseTo(0.9, 10);
  expect(r.p75).toBeCloseTo(0.9, 10);
  expect(r.rows).toBe(3);
});

test("one row hit by a spike moves the median little", () => {
  const rows = [0.98, 0.99, 0.97, 0.5, 0.98].map((x) => ({ raw: 1000, wrapped: 1000 * x }));
  const r = pairedRatio(rows, "wrapped", "raw");
  expect(r.median).toBeCloseTo(0.98, 10);
  expect(r.p25).toBeCloseTo(0.97, 10);
});

test("a row without one of the variants is an error that names it and the row", () => {
  expect(() => pairedRatio([{ raw: 1 }, { wrapped: 1 }], "wrapped", "raw")).toThrow(
    /row 1 has no throughput for wrapped/,
  );
  expect(() => pairedRatio([{ raw: 0, wrapped: 1 }], "wrapped", "raw")).toThrow(
    /row 1 has no throughput for raw .*"raw":0/,
  );
});
