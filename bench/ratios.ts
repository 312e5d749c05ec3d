/**
 * Paired ratios: each row of a bench measures every variant within a few seconds, so the ratio of
 * two variants in one row is read under the same machine load. The bench reports the median of
 * those per-row ratios with their quartiles: slow drift (the table growing, checkpoints, another
 * process on the shared cores) cancels inside a row, and a row hit by a spike moves the median
 * little, where it would move a ratio of totals as much as its ops weigh.
 */
import { percentile } from "../loadtest/stats.js";

/** The p-th percentile (0–100) of values in any order, by loadtest's one definition (nearest rank). */
export function percentileOf(xs: readonly number[], p: number): number {
  return percentile(
    [...xs].sort((a, b) => a - b),
    p,
  );
}

/** A ratio over rows: its median and quartiles, and how many rows it was read from. */
export interface PairedRatio {
  median: number;
  p25: number;
  p75: number;
  rows: number;
}

/**
 * `name` against `base` row by row (each row maps a variant's name to its throughput in that row);
 * rows that lack either variant, or measured no throughput for the base, are an error: every row
 * is meant to hold every variant.
 */
export function pairedRatio(
  rows: readonly Readonly<Record<string, number>>[],
  name: string,
  base: string,
): PairedRatio {
  const ratios = rows.map((row, i) => {
    const a = row[name];
    const b = row[base];
    if (a === undefined || b === undefined || !(b > 0))
      throw new Error(
        `pairedRatio: row ${i + 1} has no throughput for ${a === undefined ? name : base} (got ${JSON.stringify(row)})`,
      );
    return a / b;
  });
  return {
    median: percentileOf(ratios, 50),
    p25: percentileOf(ratios, 25),
    p75: percentileOf(ratios, 75),
    rows: ratios.length,
  };
}
