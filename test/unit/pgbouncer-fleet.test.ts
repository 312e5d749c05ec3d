import * as pulumi from "@pulumi/pulumi";
import { expect, test } from "vitest";
import { rawStack, withField } from "../../platform/fixtures.js";
import { buildPlan } from "../../platform/plan.js";
import { validateStackConfig } from "../../platform/validate.js";
import { fixtureVerifiers } from "../../pgbouncer/fixtures.js";
import { factsFromResources } from "../../policies/resources.js";
import { DEFAULT_POLICY_CONFIG, RULES } from "../../policies/rules.js";
import type { PlainResource } from "../../policies/types.js";
import { edited, plainResources } from "./program-policies.js";
import { mockStack, unwrap } from "./pulumi-mocks.js";

// GIVEN the fleet component alone, with a transformation that records each child's options
// WHEN it is built for prod THEN a changed user-data or template can never touch a running host.
// prod's stack file with a second Prometheus range (a shared-address pod range) besides the VPC.
const SCRAPE_FROM = ["10.40.0.0/16", "100.64.0.0/16"];
const mocked = await mockStack("prod");
const { PgBouncerFleet } = await import("../../components/pgbouncer-fleet.js");
const plan = buildPlan(
  validateStackConfig(withField(rawStack("prod"), "monitoring.scrapeFrom", SCRAPE_FROM)),
);
const options = new Map<string, pulumi.CustomResourceOptions>();
const record: pulumi.ResourceTransformation = ({ type, name, opts }) => {
  options.set(`${type}::${name}`, opts);
  return undefined;
};
const fleetArgs = {
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
};
new PgBouncerFleet(
  "fleet",
  { ...fleetArgs, exporterPgpass: pulumi.secret("*:*:*:pgbouncer_stats:x\n") },
  { transformations: [record] },
);
// and a fleet without exporters beside it
new PgBouncerFleet("bare", fleetArgs);
await mocked.settle();

const INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule";
const scrapeRules = (fleet: string) =>
  mocked.of(INGRESS).filter((r) => r.name.startsWith(`${fleet}-scrape-`));

test("instances ignore later user-data and launch template versions, and never replace on user-data", () => {
  const hosts = mocked.of("aws:ec2/instance:Instance").filter((h) => h.name.startsWith("fleet-"));
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
  const subnets = mocked
    .of("aws:ec2/instance:Instance")
    .filter((h) => h.name.startsWith("fleet-"))
    .map((h) => unwrap(h.inputs.subnetId));
  expect(subnets).toEqual(["subnet-a", "subnet-b", "subnet-a"]);
});

test("an x86_64 type gets the amd64 Debian image", () => {
  const template = mocked
    .of("aws:ec2/launchTemplate:LaunchTemplate")
    .find((t) => t.name === "fleet-template")!.inputs;
  expect(template).toMatchObject({ instanceType: "m7i.large", imageId: "ami-debian12-x86_64" });
});

test("no endpoint DNS unless asked for", () => {
  expect(mocked.of("aws:route53/zone:Zone")).toEqual([]);
});

// GIVEN monitoring.scrapeFrom WHEN the fleet runs exporters THEN its hosts' group admits exactly
// those ranges, on exactly the ports the exporters listen on (9187 once per host in prod).
test("scrape ingress: each scrapeFrom range to each exporter port, on the hosts' group only", () => {
  const byName = (a: { name: string }, b: { name: string }) => a.name.localeCompare(b.name);
  const rules = scrapeRules("fleet")
    .map((r) => ({ name: r.name, ...r.inputs }))
    .sort(byName);
  const rule = (cidr: string, port: number) => ({
    name: `fleet-scrape-${cidr.replace("/", "-")}-${port}`,
    securityGroupId: "fleet-hosts-id",
    cidrIpv4: cidr,
    ipProtocol: "tcp",
    fromPort: port,
    toPort: port,
    description: "Prometheus scrape",
  });
  expect(rules).toEqual(
    SCRAPE_FROM.flatMap((c) => [9100, 9127, 9187].map((p) => rule(c, p))).sort(byName),
  );
});

test("no exporters, no exporter port open", () => {
  expect(mocked.of(INGRESS).some((r) => r.name.startsWith("bare-"))).toBe(true);
  expect(scrapeRules("bare")).toEqual([]);
});

// GIVEN the fleet's resources as the policy pack sees them WHEN pooling-no-world-ingress runs
// THEN the scrape rules pass; the same rule opened to the internet does not (the check can fail).
test("the world-open ingress policy passes on the fleet, and fails when a scrape rule is opened", () => {
  const policy = RULES.find((r) => r.name === "pooling-no-world-ingress")!;
  const check = (list: PlainResource[]) =>
    policy
      .check(factsFromResources(list, { stack: "prod" }), plan, DEFAULT_POLICY_CONFIG)
      .map((f) => f.message);
  const resources = plainResources(mocked, "prod");
  expect(check(resources)).toEqual([]);
  const opened = edited(resources, "fleet-scrape-100.64.0.0-16-9127", (p) => {
    p.cidrIpv4 = "0.0.0.0/0";
  });
  expect(check(opened)).toEqual([
    `${INGRESS} fleet-scrape-100.64.0.0-16-9127: cidrIpv4 must not admit the internet to 9127 (pgbouncer_exporter), got 0.0.0.0/0 on port 9127`,
  ]);
});
