import { expect, test } from "vitest";
import { loadStack } from "../../platform/config.js";
import { buildPlan } from "../../platform/plan.js";
import { mockStack } from "./pulumi-mocks.js";

// GIVEN the prod stack config WHEN the program runs under mocks THEN its outputs are the plan's.
test("prod: the program reads the stack config and exports the plan's budget, pools and profiles", async () => {
  await mockStack("prod");
  const program = await import("../../index.js");
  const plan = buildPlan(loadStack("prod"));
  expect(program.environment).toBe("prod");
  expect(program.pgbouncerVersion).toBe(plan.config.pgbouncer.version);
  expect(program.budget).toEqual(
    plan.budget.map(({ node, usable, required, free }) => ({ node, usable, required, free })),
  );
  expect(program.pools.map((p) => p.name)).toEqual(plan.entries.map((e) => e.name));
  expect(program.profiles.find((p) => p.service === "orders")?.rw).toMatchObject({
    host: "pgbouncer.prod.db.internal",
    port: 6432,
    database: "orders",
  });
  expect(JSON.stringify(program.profiles)).not.toMatch(/password/i);
});
