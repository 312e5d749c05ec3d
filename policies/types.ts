import type { DeliveredFileName } from "../pgbouncer/delivered-files.js";

/**
 * The plain data the rules read. Adapters (resources.ts for a stack's resources, artifacts.ts for
 * the files `npm run check` renders) produce it; rules turn it into violations. No Pulumi here.
 */

/** A resource as the policy pack sees it: type token, name, properties as plain JSON. */
export interface PlainResource {
  type: string;
  name: string;
  urn?: string;
  /** Inputs (or, for existing resources, outputs) with secrets unwrapped. */
  props: Record<string, unknown>;
  /** Per property, the names of the resources its value came from (Pulumi's propertyDependencies). */
  propertyDependencies?: Record<string, string[]>;
}

/** What a violation or a fact is about: a resource, or a rendered file (`type` "rendered"). */
export interface Ref {
  type: string;
  name: string;
  urn?: string;
}

export const refText = (r: Ref): string => `${r.type} ${r.name}`;

/** `aws:ec2/instance:Instance pooling-pgbouncer-pgbouncer-1 userDataBase64 → /etc/…/pgbouncer.ini` */
export const copyText = (c: { ref: Ref; field: string }): string =>
  c.field ? `${refText(c.ref)} ${c.field}` : refText(c.ref);

/** One file of a host, and where it was read: a resource and the field holding it. */
export interface FileCopy {
  ref: Ref;
  /** `userDataBase64 → /etc/pgbouncer/pgbouncer.ini`, `insecureValue`, … */
  field: string;
  text: string;
}

/**
 * One copy of a PgBouncer host's files. A host boots with its user-data and runs every later
 * revision from Parameter Store, so both copies are checked.
 */
export interface HostConfig {
  host: string;
  source: "user-data" | "parameter-store" | "rendered";
  /** By delivered file name (pgbouncer/agent.ts isDeliveredFile): every process's ini and unit. */
  files: Partial<Record<DeliveredFileName, FileCopy>> & Partial<Record<string, FileCopy>>;
}

export interface ParameterGroup {
  ref: Ref;
  parameters: Record<string, string>;
  /**
   * An RDS parameter group, where password_encryption and rds.force_ssl are checked; false for
   * the local stack's Postgres, whose settings the plan gives only in part.
   */
  rds: boolean;
}

export interface PostgresNode {
  ref: Ref;
  /** `primary`, `replica1` …, in the plan's naming. */
  node: string;
  role: "primary" | "replica";
  /** The address PgBouncer's entries name, when known. */
  address?: string;
  parameterGroup?: ParameterGroup;
  /** Each undefined when not known here (offline, or unknown during a preview). */
  storageEncrypted?: boolean;
  publiclyAccessible?: boolean;
  deletionProtection?: boolean;
}

/** An ingress permission: from these address ranges, this protocol and port range. */
export interface IngressRule {
  ref: Ref;
  field: string;
  /** `tcp`, `udp`, `-1` (all). */
  protocol: string;
  fromPort: number;
  toPort: number;
  cidrs: string[];
}

/** Something that gives a host a public address or a public way in. */
export interface PublicExposure {
  ref: Ref;
  field: string;
  got: string;
}

export interface LoginRole {
  ref: Ref;
  name: string;
  /** What the role's password input holds; undefined when unknown. */
  password?: string;
}

export interface UnknownValue {
  ref: Ref;
  field: string;
}

export interface Facts {
  /** What the facts describe: `stack prod (resources)`, `stack prod (rendered)`. */
  label: string;
  /** `resources`: a stack's resources; `artifacts`: the plan's rendered files only. */
  scope: "resources" | "artifacts";
  hosts: HostConfig[];
  nodes: PostgresNode[];
  ingress: IngressRule[];
  exposures: PublicExposure[];
  roles: LoginRole[];
  /** Every resource, for the plaintext-secret scan. Empty for artifacts. */
  resources: PlainResource[];
  /** Encoded inputs, decoded (user-data): scanned for secrets like any other text. */
  decoded: FileCopy[];
  /** Values a rule would need that are not known yet (a first preview). */
  unknowns: UnknownValue[];
}

/** Settings of the rules; the pack takes them as policy config, `npm run check` as defaults. */
export interface PolicyConfig {
  /** Descriptors kept free beyond client and server sockets (listeners, log, auth file, DNS). */
  openFilesMargin: number;
  /** Ports no security group may open to the world besides Postgres's and PgBouncer's. */
  exporterPorts: number[];
  /** Environments that must have TLS on both sides and deletion protection. */
  strictEnvironments: string[];
}

export interface Finding {
  ref: Ref;
  message: string;
}

export type EnforcementLevel = "mandatory" | "advisory" | "disabled";

export interface Violation extends Finding {
  rule: string;
  enforcementLevel: EnforcementLevel;
}
