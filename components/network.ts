import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { hostAddressBlock, subnetCidrs } from "../platform/network.js";
import { namedTags, type Parent, type Tags } from "./steps.js";

/** The VPC the pooling tier and its clients run in. */
export interface NetworkArgs {
  /** IPv4 range of the VPC (`network.vpcCidr`). @default none: required */
  vpcCidr: string;
  /** How many AZs to spread over, the region's first N (`network.azs`). @default 2 */
  azs?: number;
  /** NAT gateways, in the first N AZs (`network.natGateways`). @default 1 */
  natGateways?: number;
  /** Tags on every resource; `Name` is added per resource. @default {} */
  tags?: Record<string, string>;
}

/**
 * A VPC with one private and one public subnet per AZ. Postgres, PgBouncer and the load balancer
 * live in the private subnets; the public ones hold only the NAT gateways the hosts use to reach
 * apt, SSM and the AWS APIs. Nothing here is reachable from the internet. Each private subnet
 * reserves the PgBouncer hosts' block (platform/network.ts hostAddressBlock) explicitly, before
 * anything is placed in it, so AWS gives those addresses to nothing but the hosts.
 */
export class Network extends pulumi.ComponentResource {
  public readonly vpcId: pulumi.Output<string>;
  public readonly vpcCidr: string;
  /** AZ names, in placement order: index i of every per-AZ list below is the same AZ. */
  public readonly availabilityZones: pulumi.Output<string>[];
  public readonly privateSubnetIds: pulumi.Output<string>[];
  /**
   * The services' security group: attach it to the application workloads. It is the only source
   * the PgBouncer load balancer admits.
   */
  public readonly clientSecurityGroupId: pulumi.Output<string>;

  constructor(name: string, args: NetworkArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pooling:network:Network", name, {}, opts);
    const azCount = args.azs ?? 2;
    const natCount = args.natGateways ?? 1;
    const tags = namedTags(name, args.tags);
    const parent = { parent: this };
    const cidrs = subnetCidrs(args.vpcCidr, azCount);

    this.availabilityZones = availabilityZones(cidrs.private.length, azCount, parent);
    const { vpc, igw, publicSubnets } = vpcAndPublicSubnets(name, {
      vpcCidr: args.vpcCidr,
      cidrs: cidrs.public,
      azs: this.availabilityZones,
      tags,
      parent,
    });
    const nats = natGateways(name, publicSubnets.slice(0, natCount), igw, tags, parent);
    const privateSubnets = cidrs.private.map((cidrBlock, i) =>
      privateSubnet(name, i, {
        vpcId: vpc.id,
        cidrBlock,
        az: this.availabilityZones[i]!,
        nat: nats[i % natCount]!,
        tags,
        parent,
      }),
    );
    const clients = new aws.ec2.SecurityGroup(
      `${name}-clients`,
      {
        vpcId: vpc.id,
        description: "pg-pooling clients: attach to the services that connect to PgBouncer",
        tags: tags("clients"),
      },
      parent,
    );

    this.vpcId = vpc.id;
    this.vpcCidr = args.vpcCidr;
    this.privateSubnetIds = privateSubnets;
    this.clientSecurityGroupId = clients.id;
    this.registerOutputs({
      vpcId: this.vpcId,
      privateSubnetIds: this.privateSubnetIds,
      clientSecurityGroupId: this.clientSecurityGroupId,
    });
  }
}

/**
 * The region's available AZs, the first `count` of them in placement order: a lookup, no
 * resource. Fails at apply time when the region has fewer than `network.azs`.
 */
function availabilityZones(count: number, azCount: number, parent: Parent) {
  const zones = aws.getAvailabilityZonesOutput({ state: "available" }, parent);
  return Array.from({ length: count }, (_, i) =>
    zones.names.apply((names) => {
      const az = names[i];
      if (!az) throw new Error(`network.azs is ${azCount} but the region has ${names.length}`);
      return az;
    }),
  );
}

/**
 * The VPC, its internet gateway, and one public subnet per AZ routed through it: the public
 * subnets exist only to hold the NAT gateways.
 */
function vpcAndPublicSubnets(
  name: string,
  inputs: {
    vpcCidr: string;
    cidrs: string[];
    azs: pulumi.Output<string>[];
    tags: Tags;
    parent: Parent;
  },
) {
  const { tags, parent } = inputs;
  // DNS support and hostnames: RDS endpoints and the private endpoint zone resolve in the VPC.
  const vpc = new aws.ec2.Vpc(
    `${name}-vpc`,
    {
      cidrBlock: inputs.vpcCidr,
      enableDnsSupport: true,
      enableDnsHostnames: true,
      tags: tags("vpc"),
    },
    parent,
  );
  const igw = new aws.ec2.InternetGateway(
    `${name}-igw`,
    { vpcId: vpc.id, tags: tags("igw") },
    parent,
  );
  const publicRoutes = new aws.ec2.RouteTable(
    `${name}-public`,
    {
      vpcId: vpc.id,
      routes: [{ cidrBlock: "0.0.0.0/0", gatewayId: igw.id }],
      tags: tags("public"),
    },
    parent,
  );
  const publicSubnets = inputs.cidrs.map((cidrBlock, i) => {
    const subnet = new aws.ec2.Subnet(
      `${name}-public-${i + 1}`,
      {
        vpcId: vpc.id,
        cidrBlock,
        availabilityZone: inputs.azs[i]!,
        mapPublicIpOnLaunch: false,
        tags: tags(`public-${i + 1}`),
      },
      parent,
    );
    new aws.ec2.RouteTableAssociation(
      `${name}-public-${i + 1}`,
      { subnetId: subnet.id, routeTableId: publicRoutes.id },
      parent,
    );
    return subnet;
  });
  return { vpc, igw, publicSubnets };
}

/**
 * One NAT gateway with its Elastic IP in each of the given public subnets: the hosts' way out to
 * apt, SSM and the AWS APIs. Each waits for the internet gateway it sends through.
 */
function natGateways(
  name: string,
  subnets: aws.ec2.Subnet[],
  igw: aws.ec2.InternetGateway,
  tags: Tags,
  parent: Parent,
) {
  return subnets.map((subnet, i) => {
    const eip = new aws.ec2.Eip(
      `${name}-nat-${i + 1}`,
      { domain: "vpc", tags: tags(`nat-${i + 1}`) },
      parent,
    );
    return new aws.ec2.NatGateway(
      `${name}-nat-${i + 1}`,
      { subnetId: subnet.id, allocationId: eip.id, tags: tags(`nat-${i + 1}`) },
      { parent: parent.parent, dependsOn: [igw] },
    );
  });
}

/**
 * The private subnet of AZ `i`, its route table out through a NAT gateway, and the reservation of
 * the PgBouncer hosts' address block. Returns the subnet's id, resolved only once the block is
 * reserved.
 */
function privateSubnet(
  name: string,
  i: number,
  inputs: {
    vpcId: pulumi.Output<string>;
    cidrBlock: string;
    az: pulumi.Output<string>;
    nat: aws.ec2.NatGateway;
    tags: Tags;
    parent: Parent;
  },
): pulumi.Output<string> {
  const { vpcId, cidrBlock, tags, parent } = inputs;
  const subnet = new aws.ec2.Subnet(
    `${name}-private-${i + 1}`,
    { vpcId, cidrBlock, availabilityZone: inputs.az, tags: tags(`private-${i + 1}`) },
    parent,
  );
  // Each AZ leaves through its own NAT when there is one per AZ, else through a shared one.
  const routes = new aws.ec2.RouteTable(
    `${name}-private-${i + 1}`,
    {
      vpcId,
      routes: [{ cidrBlock: "0.0.0.0/0", natGatewayId: inputs.nat.id }],
      tags: tags(`private-${i + 1}`),
    },
    parent,
  );
  new aws.ec2.RouteTableAssociation(
    `${name}-private-${i + 1}`,
    { subnetId: subnet.id, routeTableId: routes.id },
    parent,
  );
  // Explicit: AWS assigns none of these on its own (RDS, the load balancer, other ENIs); the
  // PgBouncer hosts take theirs by address.
  const reservation = new aws.ec2.SubnetCidrReservation(
    `${name}-private-${i + 1}-pgbouncer`,
    {
      subnetId: subnet.id,
      cidrBlock: hostAddressBlock(cidrBlock),
      reservationType: "explicit",
      description: "pg-pooling: the PgBouncer hosts' fixed addresses",
    },
    parent,
  );
  // Whatever is placed in the subnet waits for the reservation.
  return pulumi.all([subnet.id, reservation.id]).apply(([id]) => id);
}
