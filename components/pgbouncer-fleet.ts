import type * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { hostPrivateIps } from "../platform/network.js";
import type { Upstreams } from "../pgbouncer/layout.js";
import { userlistEntries } from "../pgbouncer/render.js";
import { fleetCaName, serverCertificateNames } from "../pgbouncer/server-certificate.js";
import { tlsFileTargets } from "../pgbouncer/tls-files.js";
import { renderUserlist } from "../pgbouncer/userlist.js";
import { ConfigRollout } from "./config-rollout.js";
import { bootFiles, storedFiles } from "./host-files.js";
import { HostRole } from "./host-role.js";
import { hostLaunchTemplate } from "./host-template.js";
import { PgBouncerTls } from "./pgbouncer-tls.js";
import type { PgBouncerFleetArgs } from "./pgbouncer-fleet-args.js";
import type { LoadBalancer } from "./load-balancer.js";
import { exportersPgpass, fleetNetwork, hostInstance } from "./pgbouncer-hosts.js";
import { namedTags, type Parent, type Tags } from "./steps.js";

export type { PgBouncerFleetArgs };

/**
 * N hosts over the AZs, each booting from a launch template with its own cloud-init user-data,
 * at the fixed private address its peers name (platform/network.ts), serving the certificate the
 * fleet's CA issued for the endpoint (PgBouncerTls). A config change never replaces a host: the
 * instances ignore later user-data and template versions (a replaced host boots with the current
 * ones), and ConfigRollout brings the new files to the running hosts, with a RELOAD or, for
 * restart keys, a restart one host at a time.
 */
export class PgBouncerFleet extends pulumi.ComponentResource {
  public readonly instanceIds: pulumi.Output<string>[];
  public readonly privateIps: pulumi.Output<string>[];
  /** The fleet CA's certificate, PEM, when PgBouncer offers clients TLS: the services trust it. */
  public readonly caCertificate: pulumi.Output<string> | undefined;
  public readonly loadBalancerDnsName: pulumi.Output<string>;
  public readonly securityGroupId: pulumi.Output<string>;
  public readonly rollout: ConfigRollout["rollout"];
  public readonly associationId: pulumi.Output<string>;

  constructor(name: string, args: PgBouncerFleetArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pooling:pgbouncer:PgBouncerFleet", name, {}, opts);
    const parent = { parent: this };
    const tags = namedTags(name, args.tags);
    checkSubnets(args);
    const { hostsSg, lb } = fleetNetwork(name, args, tags, parent);
    const { role, template } = roleAndTemplate(name, args, { hostsSg, lb, tags, parent });
    const serverTls = tlsFileTargets(args.plan)
      ? new PgBouncerTls(
          `${name}-tls`,
          { caName: fleetCaName(args.stack), names: serverCertificateNames(args.plan) },
          parent,
        )
      : undefined;

    const { upstreams, userlist } = upstreamsAndUserlist(args);
    const files = bootFiles(args.plan, upstreams);
    const { config, resolveInstanceIds } = configRollout(name, args, {
      files,
      userlist,
      serverTls,
      readyAfter: role.policy,
      parent,
    });
    const pgpass = exportersPgpass(name, args, parent);
    const instances = fleetInstances(name, args, {
      files,
      upstreams,
      targetGroupArn: lb.targetGroupArn,
      template,
      pgpass,
      dependsOn: (host) => [role.policy, ...config.parametersByHost[host]!],
      tags,
      parent,
    });
    resolveInstanceIds(pulumi.all(instances.map((i) => i.id)));

    this.instanceIds = instances.map((i) => i.id);
    this.privateIps = instances.map((i) => i.privateIp);
    this.caCertificate = serverTls?.caCertificatePem;
    this.loadBalancerDnsName = lb.dnsName;
    this.securityGroupId = hostsSg.id;
    this.rollout = config.rollout;
    this.associationId = config.associationId;
    this.registerOutputs({
      instanceIds: this.instanceIds,
      loadBalancerDnsName: this.loadBalancerDnsName,
      rollout: this.rollout,
      caCertificate: this.caCertificate,
    });
  }
}

/** One private subnet per AZ of the plan: the hosts' placement and addresses depend on it. */
function checkSubnets(args: PgBouncerFleetArgs): void {
  const azs = args.plan.config.network.azs;
  if (args.subnetIds.length !== azs) {
    throw new Error(
      `subnetIds must hold one private subnet per network.azs (${azs}), got ${args.subnetIds.length}`,
    );
  }
}

/**
 * The hosts' instance role (SSM, their own parameters, their target group) and the launch
 * template every host boots from, with that role's profile and the hosts' security group.
 */
function roleAndTemplate(
  name: string,
  args: PgBouncerFleetArgs,
  inputs: { hostsSg: aws.ec2.SecurityGroup; lb: LoadBalancer; tags: Tags; parent: Parent },
) {
  const { tags, parent } = inputs;
  const role = new HostRole(
    `${name}-host`,
    {
      region: args.region,
      stack: args.stack,
      targetGroupArn: inputs.lb.targetGroupArn,
      tags: args.tags,
    },
    parent,
  );
  const template = hostLaunchTemplate(
    `${name}-template`,
    {
      instanceType: args.instanceType,
      instanceProfileName: role.instanceProfileName,
      securityGroupId: inputs.hostsSg.id,
      tags,
    },
    parent,
  );
  return { role, template };
}

type HostInputs = Parameters<typeof hostInstance>[2];

/**
 * One instance per host of the plan, at the address its peers name (platform/network.ts), each
 * waiting for what its first boot reads.
 */
function fleetInstances(
  name: string,
  args: PgBouncerFleetArgs,
  inputs: Omit<HostInputs, "args" | "addresses" | "dependsOn"> & {
    dependsOn: (host: string) => pulumi.Resource[];
  },
) {
  const { plan } = args;
  // The addresses [peers] names are the ones the instances get (platform/network.ts).
  const addresses = hostPrivateIps(plan.config.network, plan.hosts.length);
  return plan.hosts.map((host) =>
    hostInstance(name, host, {
      args,
      files: inputs.files,
      upstreams: inputs.upstreams,
      targetGroupArn: inputs.targetGroupArn,
      template: inputs.template,
      addresses,
      pgpass: inputs.pgpass,
      dependsOn: inputs.dependsOn(host.name),
      tags: inputs.tags,
      parent: inputs.parent,
    }),
  );
}

/** Where the pools point (the Postgres nodes) and the userlist of SCRAM verifiers, secret. */
function upstreamsAndUserlist(args: PgBouncerFleetArgs) {
  const { plan } = args;
  const { port } = args.database;
  const upstreams = pulumi
    .all([args.database.primary, pulumi.all(args.database.replicas)])
    .apply(([primary, replicas]): Upstreams => ({ primary, replicas, port }));
  const userlist = pulumi.secret(
    pulumi
      .all(args.verifiers)
      .apply((v) => renderUserlist(userlistEntries(plan, new Map(Object.entries(v))))),
  );
  return { upstreams, userlist };
}

/** The files stored for the hosts and the rollout that brings each revision to them. */
function configRollout(
  name: string,
  args: PgBouncerFleetArgs,
  inputs: {
    files: ReturnType<typeof bootFiles>;
    userlist: pulumi.Output<string>;
    serverTls: PgBouncerTls | undefined;
    readyAfter: pulumi.Resource;
    parent: Parent;
  },
) {
  const { files, userlist, serverTls, parent } = inputs;
  const stored = storedFiles(files, serverTls?.certificatePem);
  // The association targets the instances, and the instances boot only once their files are
  // stored (the first boot fetches the userlist and the TLS pair): the ids reach the rollout
  // once declared.
  const [instanceIds, resolveInstanceIds] = pulumi.deferredOutput<string[]>();
  const config = new ConfigRollout(
    `${name}-config`,
    {
      plan: args.plan,
      stack: args.stack,
      files: stored,
      secretFiles: {
        "userlist.txt": userlist,
        ...(serverTls ? { "pgbouncer.key": serverTls.privateKeyPem } : {}),
      },
      instanceIds,
      readyAfter: [inputs.readyAfter],
      tags: args.tags,
    },
    parent,
  );
  return { config, resolveInstanceIds };
}
