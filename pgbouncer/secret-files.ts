import type { FileTarget } from "./file-target.js";

/**
 * The files a host never gets through user-data, since any process on the host can read its
 * user-data through IMDS: the SCRAM verifiers (`userlist.txt`) and, with client TLS, PgBouncer's
 * certificate and its private key. Parameter Store holds them per host; the first boot fetches
 * them before PgBouncer starts (firstBootSecrets), every revision installs them like the other
 * files (agent.ts applyScript). One table for both paths and for how each is stored.
 *
 * `secureString`: stored encrypted, decrypted only by the host that fetches it. The certificate
 * is public, but it is half of the key's pair: fetched with it, a host never serves a
 * certificate for a key it does not hold.
 */
export const WITHHELD_FILES = {
  "userlist.txt": { secureString: true },
  "pgbouncer.crt": { secureString: false },
  "pgbouncer.key": { secureString: true },
} as const satisfies Record<string, { secureString: boolean }>;
export type WithheldFileName = keyof typeof WITHHELD_FILES;

export const isWithheld = (name: string): name is WithheldFileName => name in WITHHELD_FILES;

/** Stored as SecureString in Parameter Store: the verifiers and PgBouncer's private key. */
export const SECRET_FILES: readonly string[] = Object.entries(WITHHELD_FILES)
  .filter(([, f]) => f.secureString)
  .map(([name]) => name);

/** `$stage/parameters.json` (an SSM GetParameters answer) → a `$stage/<name>` file per parameter. */
export const STAGE_PARAMETERS = [
  "python3 -c 'import json, os, sys",
  "stage = sys.argv[1]",
  'for p in json.load(open(os.path.join(stage, "parameters.json")))["Parameters"]:',
  '    with open(os.path.join(stage, p["Name"].rsplit("/", 1)[1]), "w") as f:',
  '        f.write(p["Value"])\' "$stage"',
];

/**
 * The first boot's fetch of the withheld files this host needs (agent.ts withheldFileTargets):
 * one `get-parameters` call on this host's Parameter Store path, decrypted there, into a 0700
 * folder, each installed with the mode and owner of its target. A missing one stops the boot
 * before PgBouncer starts, naming the file and the path. `root` prefixes the paths, so a test
 * can run it in a scratch folder.
 */
export function firstBootSecrets(
  targets: Partial<Record<WithheldFileName, FileTarget>>,
  root = "",
): string[] {
  const entries = Object.entries(targets) as [WithheldFileName, FileTarget][];
  if (entries.length === 0) return [];
  const names = entries.map(([name]) => name);
  return [
    "stage=$(mktemp -d)",
    `trap 'rm -rf "$stage"' EXIT`,
    `aws ssm get-parameters --region "$REGION" --with-decryption --names ${names.map((n) => `"$PARAMETER_PATH/${n}"`).join(" ")} --output json > "$stage/parameters.json"`,
    ...STAGE_PARAMETERS,
    `for f in ${names.join(" ")}; do [ -s "$stage/$f" ] || { log "$f is missing under $PARAMETER_PATH: not starting PgBouncer"; exit 1; }; done`,
    ...entries.map(
      ([name, t]) =>
        `install -m ${t.mode} -o ${t.owner} -g ${t.owner} "$stage/${name}" ${root}${t.path}`,
    ),
    'rm -rf "$stage"',
  ];
}
