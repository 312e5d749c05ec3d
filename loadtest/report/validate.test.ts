import { describe, expect, test } from "vitest";
import { isConfigError } from "../../platform/errors.js";
import type { RunRecord } from "./types.js";
import { RUN_RECORD_SOURCE, validateRunRecord } from "./validate.js";
import { syntheticRunRecord } from "./__fixtures__/run-record.js";

function problemsOf(change: (r: RunRecord) => void): string[] {
  const record = syntheticRunRecord();
  change(record);
  try {
    validateRunRecord(record);
  } catch (e) {
    expect(isConfigError(e)).toBe(true);
    const [head, ...lines] = (e as Error).message.split("\n");
    expect(head).toMatch(new RegExp(`^${RUN_RECORD_SOURCE} is invalid`));
    return lines.map((l) => l.replace(/^ {2}- /, ""));
  }
  throw new Error("record was accepted");
}

describe("validateRunRecord", () => {
  test("the synthetic record is valid", () => {
    expect(() => validateRunRecord(syntheticRunRecord())).not.toThrow();
  });

  // GIVEN one bad field WHEN validated THEN the only problem names the field and the value it got.
  test.each<[string, (r: RunRecord) => void, string]>([
    [
      "NaN tps",
      (r) => (r.throughput[3]!.tps = NaN),
      "throughput[3].tps must be a finite number, got NaN",
    ],
    [
      "infinite p99",
      (r) => (r.throughput[0]!.p99Ms = Infinity),
      "throughput[0].p99Ms must be a finite number, got Infinity",
    ],
    [
      "negative count",
      (r) => (r.throughput[7]!.errors = -2),
      "throughput[7].errors must be ≥ 0, got -2",
    ],
    [
      "fractional count",
      (r) => (r.pools[0]!.svActive = 1.5),
      "pools[0].svActive must be a whole number, got 1.5",
    ],
    [
      "percentiles out of order",
      (r) => (r.throughput[2]!.p95Ms = 0.1),
      `throughput[2].p95Ms must be ≥ p50Ms`,
    ],
    [
      "empty throughput",
      (r) => (r.throughput = []),
      "throughput must have at least one sample, got []",
    ],
    [
      "missing throughput",
      (r) => delete (r as Partial<RunRecord>).throughput,
      "throughput must be a list, got nothing",
    ],
    [
      "unsorted ticks",
      (r) => ([r.throughput[4]!.t, r.throughput[5]!.t] = [r.throughput[5]!.t, r.throughput[4]!.t]),
      "throughput[5].t must be > throughput[4].t (6): samples sorted by time, got 5",
    ],
    [
      "repeated tick",
      (r) => (r.throughput[1]!.t = r.throughput[0]!.t),
      "throughput[1].t must be > throughput[0].t (1)",
    ],
    ["unsorted pool rows", (r) => (r.pools[r.pools.length - 1]!.t = 0), "must be ≥ pools["],
    [
      "repeated pool row",
      (r) => (r.pools[1]!.pool = r.pools[0]!.pool),
      "pools[1] repeats pools[0] (same t, host and pool)",
    ],
    ["unsorted memory", (r) => (r.memory[3]!.t = 1), "memory[3].t must be ≥ memory[2].t (5)"],
    ["negative memory", (r) => (r.memory[0]!.rssMiB = -1), "memory[0].rssMiB must be ≥ 0, got -1"],
    [
      "service with a newline",
      (r) => (r.services[0]!.service = "orders\nx"),
      'services[0].service must be one line without control characters, got "orders\\nx"',
    ],
    ["empty pool name", (r) => (r.pools[0]!.pool = ""), 'pools[0].pool must not be empty, got ""'],
    [
      "negative error count",
      (r) => (r.errors[0]!.count = -1),
      "errors[0].count must be ≥ 0, got -1",
    ],
    [
      "bad mode",
      (r) => ((r.meta as { mode: string }).mode = "both"),
      'meta.mode must be one of pooled | direct, got "both"',
    ],
    [
      "bad start time",
      (r) => (r.meta.startedAt = "yesterday"),
      'meta.startedAt must be an ISO 8601 time, got "yesterday"',
    ],
    ["no CPUs", (r) => (r.meta.machine.cpus = 0), "meta.machine.cpus must be ≥ 1, got 0"],
    [
      "ratio that is not numerator ÷ denominator",
      (r) => (r.comparisons[0]!.ratio = 3),
      "comparisons[0].ratio must be numerator ÷ denominator (1.5), got 3",
    ],
    [
      "zero goal",
      (r) => (r.comparisons[0]!.goal = 0),
      "comparisons[0].goal must be > 0 when given, got 0",
    ],
    [
      "heal before fault",
      (r) => (r.drill!.healedAt = 10),
      "drill.healedAt must be ≥ drill.faultAt (20), got 10",
    ],
    ["no SLOs", (r) => (r.drill!.slos = []), "drill.slos must have at least one SLO, got []"],
    [
      "note that is not text",
      (r) => ((r.notes as unknown[])[1] = 42),
      "notes[1] must be a string, got 42",
    ],
  ])("%s", (_, change, expected) => {
    const problems = problemsOf(change);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(expected);
  });

  test("a ratio rounded to two decimals is accepted", () => {
    const record = syntheticRunRecord();
    const c = record.comparisons[1]!; // 2412 / 3400 = 0.70941…
    c.ratio = Math.round((c.numerator.value / c.denominator.value) * 100) / 100;
    expect(c.ratio).toBe(0.71);
    expect(() => validateRunRecord(record)).not.toThrow();
  });

  test("an SLO verdict that contradicts its numbers is refused, and so is the drill's", () => {
    const problems = problemsOf((r) => {
      r.drill!.slos[1]!.measured = 45; // time to recover above its 30 s limit, still marked pass
    });
    expect(problems).toEqual([
      "drill.slos[1].pass must be false (measured 45, limit 30), got true",
    ]);
    expect(
      problemsOf((r) => {
        r.drill!.slos[1]!.measured = 45;
        r.drill!.slos[1]!.pass = false;
      }),
    ).toEqual(["drill.pass must be false (not every SLO passed), got true"]);
  });

  test("every problem is reported at once", () => {
    const problems = problemsOf((r) => {
      r.throughput[0]!.tps = NaN;
      r.pools[0]!.clWaiting = -1;
      r.meta.clients = -5;
    });
    expect(problems).toEqual([
      "meta.clients must be ≥ 0, got -5",
      "throughput[0].tps must be a finite number, got NaN",
      "pools[0].clWaiting must be ≥ 0, got -1",
    ]);
  });
});
