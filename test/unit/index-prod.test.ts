import { expect, test } from "vitest";
import { MOCK_AZS, unwrap } from "./pulumi-mocks.js";
import {
  checkBudget,
  checkNoPlaintextSecrets,
  checkNoVerifierInUserData,
  checkSecretOutputs,
  checkSecurityGroups,
  checkUserData,
  hostAzs,
  hostsRangeIngress,
  named,
  runProgram,
  T,
} from "./program-checks.js";
import { checkCaOutput, checkFleetCa, checkNoPrivateKeyInClear } from "./program-tls.js";

// GIVEN the prod stack config WHEN the program runs under mocks THEN …
const { mocked, program, plan } = await runProgram("prod");

test("prod: the program reads the stack config and exports the plan's budget, pools and profiles", () => {
  expect(program.environment).toBe("prod");
  expect(program.pgbouncerVersion).toBe(plan.config.pgbouncer.version);
  expect(program.budget).toEqual(
    plan.budget.map(({ node, usable, required, free }) => ({ node, usable, required, free })),
  );
  expect(program.pools.map((p) => p.name)).toEqual(plan.entries.map((e) => e.name));
  expect(program.profiles.find((p) => p.service === "orders")?.rw).toMatchObject({
    host: "pgbouncer.prod.db.internal",
    port: 6432,
    database: "orders",
  });
  expect(JSON.stringify(program.profiles)).not.toMatch(/password/i);
});

test("prod: a Multi-AZ primary and 2 replicas in the 2 other AZs, all of the configured class", () => {
  const nodes = mocked.of(T.rds);
  expect(nodes).toHaveLength(3);
  const primary = named(mocked, T.rds, "pooling-postgres-primary").inputs;
  expect(primary).toMatchObject({
    engine: "postgres",
    engineVersion: "18.4",
    instanceClass: "db.r6g.2xlarge",
    multiAz: true,
    storageEncrypted: true,
    deletionProtection: true,
    skipFinalSnapshot: false,
    publiclyAccessible: false,
    autoMinorVersionUpgrade: false,
  });
  expect(primary.finalSnapshotIdentifier).toBeDefined();
  // the parameter group's family follows the engine's major version
  expect(mocked.of(T.params)[0]!.inputs.family).toBe("postgres18");
  const replicas = nodes.filter((n) => n.inputs.replicateSourceDb);
  expect(replicas.map((r) => r.inputs.replicateSourceDb)).toEqual([
    "pooling-postgres-primary",
    "pooling-postgres-primary",
  ]);
  expect(replicas.map((r) => r.inputs.availabilityZone)).toEqual([MOCK_AZS[1], MOCK_AZS[2]]);
  for (const r of replicas)
    expect(r.inputs).toMatchObject({ instanceClass: "db.r6g.2xlarge", deletionProtection: true });
});

test("prod: TLS on both sides: PgBouncer requires it from clients and verifies RDS, which forces it", () => {
  const params = mocked.of(T.params)[0]!.inputs.parameters as { name: string; value: string }[];
  expect(params.find((p) => p.name === "rds.force_ssl")?.value).toBe("1");
  const ini = mocked
    .of(T.ssmParameter)
    .find((p) => String(p.inputs.name).endsWith("pgbouncer-1/pgbouncer.ini"))!;
  const text = unwrap(ini.inputs.insecureValue) as string;
  expect(text).toMatch(/^client_tls_sslmode = require$/m);
  expect(text).toMatch(/^server_tls_sslmode = verify-full$/m);
  expect(Object.values(program.connectionStrings).length).toBe(plan.services.length);
});

test("prod: 3 PgBouncer hosts, one per AZ, behind one internal NLB with health checks", () => {
  expect(mocked.of(T.ec2)).toHaveLength(3);
  expect(hostAzs(mocked)).toEqual(MOCK_AZS);
  expect(mocked.of(T.template)[0]!.inputs).toMatchObject({
    instanceType: "c7g.large",
    imageId: "ami-debian12-arm64",
    metadataOptions: { httpTokens: "required" },
  });
  const nlb = mocked.of(T.nlb);
  expect(nlb).toHaveLength(1);
  expect(nlb[0]!.inputs).toMatchObject({
    internal: true,
    loadBalancerType: "network",
    enableCrossZoneLoadBalancing: true,
  });
  expect(mocked.of(T.tg)[0]!.inputs).toMatchObject({
    port: 6432,
    protocol: "TCP",
    healthCheck: { protocol: "TCP" },
  });
  expect(mocked.of(T.listener)[0]!.inputs).toMatchObject({ port: 6432, protocol: "TCP" });
  expect(mocked.of(T.attachment)).toHaveLength(3);
  // no SSH key anywhere: hosts are reached through SSM
  for (const r of [...mocked.of(T.ec2), ...mocked.of(T.template)])
    expect(r.inputs.keyName).toBeUndefined();
});

test("prod: each host's user-data carries exactly the renderers' output for that host", () => {
  checkUserData(mocked, plan);
});

test("prod: every password and connection string is secret; none appears in the clear", async () => {
  checkNoPlaintextSecrets(mocked);
  await checkSecretOutputs(program, mocked, plan);
});

// GIVEN the accounts' verifiers WHEN each host's user-data is decoded THEN none is in it: any
// process on the host reads user-data through IMDS, so the userlist comes from Parameter Store.
test("prod: no host's user-data holds a password or a SCRAM verifier", () => {
  checkNoVerifierInUserData(mocked);
});

test("prod: max_connections is the plan's; role connection limits sum within the budget", () => {
  checkBudget(mocked, plan);
});

test("prod: no security group admits the internet; Postgres admits only the PgBouncer hosts", () => {
  checkSecurityGroups(mocked, plan);
});

test("prod: first deploy rolls nothing out; the association would go one host at a time", () => {
  const association = mocked.of(T.association)[0]!.inputs;
  expect(association).toMatchObject({ maxConcurrency: "1", maxErrors: "0" });
  expect(unwrap((association.parameters as Record<string, unknown>).action)).toBe("none");
});

test("prod: hosts are managed through SSM and may read only their stack's files", () => {
  const attachment = mocked.of("aws:iam/rolePolicyAttachment:RolePolicyAttachment")[0]!.inputs;
  expect(attachment.policyArn).toBe("arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore");
  const policy = JSON.parse(
    unwrap(mocked.of("aws:iam/rolePolicy:RolePolicy")[0]!.inputs.policy) as string,
  ) as { Statement: { Sid: string; Resource: string[] }[] };
  const resources = Object.fromEntries(policy.Statement.map((s) => [s.Sid, s.Resource]));
  expect(resources.ReadOwnConfig).toEqual([
    "arn:aws:ssm:eu-west-1:123456789012:parameter/pg-pooling/prod/*",
  ]);
  expect(resources.LeaveAndRejoinTheLoadBalancer).toEqual([
    "arn:aws:mock:eu-west-1:123456789012:TargetGroup/pooling-pgbouncer-lb-tg",
  ]);
  expect(mocked.of("aws:iam/instanceProfile:InstanceProfile")).toHaveLength(1);
});

test("prod: Prometheus's range (monitoring.scrapeFrom) reaches every exporter port of the hosts", () => {
  expect(plan.config.monitoring.scrapeFrom).toEqual(["10.40.0.0/16"]);
  expect(hostsRangeIngress(mocked)).toEqual([
    "10.40.0.0/16 9100-9100",
    "10.40.0.0/16 9127-9127",
    "10.40.0.0/16 9187-9187",
  ]);
});

// GIVEN prod's client TLS WHEN the program runs THEN the stack makes a CA and one certificate
// for the endpoint, hands the services the CA as an output, and no private key is in the clear.
test("prod: a CA of the stack's own signs PgBouncer's certificate for the endpoint", () => {
  checkFleetCa(mocked, plan);
});

test("prod: the CA certificate is the output pgbouncerCaCertificate, a PEM, not secret", async () => {
  await checkCaOutput(program);
});

test("prod: no private key in plain text in any input, user-data or plain output", async () => {
  await checkNoPrivateKeyInClear(mocked, program);
});

// GIVEN prod's 3 hosts over 3 AZs WHEN the program runs THEN each private subnet reserves the hosts'
// block explicitly (AWS assigns none of it to RDS or the NLB), and each host is at the address
// every host's [peers] names for it, inside its own AZ's block.
test("prod: the hosts' fixed addresses, reserved in each private subnet, are the ones [peers] names", () => {
  const reservations = mocked.of("aws:ec2/subnetCidrReservation:SubnetCidrReservation");
  expect(reservations.map((r) => [r.name, r.inputs.cidrBlock, r.inputs.reservationType])).toEqual([
    ["pooling-private-1-pgbouncer", "10.40.0.16/28", "explicit"],
    ["pooling-private-2-pgbouncer", "10.40.16.16/28", "explicit"],
    ["pooling-private-3-pgbouncer", "10.40.32.16/28", "explicit"],
  ]);
  const subnetOf = (r: (typeof reservations)[number]) => r.inputs.subnetId;
  const hosts = mocked.of(T.ec2);
  expect(hosts.map((h) => h.inputs.privateIp)).toEqual([
    "10.40.0.16",
    "10.40.16.16",
    "10.40.32.16",
  ]);
  hosts.forEach((h, i) => expect(h.inputs.subnetId).toBe(subnetOf(reservations[i]!)));
  const ini = mocked
    .of(T.ssmParameter)
    .find((p) => String(p.inputs.name).endsWith("pgbouncer-2/pgbouncer.ini"))!;
  const text = unwrap(ini.inputs.insecureValue) as string;
  expect(text).toMatch(/^peer_id = 2$/m);
  for (const [i, h] of hosts.entries()) {
    expect(text).toContain(`\n${i + 1} = host=${h.inputs.privateIp as string} port=6432\n`);
  }
});
