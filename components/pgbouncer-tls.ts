import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import type { ServerCertificateNames } from "../pgbouncer/server-certificate.js";
import { CLOUD_DEFAULTS } from "./defaults.js";

/** The fleet's private CA and the certificate PgBouncer serves clients. */
export interface PgBouncerTlsArgs {
  /** Subject CN of the CA (pgbouncer/server-certificate.ts fleetCaName). @default none: required */
  caName: string;
  /** What PgBouncer's certificate names (serverCertificateNames). @default none: required */
  names: ServerCertificateNames;
  /** Hours the CA is valid. @default CLOUD_DEFAULTS.tls.caValidityHours (10 years) */
  caValidityHours?: number;
  /**
   * Hours PgBouncer's certificate is valid.
   * @default CLOUD_DEFAULTS.tls.certificateValidityHours (1 year)
   */
  certificateValidityHours?: number;
  /**
   * A `pulumi up` this close to the certificate's expiry issues a new one.
   * @default CLOUD_DEFAULTS.tls.earlyRenewalHours (30 days)
   */
  earlyRenewalHours?: number;
}

const ECDSA_P256 = { algorithm: "ECDSA", ecdsaCurve: "P256" } as const;
const KEY_OUTPUTS = ["privateKeyPem", "privateKeyPemPkcs8", "privateKeyOpenssh"];

/**
 * A CA made by the stack (its key lives only in the Pulumi state, a secret) and one certificate
 * it issues for the endpoint, so the services verify PgBouncer with verify-full against the CA
 * (the stack output `pgbouncerCaCertificate`). Every host serves the same certificate: one name,
 * behind one load balancer. Rotation: the certificate is issued again in its last
 * `earlyRenewalHours`, or on `pulumi up --replace` of its key or certificate; the hosts get it
 * like any file, with a RELOAD, and keep the CA, so the services change nothing.
 */
export class PgBouncerTls extends pulumi.ComponentResource {
  /** The CA's certificate, PEM: what the services trust. Not secret. */
  public readonly caCertificatePem: pulumi.Output<string>;
  /** PgBouncer's certificate, PEM, issued by the CA (`pgbouncer.crt`). Not secret. */
  public readonly certificatePem: pulumi.Output<string>;
  /** Secret: the certificate's private key, PEM (`pgbouncer.key`). */
  public readonly privateKeyPem: pulumi.Output<string>;

  constructor(name: string, args: PgBouncerTlsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pooling:pgbouncer:PgBouncerTls", name, {}, opts);
    const parent = { parent: this };
    const secretKey = { parent: this, additionalSecretOutputs: KEY_OUTPUTS };
    const d = CLOUD_DEFAULTS.tls;

    const caKey = new tls.PrivateKey(`${name}-ca-key`, ECDSA_P256, secretKey);
    const caKeyPem = pulumi.secret(caKey.privateKeyPem);
    const ca = new tls.SelfSignedCert(
      `${name}-ca`,
      {
        privateKeyPem: caKeyPem,
        isCaCertificate: true,
        allowedUses: ["cert_signing", "crl_signing"],
        subject: { commonName: args.caName, organization: "pg-pooling" },
        validityPeriodHours: args.caValidityHours ?? d.caValidityHours,
        setSubjectKeyId: true,
      },
      parent,
    );

    const key = new tls.PrivateKey(`${name}-key`, ECDSA_P256, secretKey);
    const keyPem = pulumi.secret(key.privateKeyPem);
    const { commonName, dnsNames, ipAddresses } = args.names;
    const request = new tls.CertRequest(
      `${name}-csr`,
      {
        privateKeyPem: keyPem,
        subject: { commonName, organization: "pg-pooling" },
        ...(dnsNames.length > 0 ? { dnsNames } : {}),
        ...(ipAddresses.length > 0 ? { ipAddresses } : {}),
      },
      parent,
    );
    const certificate = new tls.LocallySignedCert(
      `${name}-cert`,
      {
        certRequestPem: request.certRequestPem,
        caPrivateKeyPem: caKeyPem,
        caCertPem: ca.certPem,
        // ECDSA signs the handshake; no key encipherment.
        allowedUses: ["digital_signature", "server_auth"],
        validityPeriodHours: args.certificateValidityHours ?? d.certificateValidityHours,
        earlyRenewalHours: args.earlyRenewalHours ?? d.earlyRenewalHours,
        setSubjectKeyId: true,
      },
      parent,
    );

    this.caCertificatePem = ca.certPem;
    this.certificatePem = certificate.certPem;
    this.privateKeyPem = keyPem;
    this.registerOutputs({
      caCertificatePem: this.caCertificatePem,
      certificatePem: this.certificatePem,
    });
  }
}
