import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { RetryBudget } from "./budget.js";
import type { Classification } from "./classify.js";
import { RetriesExhausted, withRetries } from "./retry.js";

const transient: Classification = { class: "retry-safe", reason: "network-econnrefused" };
const permanent: Classification = { class: "permanent", reason: "sqlstate-42601" };

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

function failing(times: number, value = "ok") {
  let calls = 0;
  return {
    calls: () => calls,
    attempt: async () => {
      calls++;
      if (calls <= times) throw new Error(`failure ${calls}`);
      return value;
    },
  };
}

describe("withRetries", () => {
  test("backoff grows exponentially with jitter, capped, and the loop ends at maxAttempts", async () => {
    const delays: number[] = [];
    const work = failing(100);
    const done = withRetries({
      maxAttempts: 6,
      initialDelayMs: 100,
      maxDelayMs: 1000,
      budget: new RetryBudget(10),
      attempt: work.attempt,
      decide: () => ({ retry: true, classification: transient }),
      onRetry: ({ delayMs }) => delays.push(delayMs),
    }).catch((e) => e);
    await vi.runAllTimersAsync();
    const error = await done;
    expect(error).toBeInstanceOf(RetriesExhausted);
    expect((error as RetriesExhausted).attempts).toBe(6);
    expect(work.calls()).toBe(6);
    expect(delays).toHaveLength(5);
    for (const d of delays) {
      expect(d).toBeGreaterThanOrEqual(0);
      expect(d).toBeLessThanOrEqual(1000);
    }
    // decorrelated jitter around 100 × 2^n: the later delays are longer on average than the first
    expect(delays[0]!).toBeLessThanOrEqual(200);
    expect(Math.max(...delays.slice(2))).toBeGreaterThan(delays[0]!);
  });

  test("waits the backoff between attempts (fake clock)", async () => {
    const work = failing(1);
    let delay = -1;
    const done = withRetries({
      maxAttempts: 3,
      initialDelayMs: 100,
      maxDelayMs: 1000,
      budget: new RetryBudget(1),
      attempt: work.attempt,
      decide: () => ({ retry: true, classification: transient }),
      onRetry: ({ delayMs }) => (delay = delayMs),
    });
    await vi.advanceTimersByTimeAsync(0);
    expect(work.calls()).toBe(1);
    await vi.advanceTimersByTimeAsync(Math.max(0, delay - 1));
    if (delay > 1) expect(work.calls()).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(work.calls()).toBe(2);
    await expect(done).resolves.toBe("ok");
  });

  test("a permanent error is not retried", async () => {
    const work = failing(5);
    const done = withRetries({
      maxAttempts: 5,
      initialDelayMs: 10,
      maxDelayMs: 100,
      budget: new RetryBudget(5),
      attempt: work.attempt,
      decide: () => ({ retry: false, classification: permanent }),
    }).catch((e) => e);
    await vi.runAllTimersAsync();
    expect(await done).toMatchObject({
      attempts: 1,
      classification: permanent,
      budgetSpent: false,
    });
    expect(work.calls()).toBe(1);
  });

  test("the retry budget caps retries in flight across calls; a retry waits for a slot up to maxDelayMs", async () => {
    const budget = new RetryBudget(2);
    const decide = () => ({ retry: true, classification: transient });
    // Each call fails once; its retry then takes `retryMs` to succeed.
    const slowRetry = (retryMs: number) => {
      let calls = 0;
      return async () => {
        if (++calls === 1) throw new Error("cut");
        await new Promise((r) => setTimeout(r, retryMs));
        return "ok";
      };
    };
    const run = (retryMs: number) =>
      Array.from({ length: 5 }, () =>
        withRetries({
          maxAttempts: 3,
          initialDelayMs: 10,
          maxDelayMs: 50,
          budget,
          attempt: slowRetry(retryMs),
          decide,
        }).catch((e) => e),
      );
    // Slow retries (200 ms, past the 50 ms a retry may wait): two run, three give up.
    const slow = run(200);
    await vi.advanceTimersByTimeAsync(0);
    expect(budget.used).toBe(2);
    await vi.runAllTimersAsync();
    const outcomes = await Promise.all(slow);
    expect(outcomes.filter((o) => o === "ok")).toHaveLength(2);
    expect(outcomes.filter((o) => o instanceof RetriesExhausted && o.budgetSpent)).toHaveLength(3);
    expect(budget.used).toBe(0);
    // Quick retries (1 ms): the slots come back in time, every call succeeds, two at a time.
    const quick = run(1);
    await vi.advanceTimersByTimeAsync(0);
    expect(budget.used).toBe(2);
    await vi.runAllTimersAsync();
    expect(await Promise.all(quick)).toEqual(["ok", "ok", "ok", "ok", "ok"]);
    expect(budget.used).toBe(0);
  });
});

describe("unbudgeted retries (they add no load to the database the budget protects)", () => {
  test("with the budget spent they still run, within attempts and backoff; budgeted ones give up", async () => {
    const budget = new RetryBudget(1);
    expect(budget.tryAcquire()).toBe(true); // someone else's retry holds the only slot
    const failsOnce = () => {
      let calls = 0;
      return async () => {
        if (++calls === 1) throw new Error("refused at connect");
        return "ok";
      };
    };
    const call = (unbudgeted: boolean) =>
      withRetries({
        maxAttempts: 3,
        initialDelayMs: 10,
        maxDelayMs: 20,
        budget,
        attempt: failsOnce(),
        decide: () => ({ retry: true, classification: transient, unbudgeted }),
      }).catch((e) => e);
    const [unbudgeted, budgeted] = [call(true), call(false)];
    await vi.runAllTimersAsync();
    expect(await unbudgeted).toBe("ok");
    const spent = await budgeted;
    expect(spent instanceof RetriesExhausted && spent.budgetSpent).toBe(true);
    expect(budget.used).toBe(1);
  });
});

describe("a retry's least delay (an open breaker lets nothing through before it half-opens)", () => {
  test("each retry waits at least minDelayMs, however short the backoff", async () => {
    const waits: number[] = [];
    let calls = 0;
    const result = withRetries({
      maxAttempts: 3,
      initialDelayMs: 1,
      maxDelayMs: 5,
      budget: new RetryBudget(1),
      attempt: async () => {
        if (++calls < 3) throw new Error("breaker open");
        return "ok";
      },
      decide: () => ({ retry: true, classification: transient, minDelayMs: 500 }),
      onRetry: ({ delayMs }) => waits.push(delayMs),
    });
    await vi.runAllTimersAsync();
    expect(await result).toBe("ok");
    expect(waits).toEqual([500, 500]);
  });
});

describe("free retries (a departing pooler process turned the call away)", () => {
  const goodbye: Classification = { class: "retry-safe", reason: "pooler-server-shutting-down" };

  test("cost no attempt, no budget slot and no wait, up to maxFreeRetries", async () => {
    const work = failing(4);
    const budget = new RetryBudget(1);
    const delays: number[] = [];
    const result = await withRetries({
      maxAttempts: 1,
      initialDelayMs: 100,
      maxDelayMs: 1000,
      budget,
      maxFreeRetries: 4,
      attempt: work.attempt,
      decide: () => ({ retry: true, classification: goodbye, free: true }),
      onRetry: ({ delayMs }) => delays.push(delayMs),
    });
    expect(result).toBe("ok");
    expect(work.calls()).toBe(5);
    expect(delays).toEqual([]);
    expect(budget.used).toBe(0);
  });

  test("past maxFreeRetries they are ordinary attempts again", async () => {
    const work = failing(100);
    const done = withRetries({
      maxAttempts: 2,
      initialDelayMs: 10,
      maxDelayMs: 10,
      budget: new RetryBudget(10),
      maxFreeRetries: 3,
      attempt: work.attempt,
      decide: () => ({ retry: true, classification: goodbye, free: true }),
    }).catch((e) => e);
    await vi.runAllTimersAsync();
    expect(((await done) as RetriesExhausted).attempts).toBe(2);
    expect(work.calls()).toBe(3 + 2);
  });
});

test("an attempt that throws before returning a promise is retried like one that rejects", async () => {
  let calls = 0;
  const result = await withRetries({
    maxAttempts: 3,
    initialDelayMs: 1,
    maxDelayMs: 1,
    budget: new RetryBudget(1),
    attempt: (n) => {
      calls++;
      if (n === 0) throw new Error("thrown, not rejected");
      return Promise.resolve("second");
    },
    decide: () => ({ retry: true, classification: transient }),
    sleep: async () => {},
  });
  expect({ result, calls }).toEqual({ result: "second", calls: 2 });
});
