import * as pulumi from "@pulumi/pulumi";
import { expect } from "vitest";
import type { Plan } from "../../platform/plan.js";
import { DEFAULTS } from "../../platform/defaults.js";
import { plainStrings, type Program } from "./program-checks.js";
import { MOCK_TLS, userData } from "./program-files.js";
import { isSecretInput, unwrap, valueOf, type MockedStack } from "./pulumi-mocks.js";

/**
 * The checks of the fleet's CA and PgBouncer's certificate that dev and prod share: what the
 * stack makes (@pulumi/tls under mocks), what the services are given, and that no private key
 * is anywhere in the clear.
 */
export const TLS_T = {
  key: "tls:index/privateKey:PrivateKey",
  ca: "tls:index/selfSignedCert:SelfSignedCert",
  csr: "tls:index/certRequest:CertRequest",
  cert: "tls:index/locallySignedCert:LocallySignedCert",
} as const;

const PEM_CERTIFICATE =
  /^-----BEGIN CERTIFICATE-----\n[A-Za-z0-9+/=\n]+-----END CERTIFICATE-----\n$/;
const PRIVATE_KEY = /PRIVATE KEY/;

/** A CA of the stack's own, and one certificate for the endpoint it signs. */
export function checkFleetCa(mocked: MockedStack, plan: Plan): void {
  const keys = mocked.of(TLS_T.key);
  expect(keys.map((k) => k.name)).toEqual([
    "pooling-pgbouncer-tls-ca-key",
    "pooling-pgbouncer-tls-key",
  ]);
  for (const k of keys) expect(k.inputs).toMatchObject({ algorithm: "ECDSA", ecdsaCurve: "P256" });

  const [ca] = mocked.of(TLS_T.ca);
  expect(ca!.inputs).toMatchObject({
    isCaCertificate: true,
    allowedUses: ["cert_signing", "crl_signing"],
    subject: { commonName: `pg-pooling ${plan.environment} PgBouncer CA` },
  });
  const [csr] = mocked.of(TLS_T.csr);
  // the endpoint the services dial, and nothing else
  expect(csr!.inputs.dnsNames).toEqual([plan.config.pgbouncer.endpoint]);
  expect(csr!.inputs.ipAddresses).toBeUndefined();
  const [cert] = mocked.of(TLS_T.cert);
  expect(cert!.inputs).toMatchObject({
    allowedUses: ["digital_signature", "server_auth"],
    caCertPem: MOCK_TLS.caCertificate,
    certRequestPem: csr!.state.certRequestPem,
  });
  // the keys go in only as secrets
  expect(isSecretInput(csr!.inputs.privateKeyPem)).toBe(true);
  expect(isSecretInput(cert!.inputs.caPrivateKeyPem)).toBe(true);
  expect(isSecretInput(ca!.inputs.privateKeyPem)).toBe(true);
}

/** The CA certificate is a stack output, a PEM, not secret: what services mount at caFile. */
export async function checkCaOutput(program: Program): Promise<void> {
  const output = program.pgbouncerCaCertificate!;
  expect(output).toBeDefined();
  expect(await pulumi.isSecret(output)).toBe(false);
  const pem = await valueOf(output);
  expect(pem).toMatch(PEM_CERTIFICATE);
  expect(pem).toBe(MOCK_TLS.caCertificate);
  // and it is the CA the services' profiles and connection strings point at
  for (const p of program.profiles) expect(p.tls.caFile).toBe(DEFAULTS.client.caFile);
}

/**
 * No private key in the clear: in no resource's non-secret inputs, in no host's user-data
 * (decoded; the user-data is secret, so this is checked apart), in no non-secret stack output.
 */
export async function checkNoPrivateKeyInClear(
  mocked: MockedStack,
  program: Program,
): Promise<void> {
  const keys = mocked.of(TLS_T.key).map((k) => k.state.privateKeyPem as string);
  expect(keys.length).toBe(2);
  for (const r of mocked.resources) {
    const plain: [string, string][] = [];
    plainStrings(r.inputs, r.name, plain);
    for (const [path, text] of plain) {
      expect(text, `${path} holds a private key`).not.toMatch(PRIVATE_KEY);
    }
  }
  for (const instance of mocked.of("aws:ec2/instance:Instance")) {
    const { text } = userData(instance);
    expect(text, `${instance.name} user-data`).not.toMatch(PRIVATE_KEY);
    for (const key of keys) expect(text.includes(key.trim().split("\n")[1]!)).toBe(false);
  }
  for (const [name, value] of Object.entries(program)) {
    const out = pulumi.output(value as pulumi.Input<unknown>);
    if (await pulumi.isSecret(out)) continue;
    const text = JSON.stringify(await valueOf(out)) ?? "";
    expect(text, `output ${name}`).not.toMatch(PRIVATE_KEY);
  }
  // the key reaches the hosts only as SecureStrings
  const stored = mocked
    .of("aws:ssm/parameter:Parameter")
    .filter((p) => String(p.inputs.name).endsWith("/pgbouncer.key"));
  expect(stored.length).toBeGreaterThan(0);
  for (const p of stored) {
    expect(p.inputs.type).toBe("SecureString");
    expect(isSecretInput(p.inputs.value)).toBe(true);
    expect(unwrap(p.inputs.value)).toBe(MOCK_TLS["pgbouncer.key"]);
  }
}
