import { createHash } from "node:crypto";
import type { Plan } from "../platform/plan.js";
import { pgbouncerAccounts } from "./render.js";
import { scramVerifier } from "./scram.js";

/**
 * Fake, fixed credentials for golden files: the password and salt derive from the account name, so
 * a golden userlist is stable and reveals nothing real.
 */
export function fixtureVerifiers(plan: Plan): Map<string, string> {
  return new Map(
    pgbouncerAccounts(plan).map((user) => {
      const salt = createHash("sha256").update(`salt:${user}`).digest().subarray(0, 16);
      return [user, scramVerifier(`fixture-password-${user}`, salt)];
    }),
  );
}
