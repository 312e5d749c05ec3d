import { CircuitState } from "cockatiel";
import { afterEach, expect, test, vi } from "vitest";
import { DeadTargetBreaker, targetBreaker } from "./breaker.js";

const closed = CircuitState.Closed;
function clocked() {
  let t = 0;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

test("a dead target (every call failing) opens after `consecutive` failures", () => {
  const clock = clocked();
  const b = new DeadTargetBreaker({ consecutive: 3, rate: 0.5, windowMs: 1000 }, clock.now);
  expect([b.failure(closed), b.failure(closed), b.failure(closed)]).toEqual([false, false, true]);
});

test("a burst of failures among many successes does not open (one replica of several died)", () => {
  const clock = clocked();
  const b = new DeadTargetBreaker({ consecutive: 3, rate: 0.5, windowMs: 1000 }, clock.now);
  for (let i = 0; i < 200; i++) {
    b.success(closed);
    clock.advance(2);
  }
  const opened = Array.from({ length: 8 }, () => b.failure(closed));
  expect(opened.some(Boolean)).toBe(false);
});

test("old successes leave the window: a target that died a while ago opens", () => {
  const clock = clocked();
  const b = new DeadTargetBreaker({ consecutive: 3, rate: 0.5, windowMs: 1000 }, clock.now);
  for (let i = 0; i < 100; i++) b.success(closed);
  clock.advance(1500);
  expect([b.failure(closed), b.failure(closed), b.failure(closed)]).toEqual([false, false, true]);
});

test("a success resets the consecutive count", () => {
  const b = new DeadTargetBreaker({ consecutive: 2, rate: 0, windowMs: 1000 }, () => 0);
  b.failure(closed);
  b.success(closed);
  expect(b.failure(closed)).toBe(false);
  expect(b.failure(closed)).toBe(true);
});

afterEach(() => vi.useRealTimers());

test("transitions: closed → open after a dead streak → half-open after the wait → closed only after 3 good probes", async () => {
  vi.useFakeTimers();
  const breaker = targetBreaker(
    {
      consecutiveFailures: 3,
      failureRate: 0.5,
      failureWindowMs: 1000,
      halfOpenAfterMs: 500,
      halfOpenProbes: 3,
    },
    () => true,
  );
  const states: CircuitState[] = [];
  breaker.onStateChange((s) => states.push(s));
  const fail = () =>
    breaker.execute(() => Promise.reject(new Error("down"))).catch((e: Error) => e.message);
  const ok = () => breaker.execute(() => Promise.resolve("up"));

  expect([await fail(), await fail(), await fail()]).toEqual(["down", "down", "down"]);
  expect(breaker.state).toBe(CircuitState.Open);
  expect(await fail()).toMatch(/circuit breaker is open/);
  vi.advanceTimersByTime(499);
  expect(await fail()).toMatch(/circuit breaker is open/);
  vi.advanceTimersByTime(1);
  expect(await ok()).toBe("up");
  expect(breaker.state).toBe(CircuitState.HalfOpen); // one good probe is not enough
  expect(await ok()).toBe("up");
  expect(breaker.state).toBe(CircuitState.HalfOpen);
  expect(await ok()).toBe("up");
  expect(breaker.state).toBe(CircuitState.Closed);
  expect(states).toEqual([CircuitState.Open, CircuitState.HalfOpen, CircuitState.Closed]);
});

test("a failing probe opens it again", async () => {
  vi.useFakeTimers();
  const breaker = targetBreaker(
    {
      consecutiveFailures: 1,
      failureRate: 0,
      failureWindowMs: 1000,
      halfOpenAfterMs: 100,
      halfOpenProbes: 3,
    },
    () => true,
  );
  await breaker.execute(() => Promise.reject(new Error("down"))).catch(() => {});
  vi.advanceTimersByTime(100);
  await breaker.execute(() => Promise.resolve(1));
  await breaker.execute(() => Promise.reject(new Error("down again"))).catch(() => {});
  expect(breaker.state).toBe(CircuitState.Open);
});
