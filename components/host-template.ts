import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { debianArchitecture, ec2Architecture } from "../platform/network.js";
import { HOST_OS } from "../pgbouncer/pgdg.js";
import { CLOUD_DEFAULTS } from "./defaults.js";

/** What every PgBouncer host boots from, besides its own user-data. */
export interface HostTemplateArgs {
  /** EC2 instance type; Graviton types get the arm64 image. @default none: required */
  instanceType: string;
  /** The hosts' instance profile. @default none: required */
  instanceProfileName: pulumi.Input<string>;
  /** The hosts' security group. @default none: required */
  securityGroupId: pulumi.Input<string>;
  /** Tags of the template, and of the instances and volumes it launches. @default none: required */
  tags: (role: string) => Record<string, string>;
}

/**
 * The launch template: the newest official Debian image of the host OS for the type's
 * architecture, IMDSv2 only, an encrypted gp3 root volume, detailed monitoring.
 */
export function hostLaunchTemplate(
  name: string,
  args: HostTemplateArgs,
  opts: pulumi.CustomResourceOptions,
): aws.ec2.LaunchTemplate {
  const arch = ec2Architecture(args.instanceType);
  const ami = aws.ec2.getAmiOutput(
    {
      owners: [CLOUD_DEFAULTS.debianAmiOwner],
      mostRecent: true,
      filters: [
        { name: "name", values: [`debian-${HOST_OS.version}-${debianArchitecture(arch)}-*`] },
        { name: "architecture", values: [arch] },
        { name: "virtualization-type", values: ["hvm"] },
      ],
    },
    opts,
  );
  return new aws.ec2.LaunchTemplate(
    name,
    {
      description: `pg-pooling PgBouncer host (Debian ${HOST_OS.version}, ${arch})`,
      imageId: ami.id,
      instanceType: args.instanceType,
      iamInstanceProfile: { name: args.instanceProfileName },
      vpcSecurityGroupIds: [args.securityGroupId],
      // IMDSv2 only, one hop: containers on the host cannot borrow its role.
      metadataOptions: {
        httpEndpoint: "enabled",
        httpTokens: "required",
        httpPutResponseHopLimit: 1,
      },
      blockDeviceMappings: [
        {
          deviceName: ami.rootDeviceName,
          ebs: {
            volumeSize: CLOUD_DEFAULTS.rootVolumeGb,
            volumeType: "gp3",
            encrypted: "true",
            deleteOnTermination: "true",
          },
        },
      ],
      monitoring: { enabled: true },
      updateDefaultVersion: true,
      tagSpecifications: [
        { resourceType: "instance", tags: args.tags("host") },
        { resourceType: "volume", tags: args.tags("host") },
      ],
      tags: args.tags("template"),
    },
    opts,
  );
}
