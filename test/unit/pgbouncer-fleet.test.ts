import * as pulumi from "@pulumi/pulumi";
import { expect, test } from "vitest";
import { rawStack, withField } from "../../platform/fixtures.js";
import { buildPlan } from "../../platform/plan.js";
import { validateStackConfig } from "../../platform/validate.js";
import { fixtureVerifiers } from "../../pgbouncer/fixtures.js";
import { cloudPeers } from "../../pgbouncer/render.js";
import { factsFromResources } from "../../policies/resources.js";
import { DEFAULT_POLICY_CONFIG, RULES } from "../../policies/rules.js";
import type { PlainResource } from "../../policies/types.js";
import { DELIVERED_FILES } from "../../pgbouncer/delivered-files.js";
import { fleetArgs as makeFleetArgs } from "./fleet-args.js";
import { userData } from "./program-files.js";
import { edited, plainResources } from "./program-policies.js";
import { isSecretInput, mockStack, unwrap } from "./pulumi-mocks.js";

// GIVEN the fleet component alone, with a transformation that records each child's options
// WHEN it is built for prod THEN a changed user-data or template can never touch a running host.
// prod's stack file with a second Prometheus range (a shared-address pod range) besides the VPC,
// over two AZs (the two subnets given), so the third host shares the first AZ.
const SCRAPE_FROM = ["10.40.0.0/16", "100.64.0.0/16"];
const mocked = await mockStack("prod");
const { PgBouncerFleet } = await import("../../components/pgbouncer-fleet.js");
const plan = buildPlan(
  validateStackConfig(
    [
      ["monitoring.scrapeFrom", SCRAPE_FROM],
      ["network.azs", 2],
      ["network.natGateways", 2],
    ].reduce((raw, [field, value]) => withField(raw, field as string, value), rawStack("prod")),
  ),
);
const options = new Map<string, pulumi.CustomResourceOptions>();
const record: pulumi.ResourceTransformation = ({ type, name, opts }) => {
  options.set(`${type}::${name}`, opts);
  return undefined;
};
const fleetArgs = makeFleetArgs(plan, ["subnet-a", "subnet-b"]);
new PgBouncerFleet(
  "fleet",
  { ...fleetArgs, exporterPgpass: pulumi.secret("*:*:*:pgbouncer_stats:x\n") },
  { transformations: [record] },
);
// and a fleet without exporters beside it
new PgBouncerFleet("bare", fleetArgs);
await mocked.settle();

const INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule";
const EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule";
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

// GIVEN the accounts' verifiers, as secrets WHEN the fleet is built THEN no instance's user-data
// holds one, nor writes the userlist (any process on a host reads its user-data through IMDS), and
// none of the secrets reaches it at all: it is not even marked secret. The verifiers reach the
// hosts as the userlist SecureString their first boot fetches.
test("no SCRAM verifier in any host's user-data; the userlist is a SecureString in Parameter Store", () => {
  const verifiers = [...fixtureVerifiers(plan).values()];
  const hosts = mocked.of("aws:ec2/instance:Instance");
  expect(hosts.length).toBe(2 * plan.hosts.length);
  for (const host of hosts) {
    expect(isSecretInput(host.inputs.userDataBase64), `${host.name} user-data secret`).toBe(false);
    const { text, files } = userData(host);
    for (const v of verifiers) expect(text.includes(v), `${host.name}: a verifier`).toBe(false);
    expect(text).not.toMatch(/SCRAM-SHA-256\$\d+:/);
    expect(files.has(DELIVERED_FILES["userlist.txt"].path), host.name).toBe(false);
    // and its first boot fetches the userlist before PgBouncer starts
    expect(text).toContain('--names "$PARAMETER_PATH/userlist.txt"');
  }
  for (const h of plan.hosts) {
    const param = mocked
      .of("aws:ssm/parameter:Parameter")
      .find((p) => p.inputs.name === `/pg-pooling/prod/${h.name}/userlist.txt`)!;
    expect(param.inputs.type).toBe("SecureString");
    expect(isSecretInput(param.inputs.value)).toBe(true);
    for (const v of verifiers) expect(unwrap(param.inputs.value)).toContain(v);
  }
});

// GIVEN the launch template every host boots from WHEN the fleet is built THEN the instance
// metadata service answers IMDSv2 (session tokens) only, one hop away: a container on the host
// cannot reach it to borrow the host's role.
test("the launch template requires IMDSv2 with a hop limit of 1", () => {
  const templates = mocked.of("aws:ec2/launchTemplate:LaunchTemplate");
  expect(templates.map((t) => t.name)).toEqual(["fleet-template", "bare-template"]);
  for (const t of templates) {
    expect(t.inputs.metadataOptions).toEqual({
      httpEndpoint: "enabled",
      httpTokens: "required",
      httpPutResponseHopLimit: 1,
    });
  }
});

test("hosts spread over the subnets given, round the AZs", () => {
  const subnets = mocked
    .of("aws:ec2/instance:Instance")
    .filter((h) => h.name.startsWith("fleet-"))
    .map((h) => unwrap(h.inputs.subnetId));
  expect(subnets).toEqual(["subnet-a", "subnet-b", "subnet-a"]);
});

// GIVEN three hosts over two AZs WHEN the fleet is built THEN each instance gets the fixed address
// its peers name: the first of its AZ's reserved block, then the next.
test("each host gets the fixed private address [peers] names for it", () => {
  const hosts = mocked.of("aws:ec2/instance:Instance").filter((h) => h.name.startsWith("fleet-"));
  expect(hosts.map((h) => h.inputs.privateIp)).toEqual(["10.40.0.16", "10.40.16.16", "10.40.0.17"]);
  expect(hosts.map((h) => h.inputs.privateIp)).toEqual(cloudPeers(plan).map((p) => p.host));
  // a replaced host frees its address first
  for (const host of hosts) {
    expect(options.get(`aws:ec2/instance:Instance::${host.name}`)?.deleteBeforeReplace).toBe(true);
  }
});

test("a subnet list that is not one per network.azs is refused, naming both", () => {
  expect(() => new PgBouncerFleet("wrong", { ...fleetArgs, subnetIds: ["subnet-a"] })).toThrow(
    "subnetIds must hold one private subnet per network.azs (2), got 1",
  );
});

// GIVEN a fleet of several hosts WHEN it is built THEN the hosts' group admits PgBouncer's port
// from itself, and lets it out to itself: a cancel request forwarded to the host that owns it.
test("peers: PgBouncer's port from and to the hosts' own security group, no range", () => {
  const peerRule = (type: string, name: string) =>
    mocked.of(type).find((r) => r.name === name)?.inputs;
  const rule = {
    securityGroupId: "fleet-hosts-id",
    referencedSecurityGroupId: "fleet-hosts-id",
    ipProtocol: "tcp",
    fromPort: 6432,
    toPort: 6432,
    description: "PgBouncer peers: cancel requests passed between hosts",
  };
  expect(peerRule(INGRESS, "fleet-peers-in")).toEqual(rule);
  expect(peerRule(EGRESS, "fleet-peers-out")).toEqual(rule);
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

// GIVEN the peers rule WHEN the policies run THEN a self-reference passes (no range in it), and the
// same rule edited to a range open to the world is refused.
test("the peers rule passes the ingress and exposure policies; opened to the world, it does not", () => {
  const rules = RULES.filter((r) =>
    ["pooling-no-world-ingress", "pooling-private-addresses"].includes(r.name),
  );
  expect(rules.length).toBe(2);
  const check = (list: PlainResource[]) =>
    rules.flatMap((rule) =>
      rule
        .check(factsFromResources(list, { stack: "prod" }), plan, DEFAULT_POLICY_CONFIG)
        .map((f) => f.message),
    );
  const resources = plainResources(mocked, "prod");
  expect(check(resources)).toEqual([]);
  const opened = edited(resources, "fleet-peers-in", (p) => {
    delete p.referencedSecurityGroupId;
    p.cidrIpv4 = "0.0.0.0/0";
  });
  expect(check(opened)).toEqual([
    `${INGRESS} fleet-peers-in: cidrIpv4 must not admit the internet to 6432 (PgBouncer), got 0.0.0.0/0 on port 6432`,
  ]);
});
