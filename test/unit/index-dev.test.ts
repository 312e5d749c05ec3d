import { expect, test } from "vitest";
import { MOCK_AZS } from "./pulumi-mocks.js";
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

// GIVEN the dev stack config WHEN the program runs under mocks THEN …
const { mocked, program, plan } = await runProgram("dev");

test("dev: a small primary and one replica in the other AZ, nothing protected", () => {
  const nodes = mocked.of(T.rds);
  expect(nodes).toHaveLength(2);
  expect(named(mocked, T.rds, "pooling-postgres-primary").inputs).toMatchObject({
    instanceClass: "db.t4g.medium",
    multiAz: false,
    availabilityZone: MOCK_AZS[0],
    deletionProtection: false,
    skipFinalSnapshot: true,
    storageEncrypted: true,
  });
  expect(named(mocked, T.rds, "pooling-postgres-replica-1").inputs).toMatchObject({
    instanceClass: "db.t4g.medium",
    availabilityZone: MOCK_AZS[1],
    replicateSourceDb: "pooling-postgres-primary",
  });
});

test("dev: one burstable PgBouncer host behind the NLB, two AZs of subnets", () => {
  expect(mocked.of(T.ec2)).toHaveLength(1);
  expect(hostAzs(mocked)).toEqual([MOCK_AZS[0]]);
  expect(mocked.of(T.subnet)).toHaveLength(4);
  expect(mocked.of(T.template)[0]!.inputs).toMatchObject({ instanceType: "t4g.small" });
  expect(mocked.of(T.nlb)).toHaveLength(1);
  expect(mocked.of(T.attachment)).toHaveLength(1);
  expect(program.environment).toBe("dev");
});

test("dev: each host's user-data carries exactly the renderers' output for that host", () => {
  checkUserData(mocked, plan);
});

test("dev: every password and connection string is secret; none appears in the clear", async () => {
  checkNoPlaintextSecrets(mocked);
  await checkSecretOutputs(program, mocked, plan);
});

// GIVEN the accounts' verifiers WHEN each host's user-data is decoded THEN none is in it: any
// process on the host reads user-data through IMDS, so the userlist comes from Parameter Store.
test("dev: no host's user-data holds a password or a SCRAM verifier", () => {
  checkNoVerifierInUserData(mocked);
});

test("dev: max_connections is the plan's; role connection limits sum within the budget", () => {
  checkBudget(mocked, plan);
});

test("dev: no security group admits the internet; Postgres admits only the PgBouncer hosts", () => {
  checkSecurityGroups(mocked, plan);
});

test("dev: Prometheus's range (monitoring.scrapeFrom) reaches every exporter port of the hosts", () => {
  expect(plan.config.monitoring.scrapeFrom).toEqual(["10.41.0.0/16"]);
  expect(hostsRangeIngress(mocked)).toEqual([
    "10.41.0.0/16 9100-9100",
    "10.41.0.0/16 9127-9127",
    "10.41.0.0/16 9187-9187",
    "10.41.0.0/16 9188-9188",
  ]);
});

// GIVEN dev's client TLS WHEN the program runs THEN the stack makes a CA and one certificate
// for the endpoint, hands the services the CA as an output, and no private key is in the clear.
test("dev: a CA of the stack's own signs PgBouncer's certificate for the endpoint", () => {
  checkFleetCa(mocked, plan);
});

test("dev: the CA certificate is the output pgbouncerCaCertificate, a PEM, not secret", async () => {
  await checkCaOutput(program);
});

test("dev: no private key in plain text in any input, user-data or plain output", async () => {
  await checkNoPrivateKeyInClear(mocked, program);
});
