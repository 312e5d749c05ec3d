import { CircuitState } from "cockatiel";
import { expect, test } from "vitest";
import { DeadTargetBreaker } from "./breaker.js";

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
