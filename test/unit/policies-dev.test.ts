import { expect, test } from "vitest";
import { runProgram } from "./program-checks.js";
import { edited, plainResources, policyViolations } from "./program-policies.js";

// GIVEN the dev program under mocks WHEN the policy pack's rules run THEN nothing is violated:
// dev is not strict (client TLS preferred, no deletion protection), and its one host carries all.
const { mocked, plan } = await runProgram("dev");
const resources = plainResources(mocked, "dev");
const violations = (list = resources) =>
  policyViolations(list, "dev", plan).map((v) => `[${v.rule}] ${v.message}`);

test("dev: zero violations", () => {
  expect(violations()).toEqual([]);
});

test("dev: the single host's LimitNOFILE cut by hand in its Parameter Store unit", () => {
  const list = edited(resources, "pooling-pgbouncer-config-pgbouncer-1-pgbouncer.service", (p) => {
    p.insecureValue = (p.insecureValue as string).replace(/^LimitNOFILE=.*$/m, "LimitNOFILE=256");
  });
  expect(violations(list)).toEqual([
    `[pooling-open-files] aws:ssm/parameter:Parameter pooling-pgbouncer-config-pgbouncer-1-pgbouncer.ini insecureValue: max_client_conn must be ≤ 96 = LimitNOFILE 256 (aws:ssm/parameter:Parameter pooling-pgbouncer-config-pgbouncer-1-pgbouncer.service insecureValue) − 60 server connections − margin 100, got ${plan.hosts[0]!.maxClientConn}`,
  ]);
});

test("dev: the one host's pool too small to carry a service's peak alone", () => {
  const list = edited(resources, "pooling-pgbouncer-config-pgbouncer-1-pgbouncer.ini", (p) => {
    p.insecureValue = (p.insecureValue as string).replace(
      /^(orders = .* pool_size=)\d+/m,
      "$1" + 1,
    );
  });
  expect(violations(list)).toEqual([
    "[pooling-connection-budget] databases.orders: the single host holds pool_size 1=1, but orders needs 3 server connections at peak",
  ]);
});
