import { expect, test } from "vitest";
import { mockStack } from "./pulumi-mocks.js";

// GIVEN the local stack WHEN the Pulumi program runs THEN it refuses, saying how to run it instead.
test("pulumi up -s local refuses with a clear message", async () => {
  await mockStack("local");
  await expect(import("../../index.js")).rejects.toThrow(
    /the 'local' stack is not deployed with Pulumi.*npm run local -- up/,
  );
});
