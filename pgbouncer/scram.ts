import { createHash, createHmac, pbkdf2Sync, randomBytes } from "node:crypto";

/**
 * SCRAM-SHA-256 verifiers as PostgreSQL stores them in pg_authid.rolpassword (RFC 5802/7677):
 *   SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>
 * The same verifier goes into PgBouncer's userlist and into the role's password, so PgBouncer can
 * authenticate the client AND log in to Postgres with the keys the client proved (SCRAM
 * pass-through) without ever holding the password. Both sides must share salt and iterations.
 */
export const SCRAM_ITERATIONS = 4096; // PostgreSQL's scram_iterations default

/**
 * Passwords are printable ASCII without spaces or quotes: for those, SASLprep (which Postgres
 * applies before hashing) is the identity, so our verifier equals Postgres's own.
 */
export function assertScramSafePassword(field: string, password: string): void {
  if (!/^[\x21-\x7e]{16,128}$/.test(password) || /["'\\]/.test(password)) {
    // The value itself is a secret: name the field and what is wrong, never the value.
    throw new Error(
      `${field} must be 16–128 printable ASCII characters without quotes or backslashes`,
    );
  }
}

export function scramVerifier(
  password: string,
  salt: Buffer = randomBytes(16),
  iterations = SCRAM_ITERATIONS,
): string {
  const salted = pbkdf2Sync(password, salt, iterations, 32, "sha256");
  const clientKey = createHmac("sha256", salted).update("Client Key").digest();
  const storedKey = createHash("sha256").update(clientKey).digest();
  const serverKey = createHmac("sha256", salted).update("Server Key").digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString("base64")}$${storedKey.toString("base64")}:${serverKey.toString("base64")}`;
}

/** Salt and iterations of a stored verifier, to recompute it from a password. */
export function parseVerifier(verifier: string): { iterations: number; salt: Buffer } {
  const m = /^SCRAM-SHA-256\$(\d+):([A-Za-z0-9+/=]+)\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$/.exec(
    verifier,
  );
  if (!m) throw new Error("not a SCRAM-SHA-256 verifier");
  return { iterations: Number(m[1]), salt: Buffer.from(m[2]!, "base64") };
}

/** Random password, SCRAM-safe by construction (base64url: letters, digits, - and _). */
export function generatePassword(bytes = 24): string {
  return randomBytes(bytes).toString("base64url");
}
