import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { exporterHostFiles, exporterPgpassParameter } from "../monitoring/exporter-units.js";
import { scrapeIngress, type ScrapeIngress } from "../monitoring/scrape.js";
import { debianArchitecture, ec2Architecture, hostAz } from "../platform/network.js";
import type { Plan } from "../platform/plan.js";
import { deliveredFiles, hostParameterPath, type PublicFiles } from "../pgbouncer/agent.js";
import { encodeUserData, renderCloudInit } from "../pgbouncer/cloud-init.js";
import { PRODUCTION_LAYOUT } from "../pgbouncer/layout.js";
import { SYSTEMD_RELOAD } from "../pgbouncer/logrotate.js";
import { HOST_OS } from "../pgbouncer/pgdg.js";
import { renderHostFiles, userlistEntries } from "../pgbouncer/render.js";
import { renderUserlist } from "../pgbouncer/userlist.js";
import { ConfigRollout } from "./config-rollout.js";
import { CLOUD_DEFAULTS } from "./defaults.js";
import { HostRole } from "./host-role.js";
import { LoadBalancer } from "./load-balancer.js";

/** The PgBouncer hosts, their load balancer, and the delivery of config revisions to them. */
export interface PgBouncerFleetArgs {
  /**
   * The plan: hosts, pools, port, PgBouncer version, TLS and the ranges Prometheus scrapes from
   * (`monitoring.scrapeFrom`) all come from it. @default none: required
   */
  plan: Plan;
  /** Stack name, for Parameter Store paths. @default none: required */
  stack: string;
  /** AWS region (the hosts fetch their files and the RDS CA bundle there). @default none: required */
  region: string;
  /**
   * EC2 instance type (`pgbouncer.instanceType`); Graviton types get the arm64 image.
   * @default none: required
   */
  instanceType: string;
  /** The VPC of the hosts and their security group. @default none: required */
  vpcId: pulumi.Input<string>;
  /** Private subnets in AZ order: host i goes to subnet i mod n. @default none: required */
  subnetIds: pulumi.Input<string>[];
  /** The services' security group: the only source the load balancer admits. @default none: required */
  clientSecurityGroupId: pulumi.Input<string>;
  /**
   * The Postgres nodes the pools point at (addresses, port) and their security group.
   * @default none: required
   */
  database: {
    primary: pulumi.Input<string>;
    replicas: pulumi.Input<string>[];
    port: number;
    securityGroupId: pulumi.Input<string>;
  };
  /** SCRAM verifier per PgBouncer account (services, admin, stats), secret. @default none: required */
  verifiers: Record<string, pulumi.Input<string>>;
  /**
   * The exporters' pgpass file (stats-only user and monitoring role), secret. Given, every host
   * runs the exporters (monitoring/exporter-units.ts), reads this from a SecureString at boot,
   * and the hosts' security group admits `monitoring.scrapeFrom` to the exporters' ports.
   * @default none: hosts without exporters
   */
  exporterPgpass?: pulumi.Input<string>;
  /** Private DNS record for the endpoint, pointing at the load balancer. @default none */
  dns?: { zone: string; record: string };
  /** Tags on every resource; `Name` is added per resource. @default {} */
  tags?: Record<string, string>;
}

/**
 * N hosts over the AZs, each booting from a launch template with its own cloud-init user-data.
 * A config change never replaces a host: the instances ignore later user-data and template
 * versions (a replaced host boots with the current ones), and ConfigRollout brings the new files
 * to the running hosts, with a RELOAD or, for restart keys, a restart one host at a time.
 */
export class PgBouncerFleet extends pulumi.ComponentResource {
  public readonly instanceIds: pulumi.Output<string>[];
  public readonly privateIps: pulumi.Output<string>[];
  public readonly loadBalancerDnsName: pulumi.Output<string>;
  public readonly securityGroupId: pulumi.Output<string>;
  public readonly rollout: ConfigRollout["rollout"];
  public readonly associationId: pulumi.Output<string>;

  constructor(name: string, args: PgBouncerFleetArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pooling:pgbouncer:PgBouncerFleet", name, {}, opts);
    const { plan } = args;
    const parent = { parent: this };
    const tags = (role: string) => ({ ...args.tags, Name: `${name}-${role}` });

    const hostsSg = new aws.ec2.SecurityGroup(
      `${name}-hosts`,
      {
        vpcId: args.vpcId,
        // Left as first written although the exporter ports are open to Prometheus too: AWS
        // replaces a security group whose description changes.
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
    // Hosts without exporters open no exporter port.
    const scrape = args.exporterPgpass === undefined ? [] : scrapeIngress(plan);
    this.networkAccess(name, hostsSg.id, args.database, scrape);

    const role = new HostRole(
      `${name}-host`,
      {
        region: args.region,
        stack: args.stack,
        targetGroupArn: lb.targetGroupArn,
        tags: args.tags,
      },
      parent,
    );
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
      parent,
    );
    const template = new aws.ec2.LaunchTemplate(
      `${name}-template`,
      {
        description: `pg-pooling PgBouncer host (Debian ${HOST_OS.version}, ${arch})`,
        imageId: ami.id,
        instanceType: args.instanceType,
        iamInstanceProfile: { name: role.instanceProfileName },
        vpcSecurityGroupIds: [hostsSg.id],
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
          { resourceType: "instance", tags: tags("host") },
          { resourceType: "volume", tags: tags("host") },
        ],
        tags: tags("template"),
      },
      parent,
    );

    // Files without the userlist come from the upstream addresses only: not secret. The
    // userlist carries the verifiers: secret, and so is every user-data that embeds it.
    const { port } = args.database;
    const publicFiles = pulumi
      .all([args.database.primary, pulumi.all(args.database.replicas)])
      .apply(([primary, replicas]) =>
        Object.fromEntries(
          plan.hosts.map((host): [string, PublicFiles] => {
            const files = renderHostFiles({
              plan,
              host,
              upstreams: { primary, replicas, port },
              layout: PRODUCTION_LAYOUT,
              users: userlistEntries(plan, "redacted"),
              reloadCommand: SYSTEMD_RELOAD,
            });
            const { "userlist.txt": _redacted, ...rest } = deliveredFiles(plan, files);
            return [host.name, rest];
          }),
        ),
      );
    const userlist = pulumi.secret(
      pulumi
        .all(args.verifiers)
        .apply((v) => renderUserlist(userlistEntries(plan, new Map(Object.entries(v))))),
    );

    // Read by the hosts' exporter setup at boot: it must exist before the first host does.
    const pgpass =
      args.exporterPgpass === undefined
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
    const upstreams = pulumi
      .all([args.database.primary, pulumi.all(args.database.replicas)])
      .apply(([primary, replicas]) => ({ primary, replicas, port }));

    const instances = plan.hosts.map((host) => {
      const userData = pulumi
        .all([publicFiles, userlist, lb.targetGroupArn, upstreams])
        .apply(([files, list, targetGroupArn, addresses]) =>
          encodeUserData(
            host.name,
            renderCloudInit({
              plan,
              host,
              files: { ...files[host.name]!, "userlist.txt": list },
              agent: {
                host: host.name,
                region: args.region,
                parameterPath: hostParameterPath(args.stack, host.name),
                targetGroupArn,
              },
              ...(pgpass
                ? { exporters: exporterHostFiles(plan, host, addresses, args.stack) }
                : {}),
            }),
          ),
        );
      const instance = new aws.ec2.Instance(
        `${name}-${host.name}`,
        {
          launchTemplate: { id: template.id, version: template.latestVersion.apply(String) },
          subnetId: args.subnetIds[hostAz(host.index, args.subnetIds.length)]!,
          userDataBase64: pulumi.secret(userData),
          userDataReplaceOnChange: false,
          tags: { ...tags(host.name), "pg-pooling:host": host.name },
        },
        // Later user-data and template versions are for hosts created later: changing them on a
        // running instance would stop it (user-data) or replace it (template).
        {
          parent: this,
          ignoreChanges: ["userData", "userDataBase64", "launchTemplate"],
          dependsOn: pgpass ? [pgpass] : [],
        },
      );
      new aws.lb.TargetGroupAttachment(
        `${name}-${host.name}`,
        { targetGroupArn: lb.targetGroupArn, targetId: instance.id },
        parent,
      );
      return instance;
    });

    const config = new ConfigRollout(
      `${name}-config`,
      {
        stack: args.stack,
        hosts: plan.hosts.map((h) => h.name),
        files: publicFiles,
        userlist,
        instanceIds: instances.map((i) => i.id),
        readyAfter: [role.policy],
        tags: args.tags,
      },
      parent,
    );

    this.instanceIds = instances.map((i) => i.id);
    this.privateIps = instances.map((i) => i.privateIp);
    this.loadBalancerDnsName = lb.dnsName;
    this.securityGroupId = hostsSg.id;
    this.rollout = config.rollout;
    this.associationId = config.associationId;
    this.registerOutputs({
      instanceIds: this.instanceIds,
      loadBalancerDnsName: this.loadBalancerDnsName,
      rollout: this.rollout,
    });
  }

  /**
   * The hosts reach Postgres, and Postgres admits them: the database's only ingress rule. Plus
   * HTTPS/HTTP out for packages (PGDG over HTTPS, Debian's mirrors), SSM and the AWS APIs. And
   * Prometheus's ranges (`monitoring.scrapeFrom`) in to the exporter ports, one rule per range and
   * port, named by both so that reordering the ranges replaces nothing.
   */
  private networkAccess(
    name: string,
    hostsSg: pulumi.Output<string>,
    db: PgBouncerFleetArgs["database"],
    scrape: ScrapeIngress[],
  ): void {
    const parent = { parent: this };
    const tcp = (port: number) => ({ ipProtocol: "tcp", fromPort: port, toPort: port });
    new aws.vpc.SecurityGroupIngressRule(
      `${name}-postgres-from-hosts`,
      { securityGroupId: db.securityGroupId, referencedSecurityGroupId: hostsSg, ...tcp(db.port) },
      parent,
    );
    new aws.vpc.SecurityGroupEgressRule(
      `${name}-hosts-to-postgres`,
      { securityGroupId: hostsSg, referencedSecurityGroupId: db.securityGroupId, ...tcp(db.port) },
      parent,
    );
    for (const port of [443, 80]) {
      new aws.vpc.SecurityGroupEgressRule(
        `${name}-hosts-out-${port}`,
        { securityGroupId: hostsSg, cidrIpv4: "0.0.0.0/0", ...tcp(port) },
        parent,
      );
    }
    for (const { cidr, port } of scrape) {
      new aws.vpc.SecurityGroupIngressRule(
        `${name}-scrape-${cidr.replace("/", "-")}-${port}`,
        {
          securityGroupId: hostsSg,
          cidrIpv4: cidr,
          description: "Prometheus scrape",
          ...tcp(port),
        },
        parent,
      );
    }
  }
}
