import { DEFAULTS } from "../platform/defaults.js";
import { EXPORTERS, pgbouncerExporterPort } from "../platform/exporters.js";
import type { HostPlan, Plan } from "../platform/plan.js";
import { MONITORING_ROLE } from "../platform/roles.js";
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
import { postgresExporterQueries } from "./catalogue.js";
import { BIN_DIR, renderInstallScript, type ExporterBinary } from "./exporter-install.js";
import {
  exporterUnit,
  INSTALL_SCRIPT,
  PGPASS_FILE,
  QUERIES_FILE,
  renderSetupScript,
  renderSetupUnit,
  SETUP_SCRIPT,
  SETUP_UNIT,
} from "./exporter-systemd.js";

export {
  EXPORTER_DIR,
  exporterPgpassParameter,
  INSTALL_SCRIPT,
  LISTEN_ENV,
  PGPASS_FILE,
  QUERIES_FILE,
  SETUP_SCRIPT,
  SETUP_UNIT,
} from "./exporter-systemd.js";

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

/** One exporter's systemd unit: its name, what it exports, its binary and its [Service] lines. */
interface ExporterUnitSpec {
  name: string;
  what: string;
  binary: ExporterBinary;
  lines: string[];
  /** Units it runs after and stops with (PartOf). */
  after?: string[];
}

const listen = (port: number) => `--web.listen-address=\${LISTEN_ADDRESS}:${port}`;
const PGPASS = [`LoadCredential=pgpass:${PGPASS_FILE}`, "Environment=PGPASSFILE=%d/pgpass"];

/** The exporters' files for one host of a cloud plan: units, scripts, the custom queries. */
export function exporterHostFiles(
  plan: Plan,
  host: HostPlan,
  upstreams: Upstreams,
  stack: string,
): ExporterHostFiles {
  const placed = postgresExporterPlacement(plan).filter((x) => x.host === host.name);
  const hostWide: ExporterUnitSpec[] = [
    ...pgbouncerExporters(plan, host),
    {
      name: "pg-pooling-node-exporter.service",
      what: `node_exporter for ${host.name}`,
      binary: "node_exporter",
      lines: [`ExecStart=${BIN_DIR}/node_exporter ${listen(EXPORTERS.node.port)}`],
    },
  ];
  const nodes = postgresExporters(plan, host, upstreams, placed);
  const unitFile = (u: ExporterUnitSpec): ExporterFile => ({
    path: `${SYSTEMD_UNIT_DIR}/${u.name}`,
    mode: "0644",
    content: exporterUnit(u.what, u.binary, u.lines, u.after ?? []),
  });
  // Order as the first boot writes them: setup, host-wide units, the queries, the nodes' units.
  const files: ExporterFile[] = [
    { path: `${SYSTEMD_UNIT_DIR}/${SETUP_UNIT}`, mode: "0644", content: renderSetupUnit() },
    { path: SETUP_SCRIPT, mode: "0755", content: renderSetupScript(stack) },
    { path: INSTALL_SCRIPT, mode: "0755", content: renderInstallScript() },
    ...hostWide.map(unitFile),
    ...(placed.length > 0
      ? [{ path: QUERIES_FILE, mode: "0644", content: postgresExporterQueries() }]
      : []),
    ...nodes.map(unitFile),
  ];
  const specs = [...hostWide, ...nodes];
  const units = [SETUP_UNIT, ...specs.map((u) => u.name)];
  const commands = [
    INSTALL_SCRIPT,
    "systemctl daemon-reload",
    ["systemctl", "enable", "--now", ...units],
  ];
  return { files, units, commands };
}

/**
 * One per PgBouncer process, each on its own process's socket (so_reuseport would hand a TCP
 * login to any process), on the exporter port + k − 1.
 */
function pgbouncerExporters(plan: Plan, host: HostPlan): ExporterUnitSpec[] {
  return processNumbers(host).map((k) => {
    const socket = `host=${productionLayout(k).unixSocketDir}&port=${plan.config.pgbouncer.port}`;
    return {
      name: pgbouncerExporterUnit(k),
      what: `pgbouncer_exporter for ${host.name}${host.processes > 1 ? ` process ${k}` : ""}`,
      binary: "pgbouncer_exporter",
      lines: [
        ...PGPASS,
        `Environment=PGBOUNCER_EXPORTER_CONNECTION_STRING=postgres:///pgbouncer?${socket}&user=${STATS_USER}&sslmode=disable`,
        `ExecStart=${BIN_DIR}/pgbouncer_exporter ${listen(pgbouncerExporterPort(k))}`,
      ],
      after: [unitName(k)],
    };
  });
}

/**
 * The postgres_exporters placed on this host. They reach RDS as PgBouncer does: same sslmode,
 * same CA bundle (first boot fetches it; systemd hands it over, so the DynamicUser needs no
 * access to PgBouncer's folder).
 */
function postgresExporters(
  plan: Plan,
  host: HostPlan,
  upstreams: Upstreams,
  placed: readonly PostgresExporterPlacement[],
): ExporterUnitSpec[] {
  const addresses = nodeAddresses(plan, upstreams);
  const ca = forcedSettings(plan, host, PRODUCTION_LAYOUT).server_tls_ca_file;
  const verify = typeof ca === "string";
  const params = `sslmode=${plan.config.pgbouncer.tls.server}${verify ? "&sslrootcert=%d/server-ca.pem" : ""}`;
  return placed.map((x) => {
    const address = connstringValue(`upstreams.${x.node}`, addresses.get(x.node)!);
    return {
      name: `pg-pooling-postgres-exporter-${x.node}.service`,
      what: `postgres_exporter for ${x.node} on ${host.name}`,
      binary: "postgres_exporter",
      lines: [
        ...PGPASS,
        ...(verify ? [`LoadCredential=server-ca.pem:${ca}`] : []),
        `Environment=DATA_SOURCE_NAME=postgresql://${MONITORING_ROLE}@${address}:${upstreams.port}/${DEFAULTS.statementStats.database}?${params}`,
        `ExecStart=${BIN_DIR}/postgres_exporter ${listen(x.port)} --extend.query-path=${QUERIES_FILE}`,
      ],
    };
  });
}
