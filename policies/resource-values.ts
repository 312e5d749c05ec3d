import type { PlainResource, Ref } from "./types.js";

/**
 * How the policies read a stack's plain resources: the types they look at, Pulumi's sentinels for
 * values not known until apply, and a resource's reference in a finding.
 */

/** Resource types the policies read. */
export const TYPES = {
  rds: "aws:rds/instance:Instance",
  parameterGroup: "aws:rds/parameterGroup:ParameterGroup",
  instance: "aws:ec2/instance:Instance",
  launchTemplate: "aws:ec2/launchTemplate:LaunchTemplate",
  subnet: "aws:ec2/subnet:Subnet",
  securityGroup: "aws:ec2/securityGroup:SecurityGroup",
  securityGroupRule: "aws:ec2/securityGroupRule:SecurityGroupRule",
  ingressRule: "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
  eip: "aws:ec2/eip:Eip",
  eipAssociation: "aws:ec2/eipAssociation:EipAssociation",
  loadBalancers: ["aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer"],
  parameter: "aws:ssm/parameter:Parameter",
  role: "postgresql:index/role:Role",
} as const;

/** The instance tag naming the plan's host (`pgbouncer-1` …) a PgBouncer instance runs. */
export const HOST_TAG = "pg-pooling:host";

/**
 * Pulumi's wire-protocol sentinels for values not known until apply (a first `pulumi preview`).
 * The engine sends every unknown as one of these strings (sdk/go/common/resource/plugin/rpc.go);
 * @pulumi/policy hands them to policies as they are.
 */
export const UNKNOWN_SENTINELS: ReadonlySet<string> = new Set([
  "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7",
  "3eeb2bf0-c639-47a8-9e75-3b44932eb421",
  "04da6b54-80e4-46f7-96ec-b56ff0331ba9",
  "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2",
  "030794c1-ac77-496b-92df-f27374a8bd58",
  "e48ece36-62e2-4504-bad9-02848725956a",
  "dd056dcd-154b-4c76-9bd3-c8f88648b5ff",
]);

export const isUnknown = (v: unknown): boolean => typeof v === "string" && UNKNOWN_SENTINELS.has(v);

export const refOf = (r: PlainResource): Ref => ({
  type: r.type,
  name: r.name,
  ...(r.urn ? { urn: r.urn } : {}),
});

/** The resources of a type (or of any of several). */
export type Of = (type: string | readonly string[]) => PlainResource[];
/** A value, or undefined (recorded as unknown) when it is not known until apply. */
export type Known = (r: PlainResource, field: string, value: unknown) => unknown;
/** A resource's property, as Known reads it. */
export type Prop = (r: PlainResource, field: string) => unknown;
