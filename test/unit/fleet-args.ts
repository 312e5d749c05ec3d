import * as pulumi from "@pulumi/pulumi";
import type { Plan } from "../../platform/plan.js";
import { fixtureVerifiers } from "../../pgbouncer/fixtures.js";

/** PgBouncerFleet's arguments for a plan under mocks: one VPC, RDS addresses, fixture verifiers. */
export function fleetArgs(plan: Plan, subnetIds: string[]) {
  return {
    plan,
    stack: "prod",
    region: "eu-west-1",
    instanceType: "m7i.large",
    vpcId: "vpc-1",
    subnetIds,
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
}
