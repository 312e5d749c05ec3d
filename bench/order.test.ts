import { expect, test } from "vitest";
import { williamsRow } from "./order.js";

test.each([2, 4, 6, 8])(
  "%i variants over as many rounds: each in every position once, each after every other once",
  (n) => {
    const rows = Array.from({ length: n }, (_, r) => williamsRow(n, r));
    for (let position = 0; position < n; position++)
      expect(new Set(rows.map((row) => row[position])).size).toBe(n);
    const follows = new Map<string, number>();
    for (const row of rows)
      for (let k = 1; k < n; k++) {
        const pair = `${row[k - 1]}→${row[k]}`;
        follows.set(pair, (follows.get(pair) ?? 0) + 1);
      }
    expect(follows.size).toBe(n * (n - 1));
    expect([...follows.values()].every((c) => c === 1)).toBe(true);
  },
);

test("six variants, round 0: 0 1 5 2 4 3", () => {
  expect(williamsRow(6, 0)).toEqual([0, 1, 5, 2, 4, 3]);
});
