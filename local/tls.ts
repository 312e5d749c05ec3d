import { existsSync, readFileSync } from "node:fs";
import { chmod, mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Plan } from "../platform/plan.js";
import { clientProfiles, type ClientProfile } from "../platform/profiles.js";
import { serverCertificateNames } from "../pgbouncer/server-certificate.js";
import { run } from "./exec.js";
import { chownToUser } from "./service-files.js";
import { NODE_DOMAIN, nodeHostName, pgbouncerAddress, tlsDir } from "./topology.js";
import { SERVICE_USER } from "./state-dir.js";

/**
 * TLS on both hops of the local stack, as in production: `up` makes a CA of its own (the root's
 * OpenSSL), a certificate for every Postgres node (its address and name: PgBouncer checks them
 * with verify-full) and one for PgBouncer (the endpoint and every host's address: the clients
 * check it with verify-full). Keys are 0600 in the state folder; `down` removes them with it.
 */
export const caFile = () => join(tlsDir(), "ca.crt");
const caKey = () => join(tlsDir(), "ca.key");

/** Where a Postgres node finds its certificate and key. */
export const nodeCert = (node: string) => ({
  cert: join(tlsDir(), `postgres-${node}.crt`),
  key: join(tlsDir(), `postgres-${node}.key`),
});

/** PgBouncer's files, under the names pgbouncer.ini gives them (pgbouncer/ini.ts). */
const PGBOUNCER = { cert: "pgbouncer.crt", key: "pgbouncer.key", serverCa: "server-ca.pem" };

/** Days a local certificate is valid: a year, longer than any local stack runs. */
const DAYS = 365;

/** A subjectAltName for addresses and names. */
export const altNames = (addresses: readonly string[], names: readonly string[] = []) =>
  [...addresses.map((a) => `IP:${a}`), ...names.map((n) => `DNS:${n}`)].join(",");

const openssl = (args: string[]) => run("openssl", args, { inRoot: true, timeoutMs: 30_000 });

/**
 * Issues `cert`/`key` for `subject` signed by the local CA. `validity` takes OpenSSL's
 * -not_before/-not_after (YYYYMMDDHHMMSSZ), for tests that need an expired certificate.
 */
export async function issueCertificate(
  out: { cert: string; key: string },
  subject: string,
  subjectAltName: string,
  validity?: { notBefore: string; notAfter: string },
  ca = { cert: caFile(), key: caKey() },
): Promise<void> {
  const csr = `${out.cert}.csr`;
  await openssl([
    ...["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"],
    ...["-keyout", out.key, "-out", csr, "-subj", `/CN=${subject}`],
    ...["-addext", `subjectAltName=${subjectAltName}`],
    ...["-addext", "extendedKeyUsage=serverAuth"],
  ]);
  const period = validity
    ? ["-not_before", validity.notBefore, "-not_after", validity.notAfter]
    : ["-days", String(DAYS)];
  await openssl([
    ...["x509", "-req", "-in", csr, "-CA", ca.cert, "-CAkey", ca.key, "-CAcreateserial"],
    ...["-copy_extensions", "copy", ...period, "-out", out.cert],
  ]);
  await rm(csr, { force: true });
  await chmod(out.key, 0o600);
}

/** A new CA: its key never leaves the state folder. */
export async function makeCa(cert: string, key: string, name: string): Promise<void> {
  await openssl([
    ...["req", "-x509", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"],
    ...["-keyout", key, "-out", cert, "-days", String(DAYS), "-subj", `/CN=${name}`],
    ...["-addext", "basicConstraints=critical,CA:TRUE"],
    ...["-addext", "keyUsage=critical,keyCertSign,cRLSign"],
  ]);
  await chmod(key, 0o600);
}

/**
 * The CA and every certificate the stack needs, made once: a running stack keeps its CA, and a
 * missing file is made again. Readable by the servers' user only where it must be (keys 0600).
 */
export async function ensureLocalTls(
  plan: Plan,
  nodes: readonly { name: string; address: string }[],
): Promise<void> {
  await mkdir(tlsDir(), { recursive: true, mode: 0o755 });
  if (!existsSync(caFile()) || !existsSync(caKey()))
    await makeCa(caFile(), caKey(), "pg-pooling local stack CA");
  for (const n of nodes) {
    if (!existsSync(nodeCert(n.name).cert))
      // Every node also answers for the whole domain, as an RDS certificate covers its
      // endpoints: a failover moves a name to another node, which must still verify.
      await issueCertificate(
        nodeCert(n.name),
        nodeHostName(n.name),
        altNames([n.address], [nodeHostName(n.name), `*.${NODE_DOMAIN}`]),
      );
  }
  const pgbouncer = { cert: join(tlsDir(), PGBOUNCER.cert), key: join(tlsDir(), PGBOUNCER.key) };
  if (!existsSync(pgbouncer.cert)) {
    // The names the cloud's certificate carries, and each host's address: the local tests also
    // reach one host directly with verify-full.
    const names = serverCertificateNames(plan);
    const addresses = [...names.ipAddresses, ...plan.hosts.map((h) => pgbouncerAddress(h.index))];
    await issueCertificate(pgbouncer, names.commonName, altNames(addresses, names.dnsNames));
  }
  await writeFile(join(tlsDir(), PGBOUNCER.serverCa), readFileSync(caFile()));
  await chownToUser(tlsDir(), SERVICE_USER);
  await chmod(caKey(), 0o600);
}

/** What a local client trusts: the local CA, as node-postgres takes it. */
export function localSsl(): { ca: string } {
  return { ca: readFileSync(caFile(), "utf8") };
}

/**
 * The services' client profiles for the local stack: the plan's, with the local CA, and the
 * endpoint (HAProxy) unless a test points them at one host.
 */
export function localProfiles(plan: Plan, endpointHost?: string): ClientProfile[] {
  return clientProfiles(plan, { endpointHost, caFile: caFile() });
}

/**
 * A libpq connection string to the tier with TLS verified against the local CA. The root's libpq
 * (18) is told not to look for a client certificate (its HOME is this machine's, unreadable from
 * inside the root); Debian 12's (15) has no such option and looks in its own HOME.
 */
export function libpqConninfo(
  target: { host: string; port: number; user: string; database: string },
  libpq: "root" | "debian12" = "root",
): string {
  const { host, port, user, database } = target;
  return (
    `host=${host} port=${port} dbname=${database} user=${user} sslmode=verify-full sslrootcert=${caFile()}` +
    (libpq === "root" ? " sslcertmode=disable" : "")
  );
}
