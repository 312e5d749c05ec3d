import { gzipSync } from "node:zlib";
import { loadStack } from "../platform/config.js";
import { buildPlan, type Plan } from "../platform/plan.js";
import { factsFromPlan } from "./artifacts.js";
import { factsFromResources } from "./resources.js";
import type { Facts, HostConfig, PlainResource } from "./types.js";

/**
 * Test fixtures of the rules: the prod and dev plans, the facts of their rendered files (the
 * happy path of every artifact rule), a small stack of resources that passes every resource
 * rule, and one-change edits of both.
 */
export const prod: Plan = buildPlan(loadStack("prod"));
export const dev: Plan = buildPlan(loadStack("dev"));

export const rendered = (plan: Plan = prod): Facts =>
  factsFromPlan(plan, `stack ${plan.environment}`);

/** A deep copy of the facts with one file of one host copy changed. */
export function editFile(
  facts: Facts,
  host: string,
  source: HostConfig["source"],
  file: string,
  edit: (text: string) => string,
): Facts {
  const copy = structuredClone(facts);
  const config = copy.hosts.find((h) => h.host === host && h.source === source);
  const f = config?.files[file];
  if (!f) throw new Error(`no ${file} for ${host} (${source})`);
  f.text = edit(f.text);
  return copy;
}

/** `key = value` replaced in an ini (or any `key = value` text). */
export function setKey(text: string, key: string, value: string | number): string {
  const re = new RegExp(`^(\\s*)${key} = .*$`, "m");
  if (!re.test(text)) throw new Error(`no ${key} in the text`);
  return text.replace(re, `$1${key} = ${value}`);
}

/** One parameter of one [databases] entry replaced. */
export function setEntryParam(text: string, entry: string, param: string, value: string | number) {
  const re = new RegExp(`^(${entry} = .*\\b${param}=)\\S+`, "m");
  if (!re.test(text)) throw new Error(`no ${param} in databases.${entry}`);
  return text.replace(re, `$1${value}`);
}

const VERIFIER =
  "SCRAM-SHA-256$4096:c2FsdHNhbHRzYWx0c2FsdA==$c3RvcmVka2V5c3RvcmVka2V5c3RvcmVka2V5c3RvcmU=:c2VydmVya2V5c2VydmVya2V5c2VydmVya2V5c2VydmU=";
export const FIXTURE_PASSWORD = "Zq8mN2pL4vX7rT1wK9sB3dF6hJ0yC5aE";

/**
 * A small stack that passes every resource rule: its groups admit other groups or private
 * ranges, the hosts have private addresses, secrets sit where providers keep them encrypted (the
 * userlist as a SecureString, never in the user-data).
 */
export function fixtureResources(): PlainResource[] {
  const urn = (type: string, name: string) => `urn:pulumi:prod::pg-pooling::${type}::${name}`;
  const r = (type: string, name: string, props: Record<string, unknown>): PlainResource => ({
    type,
    name,
    urn: urn(type, name),
    props,
  });
  // What a host's user-data writes: files without a secret. The userlist (its verifiers) is in
  // Parameter Store only, below: user-data is readable through IMDS on the host.
  const userData = gzipSync(
    Buffer.from(
      `#cloud-config\nwrite_files:\n  - path: /etc/pgbouncer/pgbouncer_hba.conf\n    content: |\n      hostssl all all 0.0.0.0/0 scram-sha-256\n`,
    ),
  ).toString("base64");
  return [
    r("random:index/randomPassword:RandomPassword", "orders-password", {
      result: FIXTURE_PASSWORD,
    }),
    r("aws:ec2/securityGroup:SecurityGroup", "hosts", { description: "PgBouncer hosts" }),
    r("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "hosts-from-lb", {
      ipProtocol: "tcp",
      fromPort: 6432,
      toPort: 6432,
      referencedSecurityGroupId: "lb-sg-id",
    }),
    r("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "exporters-from-vpc", {
      ipProtocol: "tcp",
      fromPort: 9100,
      toPort: 9187,
      cidrIpv4: "10.40.0.0/16",
    }),
    r("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule", "hosts-out-443", {
      ipProtocol: "tcp",
      fromPort: 443,
      toPort: 443,
      cidrIpv4: "0.0.0.0/0",
    }),
    r("aws:ec2/subnet:Subnet", "public-1", {
      cidrBlock: "10.40.128.0/20",
      mapPublicIpOnLaunch: false,
    }),
    r("aws:ec2/instance:Instance", "pgbouncer-1", {
      tags: { "pg-pooling:host": "pgbouncer-1" },
      userDataBase64: userData,
    }),
    r("aws:ec2/launchTemplate:LaunchTemplate", "template", {
      metadataOptions: { httpTokens: "required" },
    }),
    r("aws:lb/loadBalancer:LoadBalancer", "nlb", { internal: true, loadBalancerType: "network" }),
    r("aws:rds/instance:Instance", "primary", {
      password: FIXTURE_PASSWORD,
      storageEncrypted: true,
      publiclyAccessible: false,
      deletionProtection: true,
      parameterGroupName: "params",
    }),
    r("aws:ssm/parameter:Parameter", "userlist", {
      name: "/pg-pooling/prod/pgbouncer-1/userlist.txt",
      type: "SecureString",
      value: `"orders" "${VERIFIER}"\n`,
    }),
    r("postgresql:index/role:Role", "orders", { name: "orders", password: VERIFIER }),
    r("aws:rds/parameterGroup:ParameterGroup", "params", {
      name: "params",
      parameters: [
        { name: "max_connections", value: "1000" },
        { name: "password_encryption", value: "scram-sha-256" },
        { name: "rds.force_ssl", value: "1" },
      ],
    }),
  ];
}

export const fixtureFacts = (resources = fixtureResources()): Facts =>
  factsFromResources(resources, { stack: "prod" });

/** A deep copy of the resources with one resource's properties changed. */
export function editResource(
  resources: readonly PlainResource[],
  name: string,
  edit: (props: Record<string, unknown>) => void,
): PlainResource[] {
  const copy = structuredClone(resources) as PlainResource[];
  const target = copy.find((r) => r.name === name);
  if (!target) throw new Error(`no resource named ${name}`);
  edit(target.props);
  return copy;
}

export const FIXTURE_VERIFIER = VERIFIER;
