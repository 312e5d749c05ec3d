import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { stackParameterRoot } from "../pgbouncer/agent.js";
import type { Parent } from "./steps.js";

/** The instance role of the PgBouncer hosts. */
export interface HostRoleArgs {
  /** Region of the Parameter Store parameters the hosts read. @default none: required */
  region: string;
  /** Stack name: the hosts read `/pg-pooling/<stack>/*` and nothing else. @default none: required */
  stack: string;
  /** The target group a host leaves and rejoins around a restart. @default none: required */
  targetGroupArn: pulumi.Input<string>;
  /** Tags on every resource. @default {} */
  tags?: Record<string, string>;
}

/**
 * What a PgBouncer host may do: be managed through SSM (Session Manager instead of SSH keys, and
 * Run Command for the config association), read its own stack's files from Parameter Store, and
 * take itself out of and back into its target group. The userlist and the TLS key are
 * SecureStrings under the AWS-managed `aws/ssm` key, whose key policy already lets the account
 * decrypt through SSM.
 */
export class HostRole extends pulumi.ComponentResource {
  public readonly roleName: pulumi.Output<string>;
  public readonly instanceProfileName: pulumi.Output<string>;
  /** The inline policy: whatever runs on the hosts through SSM must wait for it. */
  public readonly policy: aws.iam.RolePolicy;

  constructor(name: string, args: HostRoleArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pooling:pgbouncer:HostRole", name, {}, opts);
    const parent = { parent: this };
    const { role, partition, account } = managedRole(name, args, parent);
    this.policy = hostPolicy(name, args, { role, partition, account, parent });
    const profile = new aws.iam.InstanceProfile(
      `${name}-profile`,
      { role: role.name, tags: args.tags },
      parent,
    );

    this.roleName = role.name;
    this.instanceProfileName = profile.name;
    this.registerOutputs({
      roleName: this.roleName,
      instanceProfileName: this.instanceProfileName,
    });
  }
}

/**
 * The role EC2 instances assume, with AWS's managed SSM policy attached (Session Manager, Run
 * Command). Returns the partition and account the inline policy's ARNs are built from.
 */
function managedRole(name: string, args: HostRoleArgs, parent: Parent) {
  const role = new aws.iam.Role(
    `${name}-role`,
    {
      description: "pg-pooling PgBouncer hosts",
      assumeRolePolicy: JSON.stringify({
        Version: "2012-10-17",
        Statement: [
          {
            Effect: "Allow",
            Principal: { Service: "ec2.amazonaws.com" },
            Action: "sts:AssumeRole",
          },
        ],
      }),
      tags: args.tags,
    },
    parent,
  );
  const partition = aws.getPartitionOutput({}, parent).partition;
  const account = aws.getCallerIdentityOutput({}, parent).accountId;
  new aws.iam.RolePolicyAttachment(
    `${name}-ssm`,
    {
      role: role.name,
      policyArn: pulumi.interpolate`arn:${partition}:iam::aws:policy/AmazonSSMManagedInstanceCore`,
    },
    parent,
  );
  return { role, partition, account };
}

/**
 * The inline policy: read the stack's own parameters, leave and rejoin the target group, watch
 * target health. Nothing else.
 */
function hostPolicy(
  name: string,
  args: HostRoleArgs,
  inputs: {
    role: aws.iam.Role;
    partition: pulumi.Output<string>;
    account: pulumi.Output<string>;
    parent: Parent;
  },
): aws.iam.RolePolicy {
  const { role, partition, account, parent } = inputs;
  const parameters = pulumi.interpolate`arn:${partition}:ssm:${args.region}:${account}:parameter${stackParameterRoot(args.stack)}/*`;
  return new aws.iam.RolePolicy(
    `${name}-policy`,
    {
      role: role.id,
      policy: pulumi.jsonStringify({
        Version: "2012-10-17",
        Statement: [
          {
            Sid: "ReadOwnConfig",
            Effect: "Allow",
            Action: ["ssm:GetParametersByPath", "ssm:GetParameters", "ssm:GetParameter"],
            Resource: [parameters],
          },
          {
            Sid: "LeaveAndRejoinTheLoadBalancer",
            Effect: "Allow",
            Action: [
              "elasticloadbalancing:DeregisterTargets",
              "elasticloadbalancing:RegisterTargets",
            ],
            Resource: [args.targetGroupArn],
          },
          {
            // Describe calls take no resource-level condition.
            Sid: "WatchTargetHealth",
            Effect: "Allow",
            Action: ["elasticloadbalancing:DescribeTargetHealth"],
            Resource: ["*"],
          },
        ],
      }),
    },
    parent,
  );
}
