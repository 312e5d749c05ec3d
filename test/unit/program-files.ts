import { parse } from "yaml";
import type { Plan } from "../../platform/plan.js";
import { MONITORING_ROLE } from "../../platform/roles.js";
import { deliveredFiles, type DeliveredFiles } from "../../pgbouncer/delivered-files.js";
import { decodeUserData } from "../../pgbouncer/cloud-init.js";
import { pgbouncerAccounts } from "../../pgbouncer/render.js";
import { productionHostRender } from "../../pgbouncer/review.js";
import { scramVerifier } from "../../pgbouncer/scram.js";
import { SECRET_FILES } from "../../pgbouncer/secret-files.js";
import { tlsFileTargets, type TlsFileName } from "../../pgbouncer/tls-files.js";
import {
  mockBytes,
  mockPassword,
  mockPem,
  unwrap,
  type MockedStack,
  type MockOptions,
  type RecordedResource,
} from "./pulumi-mocks.js";

/**
 * The files the Pulumi program should produce, computed independently of it: from the plan, the
 * mocked RDS addresses and the mocked randomness, through the same renderers the hosts' files
 * come from. Also what Parameter Store looked like after an earlier deploy.
 */

export const RDS = "aws:rds/instance:Instance";

/** A host's files as Parameter Store holds them: the delivered files and, with TLS, the pair. */
export type StoredFiles = DeliveredFiles & Partial<Record<TlsFileName, string>>;

/** The TLS pair the mocked provider makes for the fleet (components/pgbouncer-tls.ts). */
export const MOCK_TLS = {
  caCertificate: mockPem("CERTIFICATE", "pooling-pgbouncer-tls-ca"),
  "pgbouncer.crt": mockPem("CERTIFICATE", "pooling-pgbouncer-tls-cert"),
  "pgbouncer.key": mockPem("EC PRIVATE KEY", "pooling-pgbouncer-tls-key"),
};
export const RANDOM_BYTES = "random:index/randomBytes:RandomBytes";

function named(mocked: MockedStack, type: string, name: string): RecordedResource {
  const found = mocked.of(type).find((r) => r.name === name);
  if (!found) throw new Error(`no ${type} named ${name}`);
  return found;
}

/** Every verifier and password the program generated, recomputed from the mocked randomness. */
export function generatedSecrets(mocked: MockedStack): {
  passwords: string[];
  verifiers: Map<string, string>;
} {
  const verifiers = new Map<string, string>();
  for (const salt of mocked.of(RANDOM_BYTES)) {
    const account = /^pooling-credentials-(.+)-salt$/.exec(salt.name)![1]!;
    const password = mocked.passwords.get(`pooling-credentials-${account}-password`)!;
    verifiers.set(
      account,
      scramVerifier(password, Buffer.from(salt.state.base64 as string, "base64")),
    );
  }
  return { passwords: [...mocked.passwords.values()], verifiers };
}

/** What the renderers make for each host, given the mocked RDS addresses and credentials. */
export function expectedHostFiles(mocked: MockedStack, plan: Plan): Map<string, StoredFiles> {
  const address = (name: string) => named(mocked, RDS, name).state.address as string;
  const { verifiers } = generatedSecrets(mocked);
  return hostFilesFor(plan, address, verifiers);
}

/**
 * The files the program will render for each host, predicted before it runs: the mocks make RDS
 * addresses and randomness deterministic. Lets a test stage what Parameter Store held before.
 */
export function predictedHostFiles(plan: Plan): Map<string, StoredFiles> {
  const address = (name: string) => `${name}.c0ffee.eu-west-1.rds.amazonaws.com`;
  const verifiers = new Map(
    [...pgbouncerAccounts(plan), MONITORING_ROLE].map((account) => [
      account,
      scramVerifier(
        mockPassword(`pooling-credentials-${account}-password`),
        mockBytes(`pooling-credentials-${account}-salt`),
      ),
    ]),
  );
  return hostFilesFor(plan, address, verifiers);
}

/** Parameter Store as a previous deploy left it: readable files, encrypted secrets, record. */
export function storedParameters(
  stack: string,
  files: Map<string, StoredFiles>,
  record?: unknown,
): NonNullable<MockOptions["parameters"]> {
  const params: NonNullable<MockOptions["parameters"]> = [];
  for (const [host, f] of files) {
    for (const [name, value] of Object.entries(f)) {
      const secure = SECRET_FILES.includes(name);
      params.push({
        name: `/pg-pooling/${stack}/${host}/${name}`,
        type: secure ? "SecureString" : "String",
        // without decryption, Parameter Store returns the ciphertext
        value: secure ? "AQICAHh-ciphertext" : value,
      });
    }
  }
  if (record) {
    params.push({
      name: `/pg-pooling/${stack}/rollout`,
      type: "String",
      value: JSON.stringify(record),
    });
  }
  return params;
}

/** Each host's user-data, decoded: the YAML text and its write_files by path. */
export function userData(instance: RecordedResource): { text: string; files: Map<string, string> } {
  const text = decodeUserData(unwrap(instance.inputs.userDataBase64) as string);
  const doc = parse(text) as { write_files: { path: string; content: string }[] };
  return { text, files: new Map(doc.write_files.map((f) => [f.path, f.content])) };
}

/** Each host's delivered files, from RDS addresses by resource name and the accounts' verifiers. */
function hostFilesFor(
  plan: Plan,
  address: (resource: string) => string,
  verifiers: ReadonlyMap<string, string>,
): Map<string, StoredFiles> {
  const tls = tlsFileTargets(plan)
    ? { "pgbouncer.crt": MOCK_TLS["pgbouncer.crt"], "pgbouncer.key": MOCK_TLS["pgbouncer.key"] }
    : {};
  const upstreams = {
    primary: address("pooling-postgres-primary"),
    replicas: Array.from({ length: plan.config.database.replicas }, (_, i) =>
      address(`pooling-postgres-replica-${i + 1}`),
    ),
    port: plan.config.database.port,
  };
  const render = productionHostRender(plan, upstreams, verifiers);
  return new Map(
    plan.hosts.map((host): [string, StoredFiles] => [
      host.name,
      {
        ...tls,
        ...deliveredFiles(plan, render(host)),
      },
    ]),
  );
}
