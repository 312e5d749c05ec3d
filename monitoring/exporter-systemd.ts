import { stackParameterRoot, AGENT_ENV } from "../pgbouncer/agent.js";
import { generatedHeader } from "../pgbouncer/header.js";
import { EXPORTER_RELEASES } from "./catalogue.js";
import type { ExporterBinary } from "./exporter-install.js";

/**
 * Where a cloud host keeps its exporters' settings, and the systemd units and setup script that
 * run them (exporter-units.ts decides which units a host gets).
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

export function exporterUnit(
  what: string,
  binary: ExporterBinary,
  service: string[],
  after: string[],
): string {
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

export function renderSetupUnit(): string {
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
