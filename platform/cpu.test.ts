import { describe, expect, test } from "vitest";
import { loadStack } from "./config.js";
import { capacityPerProcess, peakPerProcess } from "./cpu.js";
import { ConfigError } from "./errors.js";
import { rawStack, withField } from "./fixtures.js";
import { ec2Vcpus } from "./instance-classes.js";
import { buildPlan } from "./plan.js";
import { validateStackConfig } from "./validate.js";

const plan = (raw: Record<string, unknown>) => buildPlan(validateStackConfig(raw));
const problems = (raw: Record<string, unknown>) => {
  try {
    plan(raw);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).problems.map((p) => `${p.path} ${p.message}, got ${p.got}`);
  }
  return [];
};

/** One service alone: 100 clients, 1000 transactions/s of `statements` statements each. */
function oneService(stack: string, statements = 1) {
  const raw = rawStack(stack);
  const services = raw.services as Record<string, Record<string, unknown>>;
  const orders = services.orders!;
  return withField(raw, "services", {
    orders: {
      ...orders,
      peakClients: 100,
      instances: 4,
      peakTps: 1000,
      statementsPerTransaction: statements,
    },
  });
}

describe("PgBouncer's CPU in the plan", () => {
  test("one process may carry half a core of the measured 18,800 statements/s", () => {
    expect(capacityPerProcess()).toBe(9400);
  });

  test("the busiest process: the whole peak on one survivor, the binomial bound over two processes", () => {
    const config = validateStackConfig(oneService("local", 3));
    // 2 hosts, 1 left: one process carries all 3000 statements/s
    expect(peakPerProcess(config, 2, 1)).toBe(3000);
    // two processes: at most 66 of the 100 clients land on one (spreadBound(100, 2) = 66)
    expect(peakPerProcess(config, 2, 2)).toBeCloseTo(3000 * 0.66, 6);
    // three hosts, two left, one process each: the same bound
    expect(peakPerProcess(config, 3, 1)).toBeCloseTo(3000 * 0.66, 6);
  });

  test("the stacks' plans: prod's busiest process at 6,848 statements/s of 9,400", () => {
    expect(buildPlan(loadStack("prod")).cpu).toEqual({
      capacityPerProcess: 9400,
      peakPerProcess: 6848,
      processesNeeded: 1,
    });
  });

  test("a local peak one process cannot carry: processesPerHost must grow, naming both numbers", () => {
    const raw = withField(oneService("local", 12), "pgbouncer.processesPerHost", 1);
    expect(problems(raw)).toEqual([
      "pgbouncer.processesPerHost must be ≥ 2: the busiest process would carry 12000 statements/s at peak with one host lost, over the 9400 one process may (a single thread: 50% of one core's 18800), got 1",
    ]);
    expect(plan(withField(raw, "pgbouncer.processesPerHost", 2)).cpu.peakPerProcess).toBe(7920);
  });

  test("in the cloud too, a second process on the host's second core (c7g.large: 2 vCPUs)", () => {
    const raw = oneService("prod", 15);
    expect(problems(raw)).toEqual([
      "pgbouncer.processesPerHost must be ≥ 2: the busiest process would carry 9900 statements/s at peak with one host lost, over the 9400 one process may (a single thread: 50% of one core's 18800), got 1",
    ]);
    expect(plan(withField(raw, "pgbouncer.processesPerHost", 2)).cpu.processesNeeded).toBe(2);
  });

  test("a host with no core to spare: the fix is more hosts (15,000 statements/s: 3 of 4 carry it)", () => {
    const raw = withField(oneService("prod", 15), "pgbouncer.instanceType", "c7g.medium");
    expect(problems(raw)).toEqual([
      "pgbouncer.hosts must be ≥ 4 with one process per host: the busiest process would carry 9900 statements/s at peak with one host lost, over the 9400 one process may (a single thread: 50% of one core's 18800), got 3",
    ]);
  });

  test("a process per vCPU at most: more would share a core and add nothing", () => {
    const raw = withField(rawStack("local"), "pgbouncer.processesPerHost", 3);
    expect(problems(raw)).toEqual([
      "pgbouncer.processesPerHost must be ≤ 2, the vCPUs of t4g.small: each process needs a core of its own, got 3",
    ]);
  });

  test.each([
    ["t4g.small", 2],
    ["t4g.medium", 2],
    ["c7g.medium", 1],
    ["c7g.large", 2],
    ["c7g.xlarge", 4],
    ["c7i.2xlarge", 8],
    ["m7g.16xlarge", 64],
    ["c7g.metal", undefined],
  ])("ec2Vcpus(%s) = %s", (type, vcpus) => {
    expect(ec2Vcpus(type)).toBe(vcpus);
  });
});
