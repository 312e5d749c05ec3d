import { expect, test, vi } from "vitest";
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

test("a retry waits for a slot: a release hands it over, a timeout gives up", async () => {
  vi.useFakeTimers();
  try {
    const budget = new RetryBudget(1);
    expect(budget.tryAcquire()).toBe(true);
    const waiting = budget.acquire(100);
    budget.release(); // straight to the waiter: still one in flight
    expect(await waiting).toBe(true);
    expect(budget.used).toBe(1);
    const late = budget.acquire(100);
    await vi.advanceTimersByTimeAsync(100);
    expect(await late).toBe(false);
    budget.release();
    expect(budget.used).toBe(0);
  } finally {
    vi.useRealTimers();
  }
});
