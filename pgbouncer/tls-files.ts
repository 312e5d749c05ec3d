import type { Plan } from "../platform/plan.js";
import type { FileTarget } from "./agent.js";
import { forcedSettings } from "./ini.js";
import { PRODUCTION_LAYOUT } from "./layout.js";
import { absolutePath } from "./sanitize.js";

/**
 * The certificate the fleet's CA issued for the endpoint, and its key
 * (components/pgbouncer-tls.ts), at the paths pgbouncer.ini names (client_tls_cert_file,
 * client_tls_key_file under tls.certDir). Never in user-data: the first boot and every revision
 * fetch them from Parameter Store, where the key is a SecureString. None when PgBouncer offers
 * clients no TLS.
 */
export const TLS_FILES = ["pgbouncer.crt", "pgbouncer.key"] as const;
export type TlsFileName = (typeof TLS_FILES)[number];

export function tlsFileTargets(plan: Plan): Record<TlsFileName, FileTarget> | undefined {
  const forced = forcedSettings(plan, plan.hosts[0]!, PRODUCTION_LAYOUT);
  const cert = forced.client_tls_cert_file;
  const key = forced.client_tls_key_file;
  if (typeof cert !== "string" || typeof key !== "string") return undefined;
  const owner = PRODUCTION_LAYOUT.user;
  return {
    "pgbouncer.crt": { path: absolutePath("tls.certDir", cert), mode: "0644", owner },
    "pgbouncer.key": { path: absolutePath("tls.certDir", key), mode: "0600", owner },
  };
}

/** `$stage/parameters.json` (an SSM GetParameters answer) → a `$stage/<name>` file per parameter. */
export const STAGE_PARAMETERS = [
  "python3 -c 'import json, os, sys",
  "stage = sys.argv[1]",
  'for p in json.load(open(os.path.join(stage, "parameters.json")))["Parameters"]:',
  '    with open(os.path.join(stage, p["Name"].rsplit("/", 1)[1]), "w") as f:',
  '        f.write(p["Value"])\' "$stage"',
];

/**
 * The first boot's TLS pair: the certificate the fleet's CA issued and its key, fetched from this
 * host's Parameter Store path (the key decrypted there, never carried in user-data) into a 0700
 * folder and installed with the modes of tlsFileTargets. A missing one stops the boot before
 * PgBouncer starts. `root` prefixes the paths, so a test can run it in a scratch folder.
 */
export function firstBootTls(plan: Plan, root = ""): string[] {
  const targets = tlsFileTargets(plan);
  if (!targets) return [];
  const names = Object.keys(targets);
  return [
    "stage=$(mktemp -d)",
    `trap 'rm -rf "$stage"' EXIT`,
    `aws ssm get-parameters --region "$REGION" --with-decryption --names ${names.map((n) => `"$PARAMETER_PATH/${n}"`).join(" ")} --output json > "$stage/parameters.json"`,
    ...STAGE_PARAMETERS,
    `for f in ${names.join(" ")}; do [ -s "$stage/$f" ] || { log "$f is missing under $PARAMETER_PATH: not starting PgBouncer"; exit 1; }; done`,
    ...Object.entries(targets).map(
      ([name, t]) =>
        `install -m ${t.mode} -o ${t.owner} -g ${t.owner} "$stage/${name}" ${root}${t.path}`,
    ),
    'rm -rf "$stage"',
  ];
}
