/**
 * Where things go in the cloud, as plain arithmetic: the VPC's subnets, which availability zone
 * each Postgres node and PgBouncer host lands in, the CPU architecture of an EC2 type and the DNS
 * zone of the endpoint. components/ turns these into resources; tests check them without mocks.
 */

/** An IPv4 address (the endpoint may be one instead of a name). */
export const isIpv4Address = (text: string) => /^\d{1,3}(\.\d{1,3}){3}$/.test(text);

const IPV4_CIDR = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;

/** Prefixes a VPC may have: /16 is the largest AWS allows; /20 still gives every subnet a /24. */
export const VPC_PREFIX = { min: 16, max: 20 } as const;

/** Each subnet is 1/16 of the VPC: room for 6 AZs × (private + public) and spare blocks. */
const SUBNET_BITS = 4;
/** Public subnets start half-way, so private ones can grow into the lower half first. */
const PUBLIC_OFFSET = 8;

export interface Cidr {
  /** The network address as a 32-bit unsigned integer. */
  base: number;
  prefix: number;
}

/** "10.40.0.0/16" → {base, prefix}, or undefined for anything that is not a network address. */
export function parseCidr(text: string): Cidr | undefined {
  const m = IPV4_CIDR.exec(text);
  if (!m) return undefined;
  const octets = m.slice(1, 5).map(Number);
  const prefix = Number(m[5]);
  if (octets.some((o) => o > 255) || prefix > 32) return undefined;
  const base = octets.reduce((n, o) => n * 256 + o, 0);
  const size = 2 ** (32 - prefix);
  if (base % size !== 0) return undefined; // host bits set: 10.40.1.0/16 is a typo, not a network
  return { base, prefix };
}

/** A VPC range this project can split: a network address with a prefix from /16 to /20. */
export function isVpcCidr(text: string): boolean {
  const cidr = parseCidr(text);
  return cidr !== undefined && cidr.prefix >= VPC_PREFIX.min && cidr.prefix <= VPC_PREFIX.max;
}

/** A 32-bit unsigned integer as a dotted IPv4 address. */
function ipv4(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join(".");
}

function format({ base, prefix }: Cidr): string {
  return `${ipv4(base)}/${prefix}`;
}

function subnet(vpc: Cidr, index: number): string {
  const prefix = vpc.prefix + SUBNET_BITS;
  return format({ base: vpc.base + index * 2 ** (32 - prefix), prefix });
}

/** One private subnet (Postgres, PgBouncer, the load balancer) and one public (NAT) per AZ. */
export function subnetCidrs(vpcCidr: string, azs: number): { private: string[]; public: string[] } {
  const vpc = parseCidr(vpcCidr);
  if (!vpc || !isVpcCidr(vpcCidr)) {
    throw new Error(`network.vpcCidr must be a /16 to /20 network address, got ${vpcCidr}`);
  }
  if (!Number.isInteger(azs) || azs < 1 || azs > PUBLIC_OFFSET) {
    throw new Error(`network.azs must be 1 to ${PUBLIC_OFFSET}, got ${azs}`);
  }
  const indexes = Array.from({ length: azs }, (_, i) => i);
  return {
    private: indexes.map((i) => subnet(vpc, i)),
    public: indexes.map((i) => subnet(vpc, PUBLIC_OFFSET + i)),
  };
}

/** The primary lives in the first AZ (RDS puts a Multi-AZ standby elsewhere on its own). */
export const PRIMARY_AZ = 0;

/** Replica i goes to the AZ after the primary's, round the ring: losing one AZ loses one copy. */
export function replicaAz(replicaIndex: number, azs: number): number {
  return (PRIMARY_AZ + 1 + replicaIndex) % azs;
}

/** PgBouncer host i (0-based) goes to AZ i mod azs: hosts spread before any AZ gets a second. */
export function hostAz(hostIndex: number, azs: number): number {
  return hostIndex % azs;
}

/**
 * Where the PgBouncer hosts' fixed addresses are in each private subnet: the subnet's second /28
 * (x.x.x.16–31 of a /20), held by an explicit subnet CIDR reservation (components/network.ts) so
 * that AWS hands none of them out on its own, to the load balancer's nodes, RDS's interfaces or
 * any other ENI. Fixed addresses make every host's address known at render time, so each host's
 * [peers] can name all the others. Why there: a reservation must be a CIDR block; the first /28
 * holds AWS's four reserved addresses (network, router, DNS, future use) and the last address
 * (broadcast) is at the far end; 16 addresses per AZ cover the largest fleet the schema allows
 * (`pgbouncer.hosts` ≤ 32 over at least 2 AZs).
 */
export const HOST_ADDRESS_BLOCK = { offset: 16, prefix: 28 } as const;
const HOST_BLOCK_SIZE = 2 ** (32 - HOST_ADDRESS_BLOCK.prefix);

/** The reserved block of one private subnet: "10.40.16.0/20" → "10.40.16.16/28". */
export function hostAddressBlock(subnetCidr: string): string {
  const subnet = parseCidr(subnetCidr);
  // the block, plus the broadcast address AWS keeps at the end
  if (!subnet || 2 ** (32 - subnet.prefix) < HOST_ADDRESS_BLOCK.offset + HOST_BLOCK_SIZE + 1) {
    throw new Error(
      `a private subnet must hold the PgBouncer hosts' block (.${HOST_ADDRESS_BLOCK.offset}/${HOST_ADDRESS_BLOCK.prefix}), got ${subnetCidr}`,
    );
  }
  return format({
    base: subnet.base + HOST_ADDRESS_BLOCK.offset,
    prefix: HOST_ADDRESS_BLOCK.prefix,
  });
}

/**
 * The private IPv4 of every PgBouncer host, in host order: host i sits in its AZ's (hostAz)
 * private subnet, the k-th host of that AZ at the block's k-th address.
 */
export function hostPrivateIps(network: { vpcCidr: string; azs: number }, hosts: number): string[] {
  const subnets = subnetCidrs(network.vpcCidr, network.azs).private;
  const perAz = Math.ceil(hosts / network.azs);
  if (!Number.isInteger(hosts) || hosts < 1 || perAz > HOST_BLOCK_SIZE) {
    throw new Error(
      `pgbouncer.hosts must be 1 to ${HOST_BLOCK_SIZE * network.azs} with network.azs = ${network.azs} (${HOST_BLOCK_SIZE} fixed addresses per AZ), got ${hosts}`,
    );
  }
  return Array.from({ length: hosts }, (_, i) => {
    const block = parseCidr(hostAddressBlock(subnets[hostAz(i, network.azs)]!))!;
    return ipv4(block.base + Math.floor(i / network.azs));
  });
}

export type Architecture = "arm64" | "x86_64";

/**
 * Graviton families carry a `g` after the generation digit (c7g, t4g, r6gd, im4gn, x2gd), plus the
 * first-generation a1. GPU families like g4dn or g5 put the g first and are x86_64.
 */
export function ec2Architecture(instanceType: string): Architecture {
  return /^(a1|[a-z]+\d+g[a-z]*)\./.test(instanceType) ? "arm64" : "x86_64";
}

/** Debian's name for the architecture, as in package and AMI names. */
export function debianArchitecture(arch: Architecture): "arm64" | "amd64" {
  return arch === "arm64" ? "arm64" : "amd64";
}

/**
 * The private DNS zone and record name of the endpoint clients connect to:
 * `pgbouncer.prod.db.internal` → zone `prod.db.internal`, record `pgbouncer`. An IP address, or a
 * single-label name, gets no record: there is no zone to put it in.
 */
export function endpointDns(endpoint: string): { zone: string; record: string } | undefined {
  if (isIpv4Address(endpoint)) return undefined;
  const dot = endpoint.indexOf(".");
  if (dot <= 0) return undefined;
  return { zone: endpoint.slice(dot + 1), record: endpoint.slice(0, dot) };
}
