import type * as pulumi from "@pulumi/pulumi";
import type { Plan } from "../platform/plan.js";

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
  /**
   * Private subnets in AZ order, one per `network.azs`, as Network made them (each with the hosts'
   * reserved block): host i goes to subnet i mod n, at its fixed address. @default none: required
   */
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
