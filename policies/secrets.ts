import { isUnknown } from "./resource-values.js";
import { refText, type Facts, type Finding, type PlainResource } from "./types.js";
import { writeFilesOf } from "./user-data.js";

/**
 * No secret in plain text in any resource input. A policy sees secrets unwrapped, so this rule
 * judges values, not markers: the passwords the stack generated (RandomPassword results), SCRAM
 * verifiers (password equivalents for PgBouncer) and private keys may appear only where a
 * provider stores them encrypted (a role's password, the TLS provider's key fields, a SecureString
 * parameter); md5 hashes and connection strings with a password nowhere. User-data is no such
 * place: any process on the host reads it through IMDS, so it is judged decoded, each file it
 * writes named, and the userlist and the TLS key reach the hosts from Parameter Store only.
 * Messages say what was found and where, never the value.
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

/** Resources that make secrets, and the stack's outputs (not inputs of any resource). */
const SKIPPED = (type: string) => type.startsWith("random:") || type === "pulumi:pulumi:Stack";

const PATTERNS: [RegExp, string][] = [
  [
    /SCRAM-SHA-256\$\d+:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+/,
    "a SCRAM-SHA-256 verifier",
  ],
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

/** The passwords the stack generated, each with the resource that made it. */
function generatedPasswords(facts: Facts): Map<string, string> {
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
  return passwords;
}

export function checkSecrets(facts: Facts): Finding[] {
  const findings: Finding[] = [];
  const passwords = generatedPasswords(facts);
  /** What secrets a text holds, by kind. */
  const secretsIn = (text: string): string[] => [
    ...[...passwords]
      .filter(([pw]) => text.includes(pw))
      .map(([, maker]) => `the generated password of ${maker}`),
    ...PATTERNS.filter(([re]) => re.test(text)).map(([, what]) => what),
  ];
  const report = (at: string, ref: { type: string; name: string }, what: string) =>
    findings.push({
      ref: { type: ref.type, name: ref.name },
      message: `${at} must not hold a secret in plain text, got ${what}`,
    });
  // A field read decoded (user-data) is judged decoded, below, not twice.
  const decoded = new Set(facts.decoded.map((d) => `${d.ref.type} ${d.ref.name} ${d.field}`));
  for (const r of facts.resources) {
    if (SKIPPED(r.type)) continue;
    const list: [string, string][] = [];
    strings(r.props, "", list);
    for (const [path, text] of list) {
      const field = path.split(/[.[]/)[0]!;
      if (secretField(r, field) || decoded.has(`${r.type} ${r.name} ${path}`)) continue;
      for (const what of secretsIn(text)) report(`${refText(r)}: ${path}`, r, what);
    }
  }
  // User-data, decoded: a secret in a file it writes is named with the file's path (its content
  // decoded as cloud-init would), one anywhere else (runcmd, …) with the field alone.
  for (const d of facts.decoded) {
    const at = `${refText(d.ref)}: ${d.field} (decoded)`;
    const inFiles = new Set<string>();
    for (const f of writeFilesOf(d.text)) {
      for (const what of secretsIn(f.text)) {
        report(`${at} → ${f.path}`, d.ref, what);
        inFiles.add(what);
      }
    }
    for (const what of secretsIn(d.text)) if (!inFiles.has(what)) report(at, d.ref, what);
  }
  return findings;
}
