import { existsSync } from "node:fs";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { Plan } from "../platform/plan.js";
import { MONITORING_ROLE } from "../platform/roles.js";
import { pgbouncerAccounts } from "../pgbouncer/render.js";
import { generatePassword, scramVerifier } from "../pgbouncer/scram.js";
import { stateDir } from "./state-dir.js";

/**
 * The local stack's secret store: a 0600 file in the gitignored state folder. Passwords are
 * generated on first `up`; the SCRAM verifier of each account is computed once, so the role in
 * Postgres and the line in userlist.txt carry the same salt (SCRAM pass-through needs that).
 */
export interface LocalSecrets {
  replicationPassword: string;
  accounts: Record<string, { password: string; verifier: string }>;
}

/** The stack's passwords and verifiers, readable by its owner only. */
export const secretsFile = () => join(stateDir(), "secrets.json");

export async function loadOrCreateSecrets(plan: Plan): Promise<LocalSecrets> {
  const existing: LocalSecrets | undefined = existsSync(secretsFile())
    ? JSON.parse(await readFile(secretsFile(), "utf8"))
    : undefined;
  const secrets: LocalSecrets = existing ?? {
    replicationPassword: generatePassword(),
    accounts: {},
  };
  let changed = !existing;
  // the services' and PgBouncer's accounts, and the monitoring role npm run tune reads as
  for (const user of [...pgbouncerAccounts(plan), MONITORING_ROLE]) {
    if (secrets.accounts[user]) continue;
    const password = generatePassword();
    secrets.accounts[user] = { password, verifier: scramVerifier(password) };
    changed = true;
  }
  if (changed) {
    await mkdir(dirname(secretsFile()), { recursive: true });
    await writeFile(secretsFile(), JSON.stringify(secrets, null, 2) + "\n", { mode: 0o600 });
    await chmod(secretsFile(), 0o600);
  }
  return secrets;
}

/** For clients (tests, demo): the secrets of a running stack, or a clear error when it is down. */
export async function readSecrets(): Promise<LocalSecrets> {
  if (!existsSync(secretsFile()))
    throw new Error("the local stack is not up: run `npm run local -- up`");
  return JSON.parse(await readFile(secretsFile(), "utf8")) as LocalSecrets;
}

export function verifierMap(secrets: LocalSecrets): Map<string, string> {
  return new Map(Object.entries(secrets.accounts).map(([user, a]) => [user, a.verifier]));
}
