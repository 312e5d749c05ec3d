import { gzipSync } from "node:zlib";
import { describe, expect, test } from "vitest";
import { checkSecrets } from "./secrets.js";
import {
  FIXTURE_PASSWORD,
  FIXTURE_VERIFIER,
  editResource,
  fixtureFacts,
  fixtureResources,
} from "./fixtures.js";
import type { PlainResource } from "./types.js";

const check = (resources: PlainResource[]) =>
  checkSecrets(fixtureFacts(resources)).map((f) => f.message);
const edit = (name: string, change: (p: Record<string, unknown>) => void) =>
  check(editResource(fixtureResources(), name, change));
const PLAIN = "must not hold a secret in plain text, got";

describe("pooling-no-plaintext-secrets", () => {
  test("passwords and verifiers only where providers keep them encrypted, none in user-data", () => {
    expect(check(fixtureResources())).toEqual([]);
  });

  test("a generated password in a tag", () => {
    expect(edit("pgbouncer-1", (p) => (p.tags = { note: `pw ${FIXTURE_PASSWORD}` }))).toEqual([
      `aws:ec2/instance:Instance pgbouncer-1: tags.note ${PLAIN} the generated password of orders-password`,
    ]);
  });

  test("the userlist in a readable (String) parameter", () => {
    expect(
      edit("userlist", (p) => {
        p.type = "String";
        p.insecureValue = p.value;
        delete p.value;
      }),
    ).toEqual([
      `aws:ssm/parameter:Parameter userlist: insecureValue ${PLAIN} a SCRAM-SHA-256 verifier`,
    ]);
  });

  test.each([
    ["an md5 password hash", `md5${"0123456789abcdef".repeat(2)}`],
    ["a connection string with a password", "postgresql://orders:letmein@pgbouncer:6432/orders"],
    ["a private key", "-----BEGIN RSA PRIVATE KEY-----\nMIIE..."],
  ])("%s in a description", (what, text) => {
    expect(edit("hosts", (p) => (p.description = text))).toEqual([
      `aws:ec2/securityGroup:SecurityGroup hosts: description ${PLAIN} ${what}`,
    ]);
  });

  test("a password inside gzipped user-data is found once decoded", () => {
    const userData = gzipSync(
      Buffer.from(`#cloud-config\nruncmd:\n  - echo ${FIXTURE_PASSWORD}\n`),
    );
    expect(edit("pgbouncer-1", (p) => (p.userDataBase64 = userData.toString("base64")))).toEqual([
      `aws:ec2/instance:Instance pgbouncer-1: userDataBase64 (decoded) ${PLAIN} the generated password of orders-password`,
    ]);
  });

  // GIVEN the fleet's TLS resources (@pulumi/tls keeps their key fields as secrets) and the key
  // as a SecureString WHEN the rule runs THEN they pass; the key anywhere else does not.
  const KEY = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE...\n-----END EC PRIVATE KEY-----\n";
  const tlsResources = (): PlainResource[] => {
    const r = (type: string, name: string, props: Record<string, unknown>): PlainResource => ({
      type,
      name,
      urn: `urn:pulumi:prod::pg-pooling::${type}::${name}`,
      props,
    });
    return [
      ...fixtureResources(),
      r("tls:index/privateKey:PrivateKey", "tls-key", {
        privateKeyPem: KEY,
        privateKeyPemPkcs8: KEY,
      }),
      r("tls:index/selfSignedCert:SelfSignedCert", "tls-ca", { privateKeyPem: KEY }),
      r("tls:index/certRequest:CertRequest", "tls-csr", { privateKeyPem: KEY }),
      r("tls:index/locallySignedCert:LocallySignedCert", "tls-cert", { caPrivateKeyPem: KEY }),
      r("aws:ssm/parameter:Parameter", "tls-key-param", {
        name: "/pg-pooling/prod/pgbouncer-1/pgbouncer.key",
        type: "SecureString",
        value: KEY,
      }),
    ];
  };

  test("a private key in the TLS provider's key fields or a SecureString passes", () => {
    expect(check(tlsResources())).toEqual([]);
  });

  test.each([
    [
      "a readable (String) parameter",
      "tls-key-param",
      (p: Record<string, unknown>) => {
        p.type = "String";
        p.insecureValue = p.value;
        delete p.value;
      },
      "aws:ssm/parameter:Parameter tls-key-param: insecureValue",
    ],
    [
      "the certificate's subject",
      "tls-csr",
      (p: Record<string, unknown>) => (p.subject = { commonName: KEY }),
      "tls:index/certRequest:CertRequest tls-csr: subject.commonName",
    ],
  ])("a private key in %s", (_, name, change, at) => {
    expect(check(editResource(tlsResources(), name, change))).toEqual([
      `${at} ${PLAIN} a private key`,
    ]);
  });

  test("a private key written by user-data is found once decoded", () => {
    const userData = gzipSync(
      Buffer.from(
        `#cloud-config\nwrite_files:\n  - path: /etc/pgbouncer/tls/pgbouncer.key\n    content: |\n      ${KEY.split("\n").join("\n      ")}\n`,
      ),
    );
    expect(edit("pgbouncer-1", (p) => (p.userDataBase64 = userData.toString("base64")))).toEqual([
      `aws:ec2/instance:Instance pgbouncer-1: userDataBase64 (decoded) → /etc/pgbouncer/tls/pgbouncer.key ${PLAIN} a private key`,
    ]);
  });

  test("a verifier is the role's password or a SecureString's value, nowhere else", () => {
    expect(edit("template", (p) => (p.tags = { v: FIXTURE_VERIFIER }))).toEqual([
      `aws:ec2/launchTemplate:LaunchTemplate template: tags.v ${PLAIN} a SCRAM-SHA-256 verifier`,
    ]);
  });

  // GIVEN user-data that writes the userlist (any process on the host reads user-data through
  // IMDS) WHEN the rule runs THEN it is a finding naming the resource, the field and the file,
  // never the verifier; however the user-data or the file is encoded.
  const USERLIST_LINE = `"orders" "${FIXTURE_VERIFIER}"`;
  const writesUserlist = (file: string) =>
    `#cloud-config\nwrite_files:\n  - path: /etc/pgbouncer/userlist.txt\n${file}`;
  const INLINE = writesUserlist(`    content: |\n      ${USERLIST_LINE}\n`);
  const VERIFIER_IN = (at: string) => `${at} ${PLAIN} a SCRAM-SHA-256 verifier`;

  test.each([
    [
      "gzipped, base64",
      (p: Record<string, unknown>) =>
        (p.userDataBase64 = gzipSync(Buffer.from(INLINE)).toString("base64")),
      "userDataBase64 (decoded) → /etc/pgbouncer/userlist.txt",
    ],
    [
      "as plain text",
      (p: Record<string, unknown>) => {
        delete p.userDataBase64;
        p.userData = INLINE;
      },
      "userData (decoded) → /etc/pgbouncer/userlist.txt",
    ],
    [
      "as plain text, the file base64 inside it",
      (p: Record<string, unknown>) => {
        delete p.userDataBase64;
        const b64 = Buffer.from(USERLIST_LINE).toString("base64");
        p.userData = writesUserlist(`    encoding: b64\n    content: ${b64}\n`);
      },
      "userData (decoded) → /etc/pgbouncer/userlist.txt",
    ],
    [
      "outside write_files (runcmd)",
      (p: Record<string, unknown>) => {
        const text = `#cloud-config\nruncmd:\n  - echo '${USERLIST_LINE}' > /etc/pgbouncer/userlist.txt\n`;
        p.userDataBase64 = Buffer.from(text).toString("base64");
      },
      "userDataBase64 (decoded)",
    ],
  ])("a verifier in an instance's user-data, %s, is a finding", (_, change, at) => {
    const messages = edit("pgbouncer-1", change);
    expect(messages).toEqual([VERIFIER_IN(`aws:ec2/instance:Instance pgbouncer-1: ${at}`)]);
    expect(messages.join()).not.toContain(FIXTURE_VERIFIER.split("$")[2]);
  });

  test("a verifier in a launch template's user-data is a finding too", () => {
    const userData = gzipSync(Buffer.from(INLINE)).toString("base64");
    expect(edit("template", (p) => (p.userData = userData))).toEqual([
      VERIFIER_IN(
        "aws:ec2/launchTemplate:LaunchTemplate template: userData (decoded) → /etc/pgbouncer/userlist.txt",
      ),
    ]);
  });
});
