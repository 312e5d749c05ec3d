import { DEFAULTS } from "../platform/defaults.js";
import { EXPORTERS, pgbouncerExporterPort } from "../platform/exporters.js";
import type { HostPlan, Plan } from "../platform/plan.js";
import { MONITORING_ROLE } from "../platform/roles.js";
import { AGENT_ENV, stackParameterRoot } from "../pgbouncer/agent.js";
import { generatedHeader } from "../pgbouncer/header.js";
import { forcedSettings } from "../pgbouncer/ini.js";
import {
  PRODUCTION_LAYOUT,
  processNumbers,
  productionLayout,
  STATS_USER,
  SYSTEMD_UNIT_DIR,
  unitName,
  type Upstreams,
} from "../pgbouncer/layout.js";
import { connstringValue, RenderError } from "../pgbouncer/sanitize.js";
import { EXPORTER_RELEASES, postgresExporterQueries } from "./catalogue.js";
import { BIN_DIR, renderInstallScript, type ExporterBinary } from "./exporter-install.js";

/**
 * The exporters of a cloud PgBouncer host, as systemd units and the scripts that set them up (the
 * binaries themselves: exporter-install.ts).
 *
 * - pgbouncer_exporter, one per PgBouncer process: the stats-only user over that process's socket.
 * - node_exporter, one per host: CPU, descriptors and network of the host.
 * - postgres_exporter, one per RDS node. RDS runs nothing of ours, so node i's exporter runs on
 *   PgBouncer host (i mod hosts), on port 9187 + ⌊i / hosts⌋: spread so that one lost host loses
 *   the metrics of the nodes it carried (their `up` goes to 0 and ExporterDown fires) until the host
 *   is replaced, never all of them. Each node is scraped once, so it spends one of the
 *   connections the budget reserves for exporters, whatever the number of hosts.
 *
 * Every exporter listens on the host's private address only (read from the instance metadata at
 * boot: the address exists only after the instance does), runs as a DynamicUser and reads its
 * password from a pgpass file that systemd hands over as a credential (PGPASSFILE, read by lib/pq
 * in both exporters). That file comes from a SecureString in Parameter Store; no unit, script or
 * user-data holds a password.
 */

export const EXPORTER_DIR = "/etc/pg-pooling/exporters";
/** Written at boot by the setup unit: `LISTEN_ADDRESS=<private IPv4>`. */
export const LISTEN_ENV = `${EXPORTER_DIR}/listen.env`;
/** Written at boot by the setup unit from Parameter Store, root-only. */
export const PGPASS_FILE = `${EXPORTER_DIR}/pgpass`;
export const QUERIES_FILE = `${EXPORTER_DIR}/postgres-queries.yaml`;
export const SETUP_SCRIPT = "/usr/local/sbin/pg-pooling-exporters-setup";
export const INSTALL_SCRIPT = "/usr/local/sbin/pg-pooling-exporters-install";
export const SETUP_UNIT = "pg-pooling-exporters-setup.service";

/** The SecureString the hosts read the exporters' pgpass from. */
export function exporterPgpassParameter(stack: string): string {
  return `${stackParameterRoot(stack)}/monitoring/exporters.pgpass`;
}

/** The unit of PgBouncer process k's exporter. */
export const pgbouncerExporterUnit = (k: number): string =>
  k === 1 ? "pg-pooling-pgbouncer-exporter.service" : `pg-pooling-pgbouncer-exporter-${k}.service`;

/**
 * The pgpass file: one line per account, any host, port and database. A password is never echoed
 * in an error: the message names the account only.
 */
export function renderExporterPgpass(passwords: { stats: string; monitoring: string }): string {
  const line = (user: string, password: string) => {
    if (!/^[A-Za-z0-9._~+-]+$/.test(password)) {
      throw new Error(
        `exporter password of ${user} must be letters, digits and . _ ~ + - (value withheld)`,
      );
    }
    return `*:*:*:${user}:${password}\n`;
  };
  return line(STATS_USER, passwords.stats) + line(MONITORING_ROLE, passwords.monitoring);
}

/** Where node i of the plan (primary, replica1, …) has its postgres_exporter. */
export interface PostgresExporterPlacement {
  node: string;
  host: string;
  port: number;
}

export function postgresExporterPlacement(plan: Plan): PostgresExporterPlacement[] {
  const hosts = plan.hosts.length;
  return plan.budget.map((b, i) => ({
    node: b.node,
    host: plan.hosts[i % hosts]!.name,
    port: EXPORTERS.postgres.port + Math.floor(i / hosts),
  }));
}

/**
 * Every port some exporter listens on, on some PgBouncer host, ascending: node_exporter's and
 * pgbouncer_exporter's on every host, and each port the postgres_exporter placement uses (9187,
 * then 9188… once a host carries more than one node). The hosts share one security group, so this
 * is what Prometheus must be admitted to.
 */
export function hostExporterPorts(plan: Plan): number[] {
  const ports = new Set<number>([
    EXPORTERS.node.port,
    ...processNumbers(plan.hosts[0]!).map(pgbouncerExporterPort),
  ]);
  for (const p of postgresExporterPlacement(plan)) ports.add(p.port);
  return [...ports].sort((a, b) => a - b);
}

/** The address of each plan node in the upstreams, in plan order. */
export function nodeAddresses(plan: Plan, upstreams: Upstreams): Map<string, string> {
  const addresses = [upstreams.primary, ...upstreams.replicas];
  if (addresses.length !== plan.budget.length) {
    throw new RenderError(
      "upstreams",
      addresses.join(","),
      `must name ${plan.budget.length} Postgres nodes (${plan.budget.map((b) => b.node).join(", ")})`,
    );
  }
  return new Map(plan.budget.map((b, i) => [b.node, addresses[i]!]));
}

export interface ExporterFile {
  path: string;
  mode: string;
  content: string;
}

export interface ExporterHostFiles {
  files: ExporterFile[];
  /** Units to enable and start once the binaries are installed, in order. */
  units: string[];
  /** What the first boot runs, after PgBouncer's own first boot: install, then start. */
  commands: (string | string[])[];
}

const HARDENING = [
  "DynamicUser=yes",
  "NoNewPrivileges=yes",
  "ProtectSystem=strict",
  "ProtectHome=yes",
  "PrivateTmp=yes",
  "PrivateDevices=yes",
  "ProtectKernelTunables=yes",
  "ProtectKernelModules=yes",
  "ProtectControlGroups=yes",
  "RestrictNamespaces=yes",
  "RestrictSUIDSGID=yes",
  "LockPersonality=yes",
  "MemoryDenyWriteExecute=yes",
  "SystemCallArchitectures=native",
  "CapabilityBoundingSet=",
  // AF_NETLINK: node_exporter reads network devices over rtnetlink.
  "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK",
];

function unit(what: string, binary: ExporterBinary, service: string[], after: string[]): string {
  // PartOf + After: stopping or restarting PgBouncer stops this exporter first. PgBouncer 1.23+
  // on SIGTERM waits for every client to leave, and the exporter's held connection is one.
  const partOf = after.map((a) => `PartOf=${a}\n`).join("");
  return (
    generatedHeader("#", what) +
    `[Unit]
Description=${what} (pg-pooling)
Documentation=${EXPORTER_RELEASES[binary].repo}
After=network-online.target ${SETUP_UNIT}${after.map((a) => " " + a).join("")}
Wants=network-online.target
Requires=${SETUP_UNIT}
${partOf}
[Service]
Type=simple
EnvironmentFile=${LISTEN_ENV}
${service.join("\n")}
Restart=on-failure
RestartSec=5s
${HARDENING.join("\n")}

[Install]
WantedBy=multi-user.target
`
  );
}

/** The exporters' files for one host of a cloud plan: units, scripts, the custom queries. */
export function exporterHostFiles(
  plan: Plan,
  host: HostPlan,
  upstreams: Upstreams,
  stack: string,
): ExporterHostFiles {
  const { pgbouncer: p } = plan.config;
  const files: ExporterFile[] = [
    { path: `${SYSTEMD_UNIT_DIR}/${SETUP_UNIT}`, mode: "0644", content: renderSetupUnit() },
    { path: SETUP_SCRIPT, mode: "0755", content: renderSetupScript(stack) },
    { path: INSTALL_SCRIPT, mode: "0755", content: renderInstallScript() },
  ];
  const units: string[] = [SETUP_UNIT];
  const addUnit = (
    name: string,
    what: string,
    binary: ExporterBinary,
    lines: string[],
    after: string[] = [],
  ) => {
    files.push({
      path: `${SYSTEMD_UNIT_DIR}/${name}`,
      mode: "0644",
      content: unit(what, binary, lines, after),
    });
    units.push(name);
  };
  const listen = (port: number) => `--web.listen-address=\${LISTEN_ADDRESS}:${port}`;
  const pgpass = [`LoadCredential=pgpass:${PGPASS_FILE}`, "Environment=PGPASSFILE=%d/pgpass"];

  // One per PgBouncer process, each on its own process's socket (so_reuseport would hand a TCP
  // login to any process), on the exporter port + k − 1.
  for (const k of processNumbers(host)) {
    const socket = `host=${productionLayout(k).unixSocketDir}&port=${p.port}`;
    addUnit(
      pgbouncerExporterUnit(k),
      `pgbouncer_exporter for ${host.name}${host.processes > 1 ? ` process ${k}` : ""}`,
      "pgbouncer_exporter",
      [
        ...pgpass,
        `Environment=PGBOUNCER_EXPORTER_CONNECTION_STRING=postgres:///pgbouncer?${socket}&user=${STATS_USER}&sslmode=disable`,
        `ExecStart=${BIN_DIR}/pgbouncer_exporter ${listen(pgbouncerExporterPort(k))}`,
      ],
      [unitName(k)],
    );
  }
  addUnit("pg-pooling-node-exporter.service", `node_exporter for ${host.name}`, "node_exporter", [
    `ExecStart=${BIN_DIR}/node_exporter ${listen(EXPORTERS.node.port)}`,
  ]);

  const placed = postgresExporterPlacement(plan).filter((x) => x.host === host.name);
  if (placed.length > 0) {
    files.push({ path: QUERIES_FILE, mode: "0644", content: postgresExporterQueries() });
  }
  const addresses = nodeAddresses(plan, upstreams);
  // The exporters reach RDS as PgBouncer does: same sslmode, same CA bundle (first boot fetches
  // it; systemd hands it over, so the DynamicUser needs no access to PgBouncer's folder).
  const ca = forcedSettings(plan, host, PRODUCTION_LAYOUT).server_tls_ca_file;
  const verify = typeof ca === "string";
  for (const x of placed) {
    const address = connstringValue(`upstreams.${x.node}`, addresses.get(x.node)!);
    const params = `sslmode=${p.tls.server}${verify ? "&sslrootcert=%d/server-ca.pem" : ""}`;
    addUnit(
      `pg-pooling-postgres-exporter-${x.node}.service`,
      `postgres_exporter for ${x.node} on ${host.name}`,
      "postgres_exporter",
      [
        ...pgpass,
        ...(verify ? [`LoadCredential=server-ca.pem:${ca}`] : []),
        `Environment=DATA_SOURCE_NAME=postgresql://${MONITORING_ROLE}@${address}:${upstreams.port}/${DEFAULTS.statementStats.database}?${params}`,
        `ExecStart=${BIN_DIR}/postgres_exporter ${listen(x.port)} --extend.query-path=${QUERIES_FILE}`,
      ],
    );
  }
  const commands = [
    INSTALL_SCRIPT,
    "systemctl daemon-reload",
    ["systemctl", "enable", "--now", ...units],
  ];
  return { files, units, commands };
}

function renderSetupUnit(): string {
  return (
    generatedHeader("#", SETUP_UNIT) +
    `[Unit]
Description=pg-pooling exporters: private address and credentials
After=network-online.target
Wants=network-online.target

[Service]
Type=oneshot
RemainAfterExit=yes
EnvironmentFile=${AGENT_ENV}
ExecStart=${SETUP_SCRIPT}

[Install]
WantedBy=multi-user.target
`
  );
}

/** Runs as root before any exporter: the address to bind, and the pgpass from Parameter Store. */
export function renderSetupScript(stack: string): string {
  const lines = [
    "set -eu",
    "umask 077",
    `install -d -m 0755 ${EXPORTER_DIR}`,
    // IMDSv2 only (the launch template requires tokens).
    "token=$(curl -fsS --retry 5 -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' http://169.254.169.254/latest/api/token)",
    'address=$(curl -fsS --retry 5 -H "X-aws-ec2-metadata-token: $token" http://169.254.169.254/latest/meta-data/local-ipv4)',
    `printf 'LISTEN_ADDRESS=%s\\n' "$address" > ${LISTEN_ENV}.new`,
    `chmod 0644 ${LISTEN_ENV}.new`,
    `mv -f ${LISTEN_ENV}.new ${LISTEN_ENV}`,
    `aws ssm get-parameter --region "$REGION" --name ${exporterPgpassParameter(stack)} --with-decryption --query Parameter.Value --output text > ${PGPASS_FILE}.new`,
    `mv -f ${PGPASS_FILE}.new ${PGPASS_FILE}`,
  ];
  return (
    "#!/bin/sh\n" + generatedHeader("#", "pg-pooling exporters setup") + lines.join("\n") + "\n"
  );
}
