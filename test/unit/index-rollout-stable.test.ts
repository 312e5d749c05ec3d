import { expect, test } from "vitest";
import { loadStack } from "../../platform/config.js";
import { buildPlan } from "../../platform/plan.js";
import { fleetRevision } from "../../pgbouncer/rollout.js";
import { unwrap, valueOf } from "./pulumi-mocks.js";
import { predictedHostFiles, runProgram, storedParameters, T } from "./program-checks.js";

// GIVEN prod hosts that already run this revision, rolled out by a RELOAD last time
// WHEN `pulumi up` runs again with nothing changed
// THEN the association keeps exactly its parameters: no diff, no second run, no flip to "none".
const current = predictedHostFiles(buildPlan(loadStack("prod")));
const recorded = {
  revision: fleetRevision(Object.fromEntries(current)),
  action: "reload",
  reasons: ["[pgbouncer] max_client_conn changed"],
};
const { mocked, program } = await runProgram("prod", {
  parameters: storedParameters("prod", current, recorded),
});

test("an unchanged revision keeps its recorded decision", async () => {
  const parameters = mocked.of(T.association)[0]!.inputs.parameters as Record<string, unknown>;
  expect(unwrap(parameters.revision)).toBe(recorded.revision);
  expect(unwrap(parameters.action)).toBe("reload");
  expect(await valueOf(program.pgbouncerRollout.reasons)).toEqual(recorded.reasons);
});
