import { expect, test } from "vitest";
import { pairedRatio, quantile } from "./ratios.js";

test("quantile interpolates between the nearest ranks, whatever the input order", () => {
  expect(quantile([3, 1, 2], 0.5)).toBe(2);
  expect(quantile([4, 1, 3, 2], 0.5)).toBe(2.5);
  expect(quantile([10, 0], 0.25)).toBe(2.5);
  expect(quantile([7], 0.75)).toBe(7);
});

test("quantile refuses no values and a q outside 0..1, naming what it got", () => {
  expect(() => quantile([], 0.5)).toThrow(/no values/);
  expect(() => quantile([1], 1.5)).toThrow(/got 1.5/);
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
