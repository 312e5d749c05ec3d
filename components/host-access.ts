import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { ScrapeIngress } from "../monitoring/scrape.js";

/** The security group rules of the PgBouncer hosts, besides the load balancer's. */
export interface HostAccessArgs {
  /** The hosts' security group. @default none: required */
  hostsSg: pulumi.Input<string>;
  /** The Postgres nodes' port and security group. @default none: required */
  database: { port: number; securityGroupId: pulumi.Input<string> };
  /** Prometheus's ranges and the exporter ports they reach (monitoring/scrape.ts). @default none */
  scrape: readonly ScrapeIngress[];
  /**
   * PgBouncer's port between the hosts, for the cancel requests they pass to each other
   * ([peers]). @default none: a fleet of one host has no peer
   */
  peerPort?: number;
}

const tcp = (port: number) => ({ ipProtocol: "tcp", fromPort: port, toPort: port });

/**
 * The hosts reach Postgres, and Postgres admits them: the database's only ingress rule. Plus
 * HTTPS/HTTP out for packages (PGDG over HTTPS, Debian's mirrors), SSM and the AWS APIs. Plus
 * PgBouncer's port from and to the hosts' own group: behind the load balancer a cancel request
 * lands on any host, which forwards it to the host that owns the connection (a self-reference,
 * no address range). And Prometheus's ranges (`monitoring.scrapeFrom`) in to the exporter ports,
 * one rule per range and port, named by both so that reordering the ranges replaces nothing.
 */
export function hostAccessRules(
  name: string,
  args: HostAccessArgs,
  opts: pulumi.CustomResourceOptions,
): void {
  const { hostsSg, database: db } = args;
  new aws.vpc.SecurityGroupIngressRule(
    `${name}-postgres-from-hosts`,
    { securityGroupId: db.securityGroupId, referencedSecurityGroupId: hostsSg, ...tcp(db.port) },
    opts,
  );
  new aws.vpc.SecurityGroupEgressRule(
    `${name}-hosts-to-postgres`,
    { securityGroupId: hostsSg, referencedSecurityGroupId: db.securityGroupId, ...tcp(db.port) },
    opts,
  );
  for (const port of [443, 80]) {
    new aws.vpc.SecurityGroupEgressRule(
      `${name}-hosts-out-${port}`,
      { securityGroupId: hostsSg, cidrIpv4: "0.0.0.0/0", ...tcp(port) },
      opts,
    );
  }
  if (args.peerPort !== undefined) {
    const peers = {
      securityGroupId: hostsSg,
      referencedSecurityGroupId: hostsSg,
      description: "PgBouncer peers: cancel requests passed between hosts",
      ...tcp(args.peerPort),
    };
    new aws.vpc.SecurityGroupIngressRule(`${name}-peers-in`, peers, opts);
    new aws.vpc.SecurityGroupEgressRule(`${name}-peers-out`, peers, opts);
  }
  for (const { cidr, port } of args.scrape) {
    new aws.vpc.SecurityGroupIngressRule(
      `${name}-scrape-${cidr.replace("/", "-")}-${port}`,
      {
        securityGroupId: hostsSg,
        cidrIpv4: cidr,
        description: "Prometheus scrape",
        ...tcp(port),
      },
      opts,
    );
  }
}
