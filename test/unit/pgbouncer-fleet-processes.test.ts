import * as pulumi from "@pulumi/pulumi";
import { expect, test } from "vitest";
import { rawStack, withField } from "../../platform/fixtures.js";
import { buildPlan } from "../../platform/plan.js";
import { validateStackConfig } from "../../platform/validate.js";
import { fleetArgs } from "./fleet-args.js";
import { userData } from "./program-files.js";
import { mockStack, unwrap } from "./pulumi-mocks.js";

// GIVEN the fleet component for prod's hosts running two PgBouncer processes each
// WHEN it is built THEN each host boots with both processes' files and units, Parameter Store
// keeps them for the later revisions, and Prometheus is admitted to both processes' exporters.
const mocked = await mockStack("prod");
const { PgBouncerFleet } = await import("../../components/pgbouncer-fleet.js");
const plan = buildPlan(
  validateStackConfig(withField(rawStack("prod"), "pgbouncer.processesPerHost", 2)),
);
new PgBouncerFleet("duo", {
  ...fleetArgs(plan, ["subnet-a", "subnet-b", "subnet-c"]),
  instanceType: "c7g.large",
  exporterPgpass: pulumi.secret("*:*:*:pgbouncer_stats:x\n"),
});
await mocked.settle();

test("each host's user-data writes both processes' ini and unit, and starts both", () => {
  const hosts = mocked.of("aws:ec2/instance:Instance");
  expect(hosts).toHaveLength(3);
  for (const host of hosts) {
    const { text, files } = userData(host);
    expect(files.get("/etc/pgbouncer/pgbouncer-2.ini"), host.name).toMatch(/^peer_id = \d+$/m);
    expect(files.get("/etc/systemd/system/pgbouncer-2.service"), host.name).toContain(
      "ExecStart=/usr/sbin/pgbouncer /etc/pgbouncer/pgbouncer-2.ini",
    );
    expect(files.has("/etc/systemd/system/pg-pooling-pgbouncer-exporter-2.service")).toBe(true);
    expect(text).toContain("systemctl restart pgbouncer.service pgbouncer-2.service");
  }
});

test("Parameter Store keeps every process's files for the later revisions", () => {
  const names = mocked.of("aws:ssm/parameter:Parameter").map((p) => unwrap(p.inputs.name));
  for (const h of plan.hosts)
    for (const file of ["pgbouncer.ini", "pgbouncer-2.ini", "pgbouncer-2.service"])
      expect(names, `${h.name} ${file}`).toContain(`/pg-pooling/prod/${h.name}/${file}`);
});

test("Prometheus is admitted to both processes' exporters", () => {
  const ports = mocked
    .of("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    .filter((r) => r.name.startsWith("duo-scrape-"))
    .map((r) => r.inputs.fromPort);
  expect([...new Set(ports)].sort()).toEqual([9100, 9127, 9128, 9187]);
});
