import { expect, test } from "vitest";
import { RetryBudget } from "./budget.js";

test("at most `capacity` retries in flight; a released slot can be taken again", () => {
  const budget = new RetryBudget(2);
  expect([budget.tryAcquire(), budget.tryAcquire(), budget.tryAcquire()]).toEqual([
    true,
    true,
    false,
  ]);
  expect(budget.used).toBe(2);
  budget.release();
  expect(budget.tryAcquire()).toBe(true);
  budget.release();
  budget.release();
  budget.release(); // extra releases never go below zero
  expect(budget.used).toBe(0);
});

test.each([0, -1, 1.5])("capacity %s is refused with the value named", (capacity) => {
  expect(() => new RetryBudget(capacity)).toThrow(
    `retry budget capacity must be an integer ≥ 1, got ${capacity}`,
  );
});
