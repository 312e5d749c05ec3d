import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { CLOUD_DEFAULTS } from "./defaults.js";
import { namedTags, type Parent, type Tags } from "./steps.js";

/** The internal network load balancer in front of the PgBouncer hosts. */
export interface LoadBalancerArgs {
  /** The PgBouncer port: listener, targets, health check (`pgbouncer.port`). @default none: required */
  port: number;
  /** The VPC of the target group and the security group. @default none: required */
  vpcId: pulumi.Input<string>;
  /** Private subnets, one per AZ. @default none: required */
  subnetIds: pulumi.Input<string>[];
  /** The only source admitted: the services' security group. @default none: required */
  clientSecurityGroupId: pulumi.Input<string>;
  /** The targets' security group, given a rule admitting the load balancer. @default none: required */
  targetSecurityGroupId: pulumi.Input<string>;
  /** Private DNS record for the endpoint, aliased to the load balancer. @default none */
  dns?: { zone: string; record: string };
  /** Tags on every resource; `Name` is added per resource. @default {} */
  tags?: Record<string, string>;
}

/**
 * TCP pass-through: PgBouncer terminates TLS itself (Postgres negotiates TLS inside its own
 * protocol, which a TLS listener cannot speak). The load balancer has a security group, so the
 * hosts admit that group alone, and it admits the clients' group alone; AWS applies the targets'
 * rule to load-balanced traffic even with client IP preservation, so PgBouncer still logs the
 * real client address. Cross-zone balancing: a fleet with fewer hosts than AZs is still reached
 * from every AZ.
 */
export class LoadBalancer extends pulumi.ComponentResource {
  public readonly dnsName: pulumi.Output<string>;
  public readonly targetGroupArn: pulumi.Output<string>;
  public readonly securityGroupId: pulumi.Output<string>;
  /** The endpoint's DNS name when a record was made. */
  public readonly endpoint: pulumi.Output<string> | undefined;

  constructor(name: string, args: LoadBalancerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pooling:pgbouncer:LoadBalancer", name, {}, opts);
    const parent = { parent: this };
    const tags = namedTags(name, args.tags);

    const sg = securityGroupChain(name, args, tags, parent);
    const { nlb, targets } = listenerAndTargets(name, args, sg, tags, parent);
    if (args.dns) this.endpoint = endpointRecord(name, args.dns, args.vpcId, nlb, tags, parent);

    this.dnsName = nlb.dnsName;
    this.targetGroupArn = targets.arn;
    this.securityGroupId = sg.id;
    this.registerOutputs({ dnsName: this.dnsName, targetGroupArn: this.targetGroupArn });
  }
}

/**
 * The load balancer's security group and the four rules of the chain clients → load balancer →
 * targets, on the PgBouncer port: each side names the other's group, nothing else is admitted.
 */
function securityGroupChain(
  name: string,
  args: LoadBalancerArgs,
  tags: Tags,
  parent: Parent,
): aws.ec2.SecurityGroup {
  const tcp = { ipProtocol: "tcp", fromPort: args.port, toPort: args.port };
  const sg = new aws.ec2.SecurityGroup(
    `${name}-sg`,
    {
      vpcId: args.vpcId,
      description: "pg-pooling load balancer: PgBouncer port from the clients' group only",
      tags: tags("sg"),
    },
    parent,
  );
  const rules: [string, aws.vpc.SecurityGroupIngressRuleArgs, "in" | "out"][] = [
    [
      "from-clients",
      { securityGroupId: sg.id, referencedSecurityGroupId: args.clientSecurityGroupId, ...tcp },
      "in",
    ],
    [
      "to-targets",
      { securityGroupId: sg.id, referencedSecurityGroupId: args.targetSecurityGroupId, ...tcp },
      "out",
    ],
    // Traffic and health checks both come from the load balancer's group.
    [
      "targets-from-lb",
      { securityGroupId: args.targetSecurityGroupId, referencedSecurityGroupId: sg.id, ...tcp },
      "in",
    ],
    // So that attaching the clients' group alone lets a workload reach the pooler.
    [
      "clients-to-lb",
      { securityGroupId: args.clientSecurityGroupId, referencedSecurityGroupId: sg.id, ...tcp },
      "out",
    ],
  ];
  for (const [role, rule, way] of rules) {
    if (way === "in") new aws.vpc.SecurityGroupIngressRule(`${name}-${role}`, rule, parent);
    else new aws.vpc.SecurityGroupEgressRule(`${name}-${role}`, rule, parent);
  }
  return sg;
}

/**
 * The internal network load balancer, its target group (TCP health checks, the deregistration
 * delay a restarting host drains for) and the TCP listener forwarding to it.
 */
function listenerAndTargets(
  name: string,
  args: LoadBalancerArgs,
  sg: aws.ec2.SecurityGroup,
  tags: Tags,
  parent: Parent,
) {
  const nlb = new aws.lb.LoadBalancer(
    `${name}-nlb`,
    {
      internal: true,
      loadBalancerType: "network",
      subnets: args.subnetIds,
      securityGroups: [sg.id],
      enableCrossZoneLoadBalancing: true,
      tags: tags("nlb"),
    },
    parent,
  );
  const h = CLOUD_DEFAULTS.healthCheck;
  const targets = new aws.lb.TargetGroup(
    `${name}-tg`,
    {
      vpcId: args.vpcId,
      port: args.port,
      protocol: "TCP",
      targetType: "instance",
      // A host leaving for a restart keeps its connections this long before it goes.
      deregistrationDelay: CLOUD_DEFAULTS.deregistrationDelaySeconds,
      healthCheck: {
        protocol: "TCP",
        port: "traffic-port",
        interval: h.intervalSeconds,
        healthyThreshold: h.healthyThreshold,
        unhealthyThreshold: h.unhealthyThreshold,
      },
      tags: tags("tg"),
    },
    parent,
  );
  new aws.lb.Listener(
    `${name}-listener`,
    {
      loadBalancerArn: nlb.arn,
      port: args.port,
      protocol: "TCP",
      defaultActions: [{ type: "forward", targetGroupArn: targets.arn }],
      tags: tags("listener"),
    },
    parent,
  );
  return { nlb, targets };
}

/** A private hosted zone in the VPC and the endpoint's alias record to the load balancer. */
function endpointRecord(
  name: string,
  dns: NonNullable<LoadBalancerArgs["dns"]>,
  vpcId: LoadBalancerArgs["vpcId"],
  nlb: aws.lb.LoadBalancer,
  tags: Tags,
  parent: Parent,
): pulumi.Output<string> {
  const zone = new aws.route53.Zone(
    `${name}-zone`,
    {
      name: dns.zone,
      comment: "pg-pooling: private names of the pooling tier",
      vpcs: [{ vpcId }],
      tags: tags("zone"),
    },
    parent,
  );
  const record = new aws.route53.Record(
    `${name}-endpoint`,
    {
      zoneId: zone.zoneId,
      name: `${dns.record}.${dns.zone}`,
      type: "A",
      aliases: [{ name: nlb.dnsName, zoneId: nlb.zoneId, evaluateTargetHealth: true }],
    },
    parent,
  );
  return record.fqdn;
}
