import * as pulumi from "@pulumi/pulumi";
import { expect, test } from "vitest";
import { loadStack } from "../../platform/config.js";
import { buildPlan } from "../../platform/plan.js";
import { fixtureVerifiers } from "../../pgbouncer/fixtures.js";
import { mockStack, unwrap } from "./pulumi-mocks.js";

// GIVEN the fleet component alone, with a transformation that records each child's options
// WHEN it is built for prod THEN a changed user-data or template can never touch a running host.
const mocked = await mockStack("prod");
const { PgBouncerFleet } = await import("../../components/pgbouncer-fleet.js");
const plan = buildPlan(loadStack("prod"));
const options = new Map<string, pulumi.CustomResourceOptions>();
const record: pulumi.ResourceTransformation = ({ type, name, opts }) => {
  options.set(`${type}::${name}`, opts);
  return undefined;
};
new PgBouncerFleet(
  "fleet",
  {
    plan,
    stack: "prod",
    region: "eu-west-1",
    instanceType: "m7i.large",
    vpcId: "vpc-1",
    subnetIds: ["subnet-a", "subnet-b"],
    clientSecurityGroupId: "sg-clients",
    database: {
      primary: "primary.example",
      replicas: ["replica1.example", "replica2.example"],
      port: 5432,
      securityGroupId: "sg-db",
    },
    verifiers: Object.fromEntries(
      [...fixtureVerifiers(plan)].map(([user, v]) => [user, pulumi.secret(v)]),
    ),
  },
  { transformations: [record] },
);
await mocked.settle();

test("instances ignore later user-data and launch template versions, and never replace on user-data", () => {
  const hosts = mocked.of("aws:ec2/instance:Instance");
  expect(hosts.map((h) => h.name)).toEqual(plan.hosts.map((h) => `fleet-${h.name}`));
  for (const host of hosts) {
    expect(options.get(`aws:ec2/instance:Instance::${host.name}`)?.ignoreChanges).toEqual([
      "userData",
      "userDataBase64",
      "launchTemplate",
    ]);
    expect(host.inputs.userDataReplaceOnChange).toBe(false);
    expect(host.inputs.launchTemplate).toMatchObject({ id: "fleet-template-id", version: "1" });
  }
});

test("hosts spread over the subnets given, round the AZs", () => {
  const subnets = mocked.of("aws:ec2/instance:Instance").map((h) => unwrap(h.inputs.subnetId));
  expect(subnets).toEqual(["subnet-a", "subnet-b", "subnet-a"]);
});

test("an x86_64 type gets the amd64 Debian image", () => {
  const template = mocked.of("aws:ec2/launchTemplate:LaunchTemplate")[0]!.inputs;
  expect(template).toMatchObject({ instanceType: "m7i.large", imageId: "ami-debian12-x86_64" });
});

test("no endpoint DNS unless asked for", () => {
  expect(mocked.of("aws:route53/zone:Zone")).toEqual([]);
});
