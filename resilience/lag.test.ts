import { describe, expect, test } from "vitest";
import { LagEstimator, parseLsn } from "./lag.js";

describe("parseLsn", () => {
  test.each([
    ["0/0", 0n],
    ["0/5CDCF30", 0x5cdcf30n],
    ["16/B374D848", (0x16n << 32n) | 0xb374d848n],
  ])("%s", (text, value) => expect(parseLsn(text)).toBe(value));
  test("refuses what is not an LSN, naming it", () => {
    expect(() => parseLsn("5CDCF30")).toThrow('not a WAL position (LSN): "5CDCF30"');
  });
});

describe("LagEstimator", () => {
  test("unknown before the first primary sample", () => {
    expect(new LagEstimator().lagSeconds(10n, 1000)).toBeUndefined();
  });

  test("a replica that has everything the primary had is not behind, even if the primary is idle", () => {
    const lag = new LagEstimator();
    for (let t = 0; t <= 60_000; t += 1000) lag.recordPrimary(500n, t); // idle primary for a minute
    expect(lag.lagSeconds(500n, 60_000)).toBe(0);
  });

  test("behind by the time since the primary first passed the replica's position", () => {
    const lag = new LagEstimator();
    lag.recordPrimary(100n, 0);
    lag.recordPrimary(200n, 1000);
    lag.recordPrimary(300n, 2000);
    lag.recordPrimary(400n, 3000);
    expect(lag.lagSeconds(250n, 3500)).toBe(1.5); // 300 was reached at 2000
    expect(lag.lagSeconds(400n, 3500)).toBe(0);
    expect(lag.lagSeconds(50n, 3500)).toBe(3.5); // behind everything we remember
  });

  test("keeps a bounded window and ignores positions that go back", () => {
    const lag = new LagEstimator(3);
    lag.recordPrimary(100n, 0);
    lag.recordPrimary(90n, 500);
    lag.recordPrimary(200n, 1000);
    lag.recordPrimary(300n, 2000);
    lag.recordPrimary(400n, 3000);
    expect(lag.lagSeconds(150n, 3000)).toBe(2); // 100@0 fell out of the window; 200@1000 is first ahead
  });
});
