import { isIpv4Address } from "../platform/network.js";
import type { Plan } from "../platform/plan.js";

/**
 * What the certificate PgBouncer serves clients vouches for: the endpoint, the one name the
 * services dial (their profiles and connection strings name it, platform/profiles.ts) and check
 * with verify-full against the fleet's CA. Nothing else: the load balancer's generated name, or a
 * host's address, is reached only by operators, who check the chain with verify-ca instead, and a
 * name that moves with the load balancer would re-issue the certificate whenever it is replaced.
 */
export interface ServerCertificateNames {
  /** Subject CN: the endpoint when it fits the 64 characters X.509 allows; clients read the SAN. */
  commonName: string;
  /** subjectAltName DNS entries: the endpoint, when it is a name. */
  dnsNames: string[];
  /** subjectAltName IP entries: the endpoint, when it is an IPv4 address. */
  ipAddresses: string[];
}

/** RFC 5280's upper bound on a subject's common name. */
const CN_MAX = 64;
const FALLBACK_CN = "pg-pooling PgBouncer";

export function serverCertificateNames(plan: Plan): ServerCertificateNames {
  const endpoint = plan.config.pgbouncer.endpoint;
  const address = isIpv4Address(endpoint);
  return {
    commonName: endpoint.length <= CN_MAX ? endpoint : FALLBACK_CN,
    dnsNames: address ? [] : [endpoint],
    ipAddresses: address ? [endpoint] : [],
  };
}

/** The subject CN of a stack's fleet CA, so a certificate chain says which stack it belongs to. */
export function fleetCaName(stack: string): string {
  return `pg-pooling ${stack} PgBouncer CA`;
}
