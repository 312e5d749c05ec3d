import { isUnknown } from "./resources.js";
import { refText, type Facts, type Finding, type PlainResource } from "./types.js";

/**
 * No secret in plain text in any resource input. A policy sees secrets unwrapped, so this rule
 * judges values, not markers: the passwords the stack generated (RandomPassword results) may
 * appear only where a provider stores them encrypted; SCRAM verifiers (password equivalents for
 * PgBouncer) only there, in a role's password or in an instance's user-data; private keys only
 * there (the TLS provider's key fields, a SecureString parameter), never in user-data; md5 hashes
 * and connection strings with a password nowhere. Messages say what was found and where, never
 * the value.
 */

/** Fields a provider keeps secret in the state, by resource type. */
export const SECRET_FIELDS: Record<string, readonly string[]> = {
  "aws:rds/instance:Instance": ["password"],
  "pulumi:providers:postgresql": ["password"],
  "postgresql:index/role:Role": ["password"],
  "aws:secretsmanager/secretVersion:SecretVersion": ["secretString", "secretBinary"],
  // @pulumi/tls marks every private key field sensitive: the state keeps them as secrets.
  "tls:index/privateKey:PrivateKey": ["privateKeyPem", "privateKeyPemPkcs8", "privateKeyOpenssh"],
  "tls:index/selfSignedCert:SelfSignedCert": ["privateKeyPem"],
  "tls:index/certRequest:CertRequest": ["privateKeyPem"],
  "tls:index/locallySignedCert:LocallySignedCert": ["caPrivateKeyPem"],
};

/** Where a verifier may be: secret fields, and the user-data that writes the userlist. */
const VERIFIER_FIELDS: Record<string, readonly string[]> = {
  "aws:ec2/instance:Instance": ["userData", "userDataBase64"],
  "aws:ec2/launchTemplate:LaunchTemplate": ["userData"],
};

/** Resources that make secrets, and the stack's outputs (not inputs of any resource). */
const SKIPPED = (type: string) => type.startsWith("random:") || type === "pulumi:pulumi:Stack";

const VERIFIER = /SCRAM-SHA-256\$\d+:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+/;
const PATTERNS: [RegExp, string][] = [
  [/(?:^|[^0-9a-z])md5[0-9a-f]{32}(?![0-9a-f])/, "an md5 password hash"],
  [/postgres(?:ql)?:\/\/[^\s:/@]+:[^\s@/]+@/, "a connection string with a password"],
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----/, "a private key"],
];

function secretField(r: PlainResource, field: string): boolean {
  if (SECRET_FIELDS[r.type]?.includes(field)) return true;
  return (
    r.type === "aws:ssm/parameter:Parameter" && field === "value" && r.props.type === "SecureString"
  );
}

/** Every string in a value, with its path. */
function strings(value: unknown, path: string, out: [string, string][]): void {
  if (typeof value === "string") {
    if (!isUnknown(value)) out.push([path, value]);
  } else if (Array.isArray(value)) {
    value.forEach((v, i) => strings(v, `${path}[${i}]`, out));
  } else if (value && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) strings(v, path ? `${path}.${k}` : k, out);
  }
}

export function checkSecrets(facts: Facts): Finding[] {
  const findings: Finding[] = [];
  const passwords = new Map<string, string>();
  for (const r of facts.resources) {
    const result = r.props.result;
    if (
      r.type === "random:index/randomPassword:RandomPassword" &&
      typeof result === "string" &&
      !isUnknown(result) &&
      result.length >= 8
    )
      passwords.set(result, r.name);
  }
  const inspect = (
    at: string,
    ref: PlainResource | { type: string; name: string },
    text: string,
    allowPassword: boolean,
    allowVerifier: boolean,
  ) => {
    const found: string[] = [];
    if (!allowPassword) {
      for (const [pw, maker] of passwords)
        if (text.includes(pw)) found.push(`the generated password of ${maker}`);
    }
    if (!allowVerifier && !allowPassword && VERIFIER.test(text))
      found.push("a SCRAM-SHA-256 verifier");
    if (!allowPassword) for (const [re, what] of PATTERNS) if (re.test(text)) found.push(what);
    for (const what of found) {
      findings.push({
        ref: { type: ref.type, name: ref.name },
        message: `${at} must not hold a secret in plain text, got ${what}`,
      });
    }
  };
  for (const r of facts.resources) {
    if (SKIPPED(r.type)) continue;
    const list: [string, string][] = [];
    strings(r.props, "", list);
    for (const [path, text] of list) {
      const field = path.split(/[.[]/)[0]!;
      const secret = secretField(r, field);
      inspect(
        `${refText(r)}: ${path}`,
        r,
        text,
        secret,
        secret || !!VERIFIER_FIELDS[r.type]?.includes(field),
      );
    }
  }
  // Encoded inputs, decoded: user-data may carry verifiers (the userlist), never the rest.
  for (const d of facts.decoded)
    inspect(`${refText(d.ref)}: ${d.field} (decoded)`, d.ref, d.text, false, true);
  return findings;
}
