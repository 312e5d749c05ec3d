import { expect, test } from "vitest";
import { loadStack } from "../../platform/config.js";
import { buildPlan } from "../../platform/plan.js";
import { unwrap, valueOf } from "./pulumi-mocks.js";
import { predictedHostFiles, runProgram, storedParameters, T } from "./program-checks.js";

// GIVEN prod hosts that run an older revision listening on 6433 (Parameter Store says so)
// WHEN the program deploys the current config (listen_port 6432, a key RELOAD cannot change)
// THEN the association rolls a restart over the fleet, one host at a time, and pulumi up waits.
const previous = predictedHostFiles(buildPlan(loadStack("prod")));
for (const files of previous.values()) {
  files["pgbouncer.ini"] = files["pgbouncer.ini"].replace(
    "listen_port = 6432",
    "listen_port = 6433",
  );
}
const { mocked, program } = await runProgram("prod", {
  parameters: storedParameters("prod", previous, {
    revision: "0".repeat(64),
    action: "reload",
    reasons: ["an older revision"],
  }),
});

test("a restart key rolls the fleet one host at a time, stopping at the first failure", async () => {
  const association = mocked.of(T.association)[0]!.inputs;
  const parameters = association.parameters as Record<string, unknown>;
  expect(unwrap(parameters.action)).toBe("rolling-restart");
  expect(unwrap(parameters.revision)).toMatch(/^[0-9a-f]{64}$/);
  expect(association).toMatchObject({ maxConcurrency: "1", maxErrors: "0" });
  expect(unwrap(association.waitForSuccessTimeoutSeconds)).toBe(3 * 600);
  const rollout = await valueOf(program.pgbouncerRollout.reasons);
  expect(rollout).toContain("[pgbouncer] listen_port changed: only a restart applies it");
  expect(await valueOf(program.pgbouncerRollout.action)).toBe("rolling-restart");
});

test("the decision is recorded with the revision, readable, for the next run to keep", () => {
  const record = mocked
    .of(T.ssmParameter)
    .find((p) => p.inputs.name === "/pg-pooling/prod/rollout")!;
  const text = unwrap(record.inputs.insecureValue) as string;
  expect(JSON.parse(text)).toMatchObject({ action: "rolling-restart" });
});

test("the hosts are not replaced: the same three instances, the new files go to Parameter Store", () => {
  expect(mocked.of(T.ec2).map((i) => i.name)).toEqual([
    "pooling-pgbouncer-pgbouncer-1",
    "pooling-pgbouncer-pgbouncer-2",
    "pooling-pgbouncer-pgbouncer-3",
  ]);
  const ini = mocked
    .of(T.ssmParameter)
    .find((p) => p.inputs.name === "/pg-pooling/prod/pgbouncer-2/pgbouncer.ini")!;
  expect(unwrap(ini.inputs.insecureValue)).toMatch(/^listen_port = 6432$/m);
});
