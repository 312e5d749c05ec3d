import { describe, expect, test } from "vitest";
import { checkExposure } from "./exposure.js";
import { editResource, fixtureFacts, fixtureResources } from "./fixtures.js";
import type { PlainResource } from "./types.js";

const check = (resources: PlainResource[]) =>
  checkExposure(fixtureFacts(resources)).map((f) => f.message);
const WHY = "(PgBouncer and its exporters stay on private addresses)";

describe("pooling-private-addresses", () => {
  test("private hosts, private subnets, an internal load balancer", () => {
    expect(check(fixtureResources())).toEqual([]);
  });

  test.each([
    [
      "pgbouncer-1",
      "associatePublicIpAddress",
      true,
      "aws:ec2/instance:Instance pgbouncer-1: associatePublicIpAddress must be false",
    ],
    ["nlb", "internal", false, "aws:lb/loadBalancer:LoadBalancer nlb: internal must be true"],
    [
      "public-1",
      "mapPublicIpOnLaunch",
      true,
      "aws:ec2/subnet:Subnet public-1: mapPublicIpOnLaunch must be false",
    ],
  ])("%s.%s = %s", (name, field, value, message) => {
    const resources = editResource(fixtureResources(), name, (p) => (p[field] = value));
    expect(check(resources)).toEqual([`${message} ${WHY}, got ${value}`]);
  });

  test("a launch template handing out public IPs, an Elastic IP on a host", () => {
    const resources = editResource(fixtureResources(), "template", (p) => {
      p.networkInterfaces = [{ associatePublicIpAddress: "true" }];
    });
    resources.push({
      type: "aws:ec2/eip:Eip",
      name: "ip",
      props: { instance: "i-0123", domain: "vpc" },
    });
    expect(check(resources)).toEqual([
      `aws:ec2/launchTemplate:LaunchTemplate template: networkInterfaces[0].associatePublicIpAddress must be false ${WHY}, got true`,
      `aws:ec2/eip:Eip ip: instance must be unset ${WHY}, got i-0123`,
    ]);
  });
});
