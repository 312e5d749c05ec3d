import { expect, test } from "vitest";
import type { ThroughputSample } from "./report/types.js";
import { countErrors, exactPerSecond } from "./summary.js";

const sample = (t: number): ThroughputSample => ({
  t,
  tps: -1,
  p50Ms: -1,
  p95Ms: -1,
  p99Ms: -1,
  errors: -1,
  clientsWaiting: 0,
  clientsConnected: 0,
  connectionsLost: 0,
});

test("per-second numbers come from completion times, not from when a tick arrived", () => {
  const samples = [sample(1), sample(2), sample(3)];
  // second 1: three calls of 10, 20, 30 ms; second 2: none; second 3: one of 5 ms
  exactPerSecond(
    samples,
    [100, 500, 999, 2500],
    [10, 20, 30, 5],
    [{ service: "orders", code: "57P01", message: "x", at: 1500, calledAt: 1000 }],
  );
  expect(samples.map((s) => [s.tps, s.p50Ms, s.p99Ms, s.errors])).toEqual([
    [3, 20, 30, 0],
    [0, 0, 0, 1],
    [1, 5, 5, 0],
  ]);
});

test("errors group by service, code and message with ids and numbers taken out", () => {
  const e = (message: string, at: number) => ({
    service: "orders",
    code: "40001",
    message,
    at,
    calledAt: at,
  });
  const groups = countErrors([
    e('tx 17 on "orders" failed', 2000),
    e('tx 18 on "orders" failed', 1000),
  ]);
  expect(groups).toEqual([
    { service: "orders", code: "40001", message: 'tx N on "…" failed', count: 2, firstAt: 1 },
  ]);
});
