import { describe, expect, test } from "vitest";
import { resolveOutcome, tagXid, txOf, partialResultOf, type OutcomeCheck } from "./outcome.js";
import { resolvedError } from "./transactions.js";
import { isCommittedResultLostError, isNotCommittedError } from "./errors.js";

/** A primary that answers pg_xact_status with each of `answers` in turn (an Error is thrown). */
function primary(
  answers: (string | null | Error)[],
  timeline = "00000001",
): OutcomeCheck & { asked: unknown[][] } {
  const asked: unknown[][] = [];
  return {
    asked,
    deadlineMs: 1_000,
    sleep: async () => {},
    query: async (_sql, params) => {
      asked.push(params);
      const a = answers.length > 1 ? answers.shift()! : answers[0]!;
      if (a instanceof Error) throw a;
      return { rows: [{ status: a, timeline }] } as never;
    },
  };
}
const inTheFuture = Object.assign(new Error("transaction ID 999 is in the future"), {
  code: "22023",
});
const refused = Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });

describe("resolveOutcome", () => {
  test.each([
    ["committed", ["committed"], "committed"],
    ["aborted", ["aborted"], "not-committed"],
    [
      "in progress, then committed (the old backend was finishing)",
      ["in progress", "committed"],
      "committed",
    ],
    ["in progress, then aborted", ["in progress", "in progress", "aborted"], "not-committed"],
    ["too old to know (NULL)", [null], "unknown"],
    ["an xid the primary never assigned (a failover)", [inTheFuture], "unknown"],
    ["the primary away, then back", [refused, refused, "committed"], "committed"],
  ] as const)("%s", async (_name, answers, outcome) => {
    const p = primary([...answers]);
    expect(await resolveOutcome({ xid: "1234", timeline: "00000001" }, p)).toBe(outcome);
    expect(p.asked[0]).toEqual(["1234"]);
  });

  test("gives up at the deadline while the primary stays away", async () => {
    const p = { ...primary([refused]), deadlineMs: 0 };
    expect(await resolveOutcome({ xid: "1", timeline: "00000001" }, p)).toBe("unknown");
  });

  test("another timeline (a failover since): unknown, even if that number committed there", async () => {
    const p = primary(["committed"], "00000002");
    expect(await resolveOutcome({ xid: "1234", timeline: "00000001" }, p)).toBe("unknown");
  });
});

describe("what a resolution makes of the failure", () => {
  const tx = { xid: "77", timeline: "00000001" };
  const cut = tagXid(new Error("Connection terminated unexpectedly"), tx, { value: 5 });

  test("the xid and the result travel with the error", () => {
    expect(txOf(cut)).toEqual(tx);
    expect(partialResultOf(cut)).toEqual({ value: 5 });
    expect(txOf(new Error("x"))).toBeUndefined();
  });

  test("committed with its result: no error (the caller gets the result)", () => {
    expect(resolvedError(cut, { outcome: "committed", value: { value: 5 } })).toBeUndefined();
  });
  test("committed without its result: not retried, not a fallback", () => {
    expect(isCommittedResultLostError(resolvedError(cut, { outcome: "committed" }))).toBe(true);
  });
  test("not committed: safe to run again", () => {
    expect(isNotCommittedError(resolvedError(cut, { outcome: "not-committed" }))).toBe(true);
  });
  test("unknown: the original error, outcome-unknown as before", () => {
    expect(resolvedError(cut, { outcome: "unknown" })).toBe(cut);
  });
});
