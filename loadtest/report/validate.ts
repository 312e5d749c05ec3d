import { ConfigError, type Problem } from "../../platform/errors.js";
import { Checker, isIsoTime, isObject } from "./checker.js";
import type { RunMode, RunRecord, SloResult } from "./types.js";

/** The error every refused record throws: one problem per bad field, path and value named. */
export const RUN_RECORD_SOURCE = "run record";

/** Exhaustive over RunMode: the compiler flags a mode added to the type and missing here. */
const RUN_MODES: Record<RunMode, true> = { pooled: true, direct: true };

/**
 * How far a recorded ratio may stray from numerator ÷ denominator: the harness rounds ratios to
 * two decimals (±0.005), and large ratios get a relative slack of 0.1 %.
 */
const RATIO_ABSOLUTE_SLACK = 0.006;
const RATIO_RELATIVE_SLACK = 1e-3;

/**
 * One named check of a run record: it looks at one part of the record and returns every problem
 * it finds there (none when that part is sound), so all of them can be reported at once.
 */
type RecordCheck = (record: RunRecord) => readonly Problem[];

/**
 * The checks in the order their problems are reported: the record's fields top to bottom, so the
 * error reads like the record.
 */
const RUN_RECORD_CHECKS: readonly RecordCheck[] = [
  checkMeta,
  checkThroughput,
  checkPools,
  checkMemory,
  checkErrors,
  checkServices,
  checkComparisons,
  checkDrill,
  checkNotes,
];

/**
 * Refuse a record no report should be drawn from: NaN or negative numbers, counts that are not
 * whole, times out of order, an empty throughput series, verdicts that contradict their numbers.
 * Collects every problem and throws one ConfigError, like the stack config validation does.
 */
export function validateRunRecord(record: RunRecord): void {
  const problems = RUN_RECORD_CHECKS.flatMap((check) => check(record));
  if (problems.length > 0) throw new ConfigError(problems, RUN_RECORD_SOURCE);
}

/**
 * The run's description: command, start time, machine, versions, mode and load. What the machine
 * or a server would not say is printed as unknown, not refused, so those texts may be empty.
 */
function checkMeta(record: RunRecord): readonly Problem[] {
  const check = new Checker();
  const meta = record?.meta;
  if (!isObject(meta)) {
    check.fail("meta", "is required", meta);
    return check.problems;
  }
  check.text("meta.command", meta.command);
  if (typeof meta.startedAt !== "string" || !isIsoTime(meta.startedAt))
    check.fail("meta.startedAt", "must be an ISO 8601 time", meta.startedAt);
  if (!isObject(meta.machine)) check.fail("meta.machine", "is required", meta.machine);
  else {
    check.positiveCount("meta.machine.cpus", meta.machine.cpus);
    check.text("meta.machine.cpuModel", meta.machine.cpuModel, { mayBeEmpty: true });
    check.nonNegative("meta.machine.memoryGiB", meta.machine.memoryGiB);
    check.text("meta.machine.node", meta.machine.node);
  }
  check.text("meta.pgbouncerVersion", meta.pgbouncerVersion, { mayBeEmpty: true });
  check.text("meta.postgresVersion", meta.postgresVersion, { mayBeEmpty: true });
  if (!Object.hasOwn(RUN_MODES, meta.mode))
    check.fail("meta.mode", `must be one of ${Object.keys(RUN_MODES).join(" | ")}`, meta.mode);
  check.count("meta.clients", meta.clients);
  check.nonNegative("meta.durationSeconds", meta.durationSeconds);
  check.strings("meta.services", meta.services, (s, p) => check.text(p, s));
  return check.problems;
}

/**
 * The throughput series the charts are drawn from: at least one sample, strictly increasing
 * times, and percentiles that do not contradict each other (p50 ≤ p95 ≤ p99).
 */
function checkThroughput(record: RunRecord): readonly Problem[] {
  const check = new Checker();
  const throughput = check.list("throughput", record?.throughput, (s, p) => {
    check.nonNegative(`${p}.t`, s.t);
    for (const key of ["tps", "p50Ms", "p95Ms", "p99Ms"] as const)
      check.nonNegative(`${p}.${key}`, s[key]);
    for (const key of ["errors", "clientsWaiting", "clientsConnected"] as const)
      check.count(`${p}.${key}`, s[key]);
    if (s.p95Ms < s.p50Ms) check.fail(`${p}.p95Ms`, `must be ≥ p50Ms (${s.p50Ms})`, s.p95Ms);
    if (s.p99Ms < s.p95Ms) check.fail(`${p}.p99Ms`, `must be ≥ p95Ms (${s.p95Ms})`, s.p99Ms);
  });
  if (throughput?.length === 0)
    check.fail("throughput", "must have at least one sample", throughput);
  check.ordered("throughput", throughput, "strictly");
  return check.problems;
}

/**
 * The PgBouncer pool samples: whole counts, times in order (several pools share a time), and no
 * row twice for the same time, host and pool, which would draw one pool's line doubled.
 */
function checkPools(record: RunRecord): readonly Problem[] {
  const check = new Checker();
  const pools = check.list("pools", record?.pools, (s, p) => {
    check.nonNegative(`${p}.t`, s.t);
    check.text(`${p}.host`, s.host);
    check.text(`${p}.pool`, s.pool);
    for (const key of ["clActive", "clWaiting", "svActive", "svIdle"] as const)
      check.count(`${p}.${key}`, s[key]);
    check.nonNegative(`${p}.maxWaitMs`, s.maxWaitMs);
  });
  check.ordered("pools", pools, "loosely");
  const seenPoolRows = new Map<string, number>();
  pools?.forEach((s, i) => {
    const key = JSON.stringify([s.t, s.host, s.pool]);
    const first = seenPoolRows.get(key);
    if (first === undefined) seenPoolRows.set(key, i);
    else check.fail(`pools[${i}]`, `repeats pools[${first}] (same t, host and pool)`, key);
  });
  return check.problems;
}

/** The memory samples: a named process, a size ≥ 0, times in order (processes share a time). */
function checkMemory(record: RunRecord): readonly Problem[] {
  const check = new Checker();
  const memory = check.list("memory", record?.memory, (s, p) => {
    check.nonNegative(`${p}.t`, s.t);
    check.text(`${p}.process`, s.process);
    check.nonNegative(`${p}.rssMiB`, s.rssMiB);
  });
  check.ordered("memory", memory, "loosely");
  return check.problems;
}

/** The error table's rows: who failed, with what code and message, how often, first when. */
function checkErrors(record: RunRecord): readonly Problem[] {
  const check = new Checker();
  check.list("errors", record?.errors, (e, p) => {
    check.text(`${p}.service`, e.service);
    check.text(`${p}.code`, e.code);
    if (typeof e.message !== "string") check.fail(`${p}.message`, "must be a string", e.message);
    check.count(`${p}.count`, e.count);
    check.nonNegative(`${p}.firstAt`, e.firstAt);
  });
  return check.problems;
}

/** The per-service table's rows: names, whole counts, and rates and latencies ≥ 0. */
function checkServices(record: RunRecord): readonly Problem[] {
  const check = new Checker();
  check.list("services", record?.services, (s, p) => {
    check.text(`${p}.service`, s.service);
    check.text(`${p}.shape`, s.shape);
    for (const key of ["clients", "transactions", "errors"] as const)
      check.count(`${p}.${key}`, s[key]);
    for (const key of ["tps", "p50Ms", "p95Ms", "p99Ms"] as const)
      check.nonNegative(`${p}.${key}`, s[key]);
  });
  return check.problems;
}

/**
 * The comparisons (pooled against direct and the like): each ratio must be its numerator ÷
 * denominator within the rounding slack, and a goal, when given, must be > 0.
 */
function checkComparisons(record: RunRecord): readonly Problem[] {
  const check = new Checker();
  check.list("comparisons", record?.comparisons, (c, p) => {
    check.text(`${p}.name`, c.name);
    check.text(`${p}.unit`, c.unit, { mayBeEmpty: true });
    for (const side of ["numerator", "denominator"] as const) {
      check.text(`${p}.${side}.label`, c[side]?.label);
      check.nonNegative(`${p}.${side}.value`, c[side]?.value);
    }
    if (check.nonNegative(`${p}.ratio`, c.ratio) && c.denominator?.value > 0) {
      const expected = c.numerator.value / c.denominator.value;
      const slack = Math.max(RATIO_ABSOLUTE_SLACK, RATIO_RELATIVE_SLACK * expected);
      if (Math.abs(c.ratio - expected) > slack)
        check.fail(`${p}.ratio`, `must be numerator ÷ denominator (${expected})`, c.ratio);
    }
    if (c.goal !== undefined && check.nonNegative(`${p}.goal`, c.goal) && c.goal === 0)
      check.fail(`${p}.goal`, "must be > 0 when given", c.goal);
  });
  return check.problems;
}

/**
 * A drill's verdict, when the record has one: the heal after the fault, at least one SLO, each
 * SLO's pass agreeing with its measurement and limit, and the drill's pass with its SLOs'.
 */
function checkDrill(record: RunRecord): readonly Problem[] {
  const check = new Checker();
  const drill = record?.drill;
  if (drill === undefined) return check.problems;
  check.text("drill.name", drill.name);
  if (typeof drill.description !== "string")
    check.fail("drill.description", "must be a string", drill.description);
  check.nonNegative("drill.faultAt", drill.faultAt);
  if (drill.healedAt !== undefined && check.nonNegative("drill.healedAt", drill.healedAt))
    if (drill.healedAt < drill.faultAt)
      check.fail("drill.healedAt", `must be ≥ drill.faultAt (${drill.faultAt})`, drill.healedAt);
  const slos = check.list("drill.slos", drill.slos, (slo, p) => {
    check.text(`${p}.name`, slo.name);
    check.text(`${p}.unit`, slo.unit, { mayBeEmpty: true });
    const measured = check.finite(`${p}.measured`, slo.measured);
    const limit = check.finite(`${p}.limit`, slo.limit);
    if (slo.comparison !== "atMost" && slo.comparison !== "atLeast")
      check.fail(`${p}.comparison`, 'must be "atMost" | "atLeast"', slo.comparison);
    else if (measured && limit && slo.pass !== sloMet(slo))
      check.fail(
        `${p}.pass`,
        `must be ${sloMet(slo)} (measured ${slo.measured}, limit ${slo.limit})`,
        slo.pass,
      );
  });
  if (slos?.length === 0) check.fail("drill.slos", "must have at least one SLO", slos);
  const allMet = slos?.every((slo) => slo.pass) ?? false;
  if (slos && drill.pass !== allMet)
    check.fail(
      "drill.pass",
      `must be ${allMet} (${allMet ? "every" : "not every"} SLO passed)`,
      drill.pass,
    );
  return check.problems;
}

/** The notes printed under the report: a list of strings (any text, several lines allowed). */
function checkNotes(record: RunRecord): readonly Problem[] {
  const check = new Checker();
  check.strings("notes", record?.notes, () => {});
  return check.problems;
}

/** Whether an SLO's measurement meets its bound: the one rule the verdict and the table share. */
export function sloMet(slo: Pick<SloResult, "measured" | "limit" | "comparison">): boolean {
  return slo.comparison === "atMost" ? slo.measured <= slo.limit : slo.measured >= slo.limit;
}
