import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { exporterHostFiles, exporterPgpassParameter } from "../monitoring/exporter-units.js";
import { scrapeIngress } from "../monitoring/scrape.js";
import { hostAz } from "../platform/network.js";
import type { Plan } from "../platform/plan.js";
import { hostParameterPath } from "../pgbouncer/agent.js";
import { encodeUserData, renderCloudInit } from "../pgbouncer/cloud-init.js";
import type { Upstreams } from "../pgbouncer/layout.js";
import { hostAccessRules } from "./host-access.js";
import type { bootFiles } from "./host-files.js";
import type { hostLaunchTemplate } from "./host-template.js";
import { LoadBalancer } from "./load-balancer.js";
import type { PgBouncerFleetArgs } from "./pgbouncer-fleet-args.js";
import type { Parent, Tags } from "./steps.js";

/** The pieces of a PgBouncerFleet: its network, the exporters' secret, each host's instance. */

export type { Parent, Tags } from "./steps.js";

/** The hosts' security group, the load balancer in front of them, and who may reach what. */
export function fleetNetwork(
  name: string,
  args: PgBouncerFleetArgs,
  tags: Tags,
  parent: Parent,
): { hostsSg: aws.ec2.SecurityGroup; lb: LoadBalancer } {
  const { plan } = args;
  const hostsSg = new aws.ec2.SecurityGroup(
    `${name}-hosts`,
    {
      vpcId: args.vpcId,
      // Left as first written although the exporter ports are open to Prometheus, and the
      // PgBouncer port to the other hosts: AWS replaces a security group whose description
      // changes.
      description: "pg-pooling PgBouncer hosts: PgBouncer port from the load balancer only",
      tags: tags("hosts"),
    },
    parent,
  );
  const lb = new LoadBalancer(
    `${name}-lb`,
    {
      port: plan.config.pgbouncer.port,
      vpcId: args.vpcId,
      subnetIds: args.subnetIds,
      clientSecurityGroupId: args.clientSecurityGroupId,
      targetSecurityGroupId: hostsSg.id,
      dns: args.dns,
      tags: args.tags,
    },
    parent,
  );
  hostAccessRules(
    name,
    {
      hostsSg: hostsSg.id,
      database: args.database,
      // Hosts without exporters open no exporter port.
      scrape: args.exporterPgpass === undefined ? [] : scrapeIngress(plan),
      ...(plan.hosts.length > 1 ? { peerPort: plan.config.pgbouncer.port } : {}),
    },
    parent,
  );
  return { hostsSg, lb };
}

/** Read by the hosts' exporter setup at boot: it must exist before the first host does. */
export function exportersPgpass(
  name: string,
  args: PgBouncerFleetArgs,
  parent: Parent,
): aws.ssm.Parameter | undefined {
  return args.exporterPgpass === undefined
    ? undefined
    : new aws.ssm.Parameter(
        `${name}-exporters-pgpass`,
        {
          name: exporterPgpassParameter(args.stack),
          description: "pg-pooling exporters' pgpass (stats-only user, monitoring role)",
          type: "SecureString",
          value: pulumi.secret(args.exporterPgpass),
          tags: args.tags,
        },
        parent,
      );
}

/** What each host's instance is made from, shared by the fleet's hosts. */
export interface HostInputs {
  args: PgBouncerFleetArgs;
  files: ReturnType<typeof bootFiles>;
  upstreams: pulumi.Output<Upstreams>;
  targetGroupArn: pulumi.Output<string>;
  template: ReturnType<typeof hostLaunchTemplate>;
  /** The fixed private address of every host, by index. */
  addresses: string[];
  pgpass: aws.ssm.Parameter | undefined;
  /** What the first boot reads: the role's policy, the host's stored parameters. */
  dependsOn: pulumi.Resource[];
  tags: Tags;
  parent: Parent;
}

/** One host: its instance, at its fixed address with its own user-data, behind the balancer. */
export function hostInstance(name: string, host: Plan["hosts"][number], inputs: HostInputs) {
  const { args, targetGroupArn, template, addresses, pgpass, dependsOn, tags, parent } = inputs;
  const azs = args.plan.config.network.azs;
  const userData = hostUserData(host, inputs);
  const instance = new aws.ec2.Instance(
    `${name}-${host.name}`,
    {
      launchTemplate: { id: template.id, version: template.latestVersion.apply(String) },
      subnetId: args.subnetIds[hostAz(host.index, azs)]!,
      privateIp: addresses[host.index]!,
      userDataBase64: userData,
      userDataReplaceOnChange: false,
      tags: { ...tags(host.name), "pg-pooling:host": host.name },
    },
    // Later user-data and template versions are for hosts created later: changing them on a
    // running instance would stop it (user-data) or replace it (template). A replaced host
    // goes first, since its successor takes the same fixed address. The first boot reads
    // Parameter Store (the userlist, the TLS pair, the exporters' pgpass), with the role's
    // policy.
    {
      parent: parent.parent,
      ignoreChanges: ["userData", "userDataBase64", "launchTemplate"],
      deleteBeforeReplace: true,
      dependsOn: [...(pgpass ? [pgpass] : []), ...dependsOn],
    },
  );
  new aws.lb.TargetGroupAttachment(
    `${name}-${host.name}`,
    { targetGroupArn, targetId: instance.id },
    parent,
  );
  return instance;
}

/** A host's cloud-init user-data: its boot files, its agent's settings, the exporters if any. */
function hostUserData(host: Plan["hosts"][number], inputs: HostInputs): pulumi.Output<string> {
  const { args, files, upstreams, targetGroupArn, pgpass } = inputs;
  const { plan } = args;
  // Nothing secret goes in: user-data is readable through IMDS by any process on the host,
  // so the userlist and the TLS pair come from Parameter Store at first boot. Nor is it
  // marked secret: a secret output among these inputs would make Pulumi mark it, and the
  // fleet's tests would see it.
  return pulumi.all([files, targetGroupArn, upstreams]).apply(([f, groupArn, upstreamAddresses]) =>
    encodeUserData(
      host.name,
      renderCloudInit({
        plan,
        host,
        files: f[host.name]!,
        agent: {
          host: host.name,
          region: args.region,
          parameterPath: hostParameterPath(args.stack, host.name),
          targetGroupArn: groupArn,
        },
        ...(pgpass
          ? { exporters: exporterHostFiles(plan, host, upstreamAddresses, args.stack) }
          : {}),
      }),
    ),
  );
}
