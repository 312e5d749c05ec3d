import { expect, test } from "vitest";
import { loadStack } from "../../platform/config.js";
import { buildPlan } from "../../platform/plan.js";
import { unwrap, valueOf } from "./pulumi-mocks.js";
import { predictedHostFiles, runProgram, storedParameters, T } from "./program-checks.js";
import { MOCK_TLS } from "./program-files.js";

// GIVEN prod hosts serving an older certificate of the fleet's CA (Parameter Store says so), the
// rest of their files as the current config renders them
// WHEN the program deploys the certificate the CA issues now (a renewal, or a replaced key)
// THEN it rolls out like a userlist change: a RELOAD on one host at a time, nothing drained,
// nothing replaced, and the new pair stored for the hosts (the key as a SecureString).
const previous = predictedHostFiles(buildPlan(loadStack("prod")));
for (const files of previous.values()) {
  files["pgbouncer.crt"] = "-----BEGIN CERTIFICATE-----\nb2xkZXI=\n-----END CERTIFICATE-----\n";
}
const { mocked, program } = await runProgram("prod", {
  parameters: storedParameters("prod", previous, {
    revision: "0".repeat(64),
    action: "none",
    reasons: ["new hosts boot with this revision"],
  }),
});

test("a new certificate is a RELOAD of the fleet, with the certificate as the reason", async () => {
  const association = mocked.of(T.association)[0]!.inputs;
  const parameters = association.parameters as Record<string, unknown>;
  expect(unwrap(parameters.action)).toBe("reload");
  // pulumi up does not wait as for a restart
  expect(unwrap(association.waitForSuccessTimeoutSeconds)).toBeUndefined();
  expect(association).toMatchObject({ maxConcurrency: "1", maxErrors: "0" });
  const reasons = await valueOf(program.pgbouncerRollout.reasons);
  expect(reasons).toContain("pgbouncer.crt changed: RELOAD loads the new certificate");
  expect(reasons.join("\n")).not.toMatch(/restart/);
});

test("the new certificate goes to every host's parameters; the key stays a SecureString", () => {
  for (const host of ["pgbouncer-1", "pgbouncer-2", "pgbouncer-3"]) {
    const param = (file: string) =>
      mocked.of(T.ssmParameter).find((p) => p.inputs.name === `/pg-pooling/prod/${host}/${file}`)!;
    expect(unwrap(param("pgbouncer.crt").inputs.insecureValue)).toBe(MOCK_TLS["pgbouncer.crt"]);
    expect(param("pgbouncer.key").inputs.type).toBe("SecureString");
  }
  expect(mocked.of(T.ec2)).toHaveLength(3);
});
