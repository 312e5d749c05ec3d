import * as pulumi from "@pulumi/pulumi";
import { expect } from "vitest";
import { loadStack } from "../../platform/config.js";
import { buildPlan, type Plan } from "../../platform/plan.js";
import { scrapeIngress } from "../../monitoring/scrape.js";
import { MONITORING_ROLE } from "../../platform/roles.js";
import { DELIVERED_FILES, hostFileTargets, PUBLIC_FILES } from "../../pgbouncer/delivered-files.js";
import { pgbouncerAccounts } from "../../pgbouncer/render.js";
import { SECRET_FILES } from "../../pgbouncer/secret-files.js";
import { tlsFileTargets } from "../../pgbouncer/tls-files.js";
import {
  expectedHostFiles,
  generatedSecrets,
  userData,
  type StoredFiles,
} from "./program-files.js";
import {
  isSecretInput,
  mockStack,
  unwrap,
  valueOf,
  type MockedStack,
  type MockOptions,
  type RecordedResource,
} from "./pulumi-mocks.js";

/**
 * The Pulumi program run under mocks, and the checks the dev and prod tests share. Each test file
 * runs one stack (vitest isolates files), so the program module is imported once per file, after
 * the mocks are in place.
 */
export type Program = typeof import("../../index.js");
export { predictedHostFiles, storedParameters } from "./program-files.js";

export async function runProgram(
  stack: string,
  options?: MockOptions,
): Promise<{ mocked: MockedStack; program: Program; plan: Plan }> {
  const mocked = await mockStack(stack, options);
  const program = await import("../../index.js");
  await mocked.settle();
  return { mocked, program, plan: buildPlan(loadStack(stack)) };
}

export const T = {
  rds: "aws:rds/instance:Instance",
  params: "aws:rds/parameterGroup:ParameterGroup",
  ec2: "aws:ec2/instance:Instance",
  template: "aws:ec2/launchTemplate:LaunchTemplate",
  subnet: "aws:ec2/subnet:Subnet",
  sg: "aws:ec2/securityGroup:SecurityGroup",
  ingress: "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
  egress: "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
  nlb: "aws:lb/loadBalancer:LoadBalancer",
  tg: "aws:lb/targetGroup:TargetGroup",
  listener: "aws:lb/listener:Listener",
  attachment: "aws:lb/targetGroupAttachment:TargetGroupAttachment",
  ssmParameter: "aws:ssm/parameter:Parameter",
  association: "aws:ssm/association:Association",
  role: "postgresql:index/role:Role",
  randomBytes: "random:index/randomBytes:RandomBytes",
} as const;

export function named(mocked: MockedStack, type: string, name: string): RecordedResource {
  const found = mocked.of(type).find((r) => r.name === name);
  if (!found) throw new Error(`no ${type} named ${name}: ${mocked.of(type).map((r) => r.name)}`);
  return found;
}

/** The resource whose mocked id is `id` (ids are `<name>-id`). */
export function byId(mocked: MockedStack, type: string, id: unknown): RecordedResource {
  return named(mocked, type, String(unwrap(id)).replace(/-id$/, ""));
}

/** The AZ each PgBouncer host landed in, through its subnet. */
export function hostAzs(mocked: MockedStack): string[] {
  return mocked
    .of(T.ec2)
    .map((i) => byId(mocked, T.subnet, i.inputs.subnetId).inputs.availabilityZone as string);
}

export function checkUserData(mocked: MockedStack, plan: Plan): void {
  const expected = expectedHostFiles(mocked, plan);
  const instances = mocked.of(T.ec2);
  expect(instances.map((i) => i.name)).toEqual(
    plan.hosts.map((h) => `pooling-pgbouncer-${h.name}`),
  );
  for (const host of plan.hosts) {
    const instance = named(mocked, T.ec2, `pooling-pgbouncer-${host.name}`);
    // Nothing secret flows into it: a secret among its inputs (the userlist, the key) would make
    // Pulumi mark it secret. checkNoVerifierInUserData reads what it holds.
    expect(
      isSecretInput(instance.inputs.userDataBase64),
      `${host.name} user-data marked secret`,
    ).toBe(false);
    expect(instance.inputs.userDataReplaceOnChange).toBe(false);
    const { files } = userData(instance);
    const want = expected.get(host.name)!;
    for (const name of PUBLIC_FILES) {
      expect(files.get(DELIVERED_FILES[name].path), `${host.name} ${name}`).toBe(want[name]);
    }
    // the userlist and the TLS pair are not in it: the first boot fetches them from Parameter
    // Store
    const withheld = [
      DELIVERED_FILES["userlist.txt"],
      ...Object.values(tlsFileTargets(plan) ?? {}),
    ];
    for (const target of withheld) {
      expect(files.has(target.path), `${host.name} user-data writes ${target.path}`).toBe(false);
    }
    // and Parameter Store holds the very same files for later revisions, and the TLS pair
    for (const name of Object.keys(hostFileTargets(plan)) as (keyof StoredFiles)[]) {
      const param = mocked
        .of(T.ssmParameter)
        .find((p) => p.inputs.name === `/pg-pooling/${plan.environment}/${host.name}/${name}`)!;
      const value = param.inputs.value ?? param.inputs.insecureValue;
      expect(unwrap(value), `parameter ${host.name}/${name}`).toBe(want[name]);
      expect(isSecretInput(value), `parameter ${name} secret`).toBe(SECRET_FILES.includes(name));
      expect(param.inputs.type).toBe(SECRET_FILES.includes(name) ? "SecureString" : "String");
    }
  }
}

/** Walk every non-secret string in a value. */
export function plainStrings(value: unknown, path: string, out: [string, string][]): void {
  if (isSecretInput(value)) return;
  if (typeof value === "string") out.push([path, value]);
  else if (Array.isArray(value)) value.forEach((v, i) => plainStrings(v, `${path}[${i}]`, out));
  else if (value && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) plainStrings(v, `${path}.${k}`, out);
  }
}

export function checkNoPlaintextSecrets(mocked: MockedStack): void {
  const { passwords, verifiers } = generatedSecrets(mocked);
  const secrets = [...passwords, ...verifiers.values()];
  expect(passwords.length).toBeGreaterThan(0);
  for (const r of mocked.resources) {
    for (const [key, value] of Object.entries(r.inputs)) {
      if (/password/i.test(key))
        expect(isSecretInput(value), `${r.name}.${key} is secret`).toBe(true);
    }
    const plain: [string, string][] = [];
    plainStrings(r.inputs, r.name, plain);
    for (const [path, text] of plain) {
      for (const secret of secrets)
        expect(text.includes(secret), `${path} holds a secret`).toBe(false);
    }
  }
}

/**
 * Each instance's user-data, decoded, holds no generated password and no SCRAM verifier (of the
 * stack's or any other): any process on a host can read its user-data through IMDS.
 */
export function checkNoVerifierInUserData(mocked: MockedStack): void {
  const { passwords, verifiers } = generatedSecrets(mocked);
  expect(verifiers.size).toBeGreaterThan(0);
  const instances = mocked.of(T.ec2);
  expect(instances.length).toBeGreaterThan(0);
  for (const instance of instances) {
    const { text } = userData(instance);
    for (const pw of passwords)
      expect(text.includes(pw), `${instance.name}: a password`).toBe(false);
    for (const [account, v] of verifiers) {
      expect(text.includes(v), `${instance.name}: the verifier of ${account}`).toBe(false);
    }
    expect(text, `${instance.name}: a SCRAM verifier`).not.toMatch(/SCRAM-SHA-256\$\d+:/);
  }
}

export async function checkSecretOutputs(program: Program, mocked: MockedStack, plan: Plan) {
  for (const s of plan.services) {
    const strings = program.connectionStrings[s.name]!;
    // one rw string and one per replica entry, in the order of the service's entries
    const all = [strings.rw, ...strings.replicas] as pulumi.Output<string>[];
    expect(all.length).toBe(s.entries.length);
    for (const [k, o] of all.entries()) {
      expect(await pulumi.isSecret(o), `${s.name} connection string is secret`).toBe(true);
      expect(await valueOf(o)).toMatch(
        new RegExp(
          `^postgresql://${s.name}:[A-Za-z0-9]+@${plan.config.pgbouncer.endpoint}:\\d+/${s.entries[k]!.name}\\?`,
        ),
      );
    }
  }
  for (const login of Object.values(program.operatorLogins)) {
    expect(await pulumi.isSecret(login.password)).toBe(true);
  }
  expect(Object.keys(program.operatorLogins.monitoring)).toEqual(["user", "password"]);
  expect(program.operatorLogins.monitoring.user).toBe(MONITORING_ROLE);
  // the plain outputs, resolved, hold no password
  const { passwords } = generatedSecrets(mocked);
  const plain = JSON.stringify(
    await valueOf(
      pulumi.output({
        profiles: program.profiles,
        budget: program.budget,
        pools: program.pools,
        pgbouncerEndpoint: program.pgbouncerEndpoint,
        postgresEndpoints: program.postgresEndpoints,
        rollout: program.pgbouncerRollout,
        tunnel: program.adminTunnelCommand,
      }),
    ),
  );
  for (const pw of passwords) expect(plain.includes(pw)).toBe(false);
}

/** The hosts' ingress rules that admit a range, as `cidr fromPort-toPort`, sorted. */
export function hostsRangeIngress(mocked: MockedStack): string[] {
  const hosts = `${named(mocked, T.sg, "pooling-pgbouncer-hosts").name}-id`;
  return mocked
    .of(T.ingress)
    .filter((r) => r.inputs.securityGroupId === hosts && r.inputs.cidrIpv4 !== undefined)
    .map((r) => `${r.inputs.cidrIpv4 as string} ${r.inputs.fromPort}-${r.inputs.toPort}`)
    .sort();
}

export function checkSecurityGroups(mocked: MockedStack, plan: Plan): void {
  const open = ["0.0.0.0/0", "::/0"];
  for (const sg of mocked.of(T.sg)) expect(sg.inputs.ingress ?? []).toEqual([]);
  const ingress = mocked.of(T.ingress);
  for (const rule of ingress) {
    expect(open).not.toContain(rule.inputs.cidrIpv4);
    expect(open).not.toContain(rule.inputs.cidrIpv6);
    expect(rule.inputs.cidrIpv6, `${rule.name} admits no IPv6 range`).toBeUndefined();
  }
  const sgId = (name: string) => `${named(mocked, T.sg, name).name}-id`;
  const into = (name: string) => ingress.filter((r) => r.inputs.securityGroupId === sgId(name));
  // Ranges are admitted nowhere but to the hosts' exporter ports (below): every other rule
  // admits a group.
  for (const rule of ingress) {
    if (rule.inputs.cidrIpv4 === undefined) {
      expect(rule.inputs.referencedSecurityGroupId, `${rule.name} admits a group`).toBeDefined();
    } else {
      expect(rule.inputs.securityGroupId, `${rule.name} admits a range`).toBe(
        sgId("pooling-pgbouncer-hosts"),
      );
    }
  }
  // Postgres: its port, from the PgBouncer hosts only
  expect(into("pooling-postgres-sg").map((r) => r.inputs)).toEqual([
    expect.objectContaining({
      referencedSecurityGroupId: sgId("pooling-pgbouncer-hosts"),
      fromPort: plan.config.database.port,
      toPort: plan.config.database.port,
    }),
  ]);
  // PgBouncer: its port, from the load balancer and, with more than one host, from the hosts'
  // own group (cancel requests between peers); the exporters' ports from the stack's Prometheus
  // ranges only; the load balancer: from the clients only
  const pgbouncerPort = plan.config.pgbouncer.port;
  const hostRules = into("pooling-pgbouncer-hosts");
  const fromGroup = (group: string) =>
    expect.objectContaining({
      referencedSecurityGroupId: sgId(group),
      fromPort: pgbouncerPort,
      toPort: pgbouncerPort,
    });
  expect(hostRules.filter((r) => r.inputs.cidrIpv4 === undefined).map((r) => r.inputs)).toEqual([
    fromGroup("pooling-pgbouncer-lb-sg"),
    ...(plan.hosts.length > 1 ? [fromGroup("pooling-pgbouncer-hosts")] : []),
  ]);
  expect(hostsRangeIngress(mocked)).toEqual(
    scrapeIngress(plan)
      .map(({ cidr, port }) => `${cidr} ${port}-${port}`)
      .sort(),
  );
  expect(into("pooling-pgbouncer-lb-sg").map((r) => r.inputs)).toEqual([
    expect.objectContaining({
      referencedSecurityGroupId: sgId("pooling-clients"),
      fromPort: pgbouncerPort,
    }),
  ]);
}

export function checkBudget(mocked: MockedStack, plan: Plan): void {
  const params = mocked.of(T.params);
  expect(params).toHaveLength(1);
  const value = (name: string) =>
    (params[0]!.inputs.parameters as { name: string; value: string }[]).find((p) => p.name === name)
      ?.value;
  expect(value("max_connections")).toBe(String(plan.maxConnections));
  expect(value("superuser_reserved_connections")).toBe(
    String(plan.config.database.superuserReservedConnections),
  );
  expect(value("password_encryption")).toBe("scram-sha-256");
  // every node runs the one parameter group the budget was computed for
  for (const node of mocked.of(T.rds))
    expect(node.inputs.parameterGroupName).toBe("pooling-postgres-params-pg");

  const roles = new Map(mocked.of(T.role).map((r) => [r.inputs.name as string, r.inputs]));
  let sum = 0;
  for (const s of plan.services) {
    expect(roles.get(s.name)!.connectionLimit, s.name).toBe(s.roleConnectionLimit);
    sum += s.roleConnectionLimit;
  }
  const exporters = plan.config.database.reservedConnections.exporters;
  expect(roles.get(MONITORING_ROLE)!.connectionLimit).toBe(exporters);
  for (const node of plan.budget) expect(sum, node.node).toBeLessThanOrEqual(node.usable);
  expect(sum + exporters).toBeLessThanOrEqual(
    plan.maxConnections - plan.config.database.superuserReservedConnections,
  );
  expect([...roles.keys()].sort()).toEqual(
    [...plan.services.flatMap((s) => [s.name, `${s.name}_reader`]), MONITORING_ROLE].sort(),
  );
  expect(pgbouncerAccounts(plan)).toEqual(expect.arrayContaining(plan.services.map((s) => s.name)));
}
