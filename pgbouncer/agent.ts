import type { Plan } from "../platform/plan.js";
import { hostFileTargets, unitList, withheldFileTargets } from "./delivered-files.js";
import { generatedHeader } from "./header.js";
import { forcedSettings } from "./ini.js";
import { PRODUCTION_LAYOUT, processNumbers, unitName } from "./layout.js";
import { PGBOUNCER_PIN } from "./pgdg.js";
import { ROLLOUT_ACTIONS } from "./rollout.js";
import { absolutePath, RenderError } from "./sanitize.js";
import { firstBootSecrets, STAGE_PARAMETERS } from "./secret-files.js";

/**
 * How a cloud host runs its files and takes new ones. First boot: cloud-init writes the files
 * without a secret (cloud-init.ts) and runs FIRST_BOOT, which fetches the others from Parameter
 * Store (secret-files.ts WITHHELD_FILES). Later revisions: the program stores each host's files in
 * SSM Parameter Store, and an SSM association runs applyDocument() on one host at a time: fetch,
 * install, then RELOAD, or drain from the load balancer, restart and rejoin. The host is never
 * replaced for a config change, and RELOAD drops no client.
 */

/** What a host knows about itself; written once by cloud-init to AGENT_ENV. */
export interface AgentSettings {
  /** The plan's host name, `pgbouncer-1` … */
  host: string;
  /** AWS region: Parameter Store, the load balancer API and the RDS CA bundle are regional. */
  region: string;
  /** Parameter Store path holding this host's files, one parameter per file name. */
  parameterPath: string;
  /** The load balancer target group the host leaves while it restarts. */
  targetGroupArn: string;
}

/** Agent settings of a review render: the region and target group are known only at deploy. */
export function reviewAgentSettings(stack: string, host: string): AgentSettings {
  return {
    host,
    region: "set-at-deploy",
    parameterPath: hostParameterPath(stack, host),
    targetGroupArn: "arn:aws:elasticloadbalancing:set-at-deploy",
  };
}

/** Parameter Store root of a stack: its hosts' files and the rollout record live under it. */
export function stackParameterRoot(stack: string): string {
  return `/pg-pooling/${stack}`;
}

/** Parameter Store path of a host's files: one parameter per file name under it. */
export function hostParameterPath(stack: string, host: string): string {
  return `${stackParameterRoot(stack)}/${host}`;
}

export const AGENT_ENV = "/etc/pg-pooling/agent.env";
export const FIRST_BOOT = "/usr/local/sbin/pg-pooling-first-boot";
/** The revision a host last applied, for an operator comparing hosts. */
export const AGENT_REVISION = "/etc/pg-pooling/revision";

/** Shell-safe without quoting: these values land in a file that `sh` sources. */
function envValue(field: string, value: string | number): string {
  const text = String(value);
  if (!/^[A-Za-z0-9:/._-]+$/.test(text)) {
    throw new RenderError(field, text, "must contain only letters, digits and : / . _ -");
  }
  return text;
}

export function renderAgentEnv(plan: Plan, agent: AgentSettings): string {
  const p = plan.config.pgbouncer;
  const values: [string, string | number][] = [
    ["HOST", agent.host],
    ["REGION", agent.region],
    ["PARAMETER_PATH", agent.parameterPath],
    ["TARGET_GROUP_ARN", agent.targetGroupArn],
    ["PGBOUNCER_VERSION", plan.pgbouncerVersion.join(".")],
    ["PGBOUNCER_PORT", p.port],
    ["ENDPOINT", p.endpoint],
  ];
  return (
    generatedHeader("#", "pg-pooling host agent settings, sourced by its scripts") +
    values.map(([k, v]) => `${k}=${envValue(`agent.${k}`, v)}\n`).join("")
  );
}

/**
 * First boot, after cloud-init has installed the packages and written the files without a
 * secret: check the pinned release is what got installed, install the withheld files from
 * Parameter Store (the userlist, and the fleet CA's certificate and key the ini names), AWS's RDS
 * CA bundle, start PgBouncer, and only then install the SSM agent, so the first association run
 * finds a configured host.
 */
export function renderFirstBoot(plan: Plan): string {
  const forced = forcedSettings(plan, plan.hosts[0]!, PRODUCTION_LAYOUT);
  const user = PRODUCTION_LAYOUT.user;
  const lines = [
    "set -eu",
    `. ${AGENT_ENV}`,
    'log() { echo "pg-pooling-first-boot $HOST: $*"; }',
    "installed=$(dpkg-query -W -f='${Version}' pgbouncer)",
    'case "$installed" in',
    '  "$PGBOUNCER_VERSION"-*) ;;',
    '  *) log "pgbouncer $installed is installed, $PGBOUNCER_VERSION is pinned: not starting it"; exit 1 ;;',
    "esac",
  ];
  const key = forced.client_tls_key_file;
  const cert = forced.client_tls_cert_file;
  const ca = forced.server_tls_ca_file;
  const tlsFiles = [key, cert, ca].filter((f): f is string => typeof f === "string");
  if (tlsFiles.length > 0) {
    const dirs = [...new Set(tlsFiles.map((f) => absolutePath("tls.certDir", dirOf(f))))];
    lines.push(`install -d -m 0750 -o ${user} -g ${user} ${dirs.join(" ")}`);
  }
  lines.push(...firstBootSecrets(withheldFileTargets(plan)));
  if (typeof ca === "string") {
    // verify-ca/verify-full to RDS: AWS's CA bundle for the region, over HTTPS from AWS.
    lines.push(
      `curl -fsS --retry 5 -o ${ca} "https://truststore.pki.rds.amazonaws.com/$REGION/$REGION-bundle.pem"`,
      `chmod 0644 ${ca}`,
    );
  }
  lines.push(
    "systemctl daemon-reload",
    `systemctl enable ${unitList(plan)}`,
    // The package started its own default config on install; this run uses ours.
    `systemctl restart ${unitList(plan)}`,
    'log "PgBouncer $PGBOUNCER_VERSION serving on port $PGBOUNCER_PORT"',
    // Debian's AMIs carry no SSM agent; AWS publishes it per region and architecture.
    "arch=$(dpkg --print-architecture)",
    'curl -fsS --retry 5 -o /run/amazon-ssm-agent.deb "https://s3.$REGION.amazonaws.com/amazon-ssm-$REGION/latest/debian_$arch/amazon-ssm-agent.deb"',
    "dpkg -i /run/amazon-ssm-agent.deb",
    "rm -f /run/amazon-ssm-agent.deb",
    "systemctl enable --now amazon-ssm-agent.service",
  );
  return "#!/bin/sh\n" + generatedHeader("#", "pg-pooling first boot") + lines.join("\n") + "\n";
}

const dirOf = (path: string) => path.replace(/\/[^/]+$/, "");

/** The SSM association's parameters: what to do, and which revision the files must be. */
export interface ApplyParameters {
  action: (typeof ROLLOUT_ACTIONS)[number];
  revision: string;
}

/**
 * The apply script, POSIX sh (SSM's aws:runShellScript runs it with /bin/sh). SSM substitutes
 * `{{ action }}` and `{{ revision }}` after checking them against the document's allowed values.
 * It installs every file of hostFileTargets, the TLS pair included. `root` prefixes every path,
 * so a test can run the real script in a scratch folder.
 */
export function applyScript(plan: Plan, root = ""): string[] {
  const targets = hostFileTargets(plan);
  const put = Object.entries(targets).map(
    ([name, f]) => `put ${name} ${root}${f.path} ${f.mode} ${f.owner}`,
  );
  return [
    "set -eu",
    "action='{{ action }}'",
    "revision='{{ revision }}'",
    `. ${root}${AGENT_ENV}`,
    'log() { echo "pg-pooling-apply $HOST: $*"; }',
    "instance=$(cloud-init query instance_id)",
    'elb() { aws elbv2 "$@" --region "$REGION" --target-group-arn "$TARGET_GROUP_ARN" --targets "Id=$instance"; }',
    "stage=$(mktemp -d)",
    'drained=""',
    // A failed step must not leave a serving host outside the load balancer.
    'finish() { status=$?; rm -rf "$stage"; if [ -n "$drained" ] && systemctl is-active --quiet pgbouncer.service; then elb register-targets || true; fi; exit $status; }',
    "trap finish EXIT",
    'aws ssm get-parameters-by-path --region "$REGION" --path "$PARAMETER_PATH" --with-decryption --output json > "$stage/parameters.json"',
    ...STAGE_PARAMETERS,
    // Every file present before anything is touched, the load balancer included.
    `for f in ${Object.keys(targets).join(" ")}; do [ -f "$stage/$f" ] || { log "$f is missing under $PARAMETER_PATH"; exit 1; }; done`,
    'changed=""',
    // Install next to the target and rename: PgBouncer never reads a half-written file.
    'put() { if ! cmp -s "$stage/$1" "$2"; then install -D -m "$3" -o "$4" -g "$4" "$stage/$1" "$2.pg-pooling~"; mv -f "$2.pg-pooling~" "$2"; changed="$changed $1"; fi; }',
    'has() { case " $changed " in *" $1 "*) return 0 ;; esac; return 1; }',
    'case "$action" in',
    "  rolling-restart)",
    '    log "leaving the load balancer"',
    "    drained=1",
    "    elb deregister-targets",
    "    elb wait target-deregistered",
    ...put.map((line) => `    ${line}`),
    // Compare with what is installed, not with what changed: a pin delivered by an earlier,
    // failed run must still bring its release. force-confold keeps our pgbouncer.ini.
    `    pinned=$(sed -n 's/^Pin: version \\(.*\\)-\\*$/\\1/p' ${root}${PGBOUNCER_PIN})`,
    "    installed=$(dpkg-query -W -f='${Version}' pgbouncer)",
    '    case "$installed" in "$pinned"-*) ;; *) log "installing PgBouncer $pinned (was $installed)"; apt-get update -q; DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o Dpkg::Options::=--force-confold pgbouncer ;; esac',
    // A revision with fewer processes leaves units of the old ones: stopped and removed, so no
    // process keeps serving an old config. A revision with more enables the new ones.
    `    for f in ${root}/etc/systemd/system/pgbouncer-[0-9]*.service; do [ -e "$f" ] || continue; u=\${f##*/}; case " ${unitList(plan)} " in *" $u "*) ;; *) log "removing $u: not in revision $revision"; systemctl disable --now "$u"; rm -f "$f" ;; esac; done`,
    "    systemctl daemon-reload",
    `    systemctl enable ${unitList(plan)}`,
    '    log "restarting PgBouncer for revision $revision:$changed"',
    `    systemctl restart ${unitList(plan)}`,
    "    elb register-targets",
    "    elb wait target-in-service",
    '    drained=""',
    "    ;;",
    "  reload|none)",
    ...put.map((line) => `    ${line}`),
    // A new binary or unit is only ever rolled with a restart; never here, under live clients.
    `    if has pgbouncer.pref${processNumbers(plan.hosts[0]!)
      .map((k) => ` || has ${unitName(k)}`)
      .join("")}; then log "package pin or unit changed: applied by the next rolling-restart"; fi`,
    `    if [ "$action" = reload ]; then log "reloading PgBouncer for revision $revision:$changed"; systemctl reload ${unitList(plan)}; fi`,
    "    ;;",
    '  *) log "unknown action $action"; exit 2 ;;',
    "esac",
    `echo "$revision" > ${root}${AGENT_REVISION}`,
  ];
}

/** The SSM Command document (schema 2.2) the association runs. */
export function applyDocument(plan: Plan): Record<string, unknown> {
  return {
    schemaVersion: "2.2",
    description:
      "pg-pooling: install this host's PgBouncer files from Parameter Store and apply them (RELOAD, or drain + restart + rejoin)",
    parameters: {
      action: { type: "String", allowedValues: [...ROLLOUT_ACTIONS] },
      revision: { type: "String", allowedPattern: "^[0-9a-f]{64}$" },
    },
    mainSteps: [
      {
        action: "aws:runShellScript",
        name: "apply",
        inputs: { runCommand: applyScript(plan), timeoutSeconds: "1800" },
      },
    ],
  };
}
