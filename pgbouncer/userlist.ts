import { generatedHeader } from "./header.js";
import { userlistField } from "./sanitize.js";

/**
 * userlist.txt: one `"user" "verifier"` line per account, sorted. Only SCRAM verifiers are accepted:
 * a plaintext password must never reach a file on disk.
 */
export interface UserlistEntry {
  user: string;
  /** `SCRAM-SHA-256$…`, or REDACTED_VERIFIER for a review render. */
  verifier: string;
}

/** Written in place of verifiers when rendering for review: no secret leaves the secret store. */
export const REDACTED_VERIFIER = "SCRAM-SHA-256$<redacted: set at deploy from the secret store>";

const VERIFIER = /^SCRAM-SHA-256\$\d+:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$/;

/** A whole SCRAM-SHA-256 verifier, as pg_authid stores it. */
export function isScramVerifier(text: string): boolean {
  return VERIFIER.test(text);
}

export function renderUserlist(entries: readonly UserlistEntry[]): string {
  const seen = new Set<string>();
  const lines = [...entries]
    .sort((a, b) => a.user.localeCompare(b.user))
    .map((e) => {
      if (seen.has(e.user))
        throw new Error(`userlist: user ${JSON.stringify(e.user)} appears twice`);
      seen.add(e.user);
      if (e.verifier !== REDACTED_VERIFIER && !VERIFIER.test(e.verifier)) {
        // Never echo the value: it may be a password passed by mistake.
        throw new Error(`userlist.${e.user}: verifier must be a SCRAM-SHA-256 verifier`);
      }
      return `${userlistField("userlist user", e.user)} "${e.verifier}"`;
    });
  return (
    generatedHeader(";", "userlist.txt: SCRAM-SHA-256 verifiers, no passwords") +
    lines.join("\n") +
    "\n"
  );
}
