import { describe, expect, test } from "vitest";
import { DEFAULT_POLICY_CONFIG } from "./rules.js";
import { checkIngress, isPublicRange } from "./ingress.js";
import { editResource, fixtureFacts, fixtureResources, prod } from "./fixtures.js";
import type { PlainResource } from "./types.js";

const check = (resources: PlainResource[]) =>
  checkIngress(fixtureFacts(resources), prod, DEFAULT_POLICY_CONFIG).map((f) => f.message);
const RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule";

describe("pooling-no-world-ingress", () => {
  test("groups admitting groups or the VPC's range pass; egress to the world is not ingress", () => {
    expect(check(fixtureResources())).toEqual([]);
  });

  test("the PgBouncer port opened to the internet", () => {
    const resources = editResource(fixtureResources(), "hosts-from-lb", (p) => {
      delete p.referencedSecurityGroupId;
      p.cidrIpv4 = "0.0.0.0/0";
    });
    expect(check(resources)).toEqual([
      `${RULE} hosts-from-lb: cidrIpv4 must not admit the internet to 6432 (PgBouncer), got 0.0.0.0/0 on port 6432`,
    ]);
  });

  test("the exporter ports opened to a public range", () => {
    const resources = editResource(fixtureResources(), "exporters-from-vpc", (p) => {
      p.cidrIpv4 = "203.0.113.0/24";
    });
    expect(check(resources)).toEqual([
      `${RULE} exporters-from-vpc: cidrIpv4 must not admit a public range to 9100 (node_exporter), 9127 (pgbouncer_exporter), 9187 (postgres_exporter), got 203.0.113.0/24 on ports 9100-9187`,
    ]);
  });

  test("an inline rule for all traffic from anywhere over IPv6", () => {
    const resources = editResource(fixtureResources(), "hosts", (p) => {
      p.ingress = [{ protocol: "-1", fromPort: 0, toPort: 0, ipv6CidrBlocks: ["::/0"] }];
    });
    expect(check(resources)).toEqual([
      "aws:ec2/securityGroup:SecurityGroup hosts: ingress[0] must not admit the internet to 5432 (Postgres), 6432 (PgBouncer), 9100 (node_exporter), 9127 (pgbouncer_exporter), 9187 (postgres_exporter), got ::/0 on all traffic",
    ]);
  });

  test("a legacy SecurityGroupRule for Postgres; SSH is not this policy's port", () => {
    const rule = (type: string, port: number): PlainResource => ({
      type: "aws:ec2/securityGroupRule:SecurityGroupRule",
      name: `${type}-${port}`,
      props: { type, protocol: "tcp", fromPort: port, toPort: port, cidrBlocks: ["0.0.0.0/0"] },
    });
    expect(
      check([
        ...fixtureResources(),
        rule("ingress", 5432),
        rule("egress", 5432),
        rule("ingress", 22),
      ]),
    ).toEqual([
      "aws:ec2/securityGroupRule:SecurityGroupRule ingress-5432: cidrBlocks must not admit the internet to 5432 (Postgres), got 0.0.0.0/0 on port 5432",
    ]);
  });

  test.each([
    ["0.0.0.0/0", true],
    ["0.0.0.0/1", true],
    ["203.0.113.7/32", true],
    ["203.0.113.7", true],
    ["10.40.0.0/16", false],
    ["172.20.0.0/16", false],
    ["172.32.0.0/16", true],
    ["192.168.1.0/24", false],
    ["100.64.0.0/10", false],
    ["::/0", true],
    ["2001:db8::/32", true],
    ["fd00::/8", false],
  ])("isPublicRange(%s) = %s", (cidr, open) => {
    expect(isPublicRange(cidr)).toBe(open);
  });
});
