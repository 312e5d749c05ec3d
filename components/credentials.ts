import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { assertScramSafePassword, scramVerifier } from "../pgbouncer/scram.js";
import { CLOUD_DEFAULTS } from "./defaults.js";

/** Generated login credentials for a set of accounts. */
export interface CredentialsArgs {
  /**
   * Account names (services, PgBouncer's admin and stats users, the monitoring role).
   * @default none: required
   */
  accounts: string[];
  /** Password length. @default CLOUD_DEFAULTS.passwordLength (32) */
  passwordLength?: number;
}

export interface Credential {
  /** Secret: what the client sends. */
  password: pulumi.Output<string>;
  /** Secret: the SCRAM-SHA-256 verifier, both the role's password and the userlist line. */
  verifier: pulumi.Output<string>;
}

/**
 * A password and a SCRAM verifier per account. SCRAM pass-through needs PgBouncer's userlist and
 * Postgres to hold the very same verifier (same salt), so the verifier is computed here, once,
 * and both take it. The salt is a random resource of its own: it is drawn on create and kept in
 * the state, so the verifier is the same on every run and `pulumi up` shows no diff; replacing
 * the password resource (or the salt) rotates the credential.
 */
export class Credentials extends pulumi.ComponentResource {
  public readonly accounts: Record<string, Credential>;

  constructor(name: string, args: CredentialsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pooling:credentials:Credentials", name, {}, opts);
    const parent = { parent: this };
    this.accounts = {};
    for (const account of [...new Set(args.accounts)].sort()) {
      const password = new random.RandomPassword(
        `${name}-${account}-password`,
        { length: args.passwordLength ?? CLOUD_DEFAULTS.passwordLength, special: false },
        parent,
      );
      const salt = new random.RandomBytes(
        `${name}-${account}-salt`,
        { length: CLOUD_DEFAULTS.saltBytes },
        parent,
      );
      const secretPassword = pulumi.secret(password.result);
      this.accounts[account] = {
        password: secretPassword,
        verifier: pulumi.secret(
          pulumi.all([secretPassword, salt.base64]).apply(([pw, saltBase64]) => {
            assertScramSafePassword(`credentials.${account}`, pw);
            return scramVerifier(pw, Buffer.from(saltBase64, "base64"));
          }),
        ),
      };
    }
    this.registerOutputs({});
  }
}
