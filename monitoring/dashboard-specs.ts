import { PGBOUNCER_METRICS } from "./pgbouncer-columns.js";
import type { Plan } from "../platform/plan.js";
import { METRIC_NAMES } from "../resilience/metrics.js";
import { ALERT_SHARES } from "./alert-model.js";
import { POSTGRES_METRICS } from "./catalogue.js";
import { dashboardContext, type DashboardContext } from "./dashboard-context.js";
import { resilienceDashboard, servicePoolsDashboard } from "./dashboard-services.js";
import { q, RATE, stat, ts, type DashboardSpec, type RowSpec } from "./dashboard-model.js";
import { TARGET_LABELS } from "./labels.js";

/**
 * What the four dashboards show, from the plan: entry, role and node names, and thresholds that
 * are the alert rules' (same shares, same plan numbers).
 */

const { host, node, service } = TARGET_LABELS;

/** The four dashboards of the pooling tier. Entry and role names come from the plan. */
export function dashboardSpecs(plan: Plan): DashboardSpec[] {
  const c = dashboardContext(plan);
  return [
    fleetDashboard(c),
    servicePoolsDashboard(c),
    replicasDashboard(c),
    resilienceDashboard(c),
  ];
}

/** Every host and node of the tier. */
function fleetDashboard(c: DashboardContext): DashboardSpec {
  return {
    uid: "pgpooling-fleet",
    title: "Pooling tier: fleet overview",
    description: "Every PgBouncer host and Postgres node of the pooling tier.",
    variables: [],
    rows: [healthRow(c), poolsRow(c), connectionsRow(c), throughputRow(c)],
  };
}

/** Is everything up, is anything firing. */
function healthRow(_: DashboardContext): RowSpec {
  return {
    title: "Health",
    panels: [
      stat("PgBouncer processes up", `sum(${PGBOUNCER_METRICS.up})`),
      stat("Postgres nodes up", "sum(pg_up)"),
      stat("Alerts firing", 'count(ALERTS{alertstate="firing"}) or vector(0)', {
        thresholds: [[1, "red"]],
      }),
    ],
  };
}

/** How full the pools are and how long clients wait for them. */
function poolsRow({ entries, pools, waitPanel }: DashboardContext): RowSpec {
  return {
    title: "Pools",
    panels: [
      ts(
        "Server pool utilization by host",
        "percentunit",
        [
          q(
            `sum by (${host}) (${PGBOUNCER_METRICS.serverActive}{${pools}}) / sum by (${host}) (${PGBOUNCER_METRICS.poolSize}{name=~"${entries}"})`,
            `{{${host}}}`,
          ),
        ],
        { thresholds: [[ALERT_SHARES.poolSaturation, "orange"]] },
      ),
      ts("Clients waiting by host", "short", [
        q(`sum by (${host}) (${PGBOUNCER_METRICS.clientWaiting}{${pools}})`, `{{${host}}}`),
      ]),
      waitPanel(host, pools),
      ts("Client wait per transaction by host", "s", [
        q(
          `sum by (${host}) (rate(${PGBOUNCER_METRICS.clientWaitSeconds}{${pools}}[${RATE}])) / sum by (${host}) (rate(${PGBOUNCER_METRICS.transactions}{${pools}}[${RATE}]))`,
          `{{${host}}}`,
        ),
      ]),
    ],
  };
}

/** Client and server connections against their limits. */
function connectionsRow({ pools, roles, budgets }: DashboardContext): RowSpec {
  return {
    title: "Connections",
    panels: [
      ts("Client connections by host", "short", [
        q(`sum by (${host}) (${PGBOUNCER_METRICS.usedClients})`, `{{${host}}} in use`),
        q(
          `sum by (${host}) (${PGBOUNCER_METRICS.maxClientConnections})`,
          `{{${host}}} max_client_conn`,
        ),
      ]),
      ts("Server connections by host", "short", [
        q(`sum by (${host}) (${PGBOUNCER_METRICS.serverActive}{${pools}})`, `{{${host}}} active`),
        q(`sum by (${host}) (${PGBOUNCER_METRICS.serverIdle}{${pools}})`, `{{${host}}} idle`),
      ]),
      ts(
        "Services' connections per Postgres node",
        "short",
        [
          q(
            `sum by (${node}) (${POSTGRES_METRICS.roleConnections}{usename=~"${roles}"})`,
            `{{${node}}}`,
          ),
        ],
        { description: `Usable budget per node: ${budgets}.` },
      ),
    ],
  };
}

/** What the tier carries, and what fails. */
function throughputRow({ pools }: DashboardContext): RowSpec {
  return {
    title: "Throughput and errors",
    panels: [
      ts("Transactions per second by host", "ops", [
        q(
          `sum by (${host}) (rate(${PGBOUNCER_METRICS.transactions}{${pools}}[${RATE}]))`,
          `{{${host}}}`,
        ),
      ]),
      ts("Failed statement attempts per second by service", "ops", [
        q(
          `sum by (${service}) (rate(${METRIC_NAMES.attempts}{outcome!="ok"}[${RATE}]))`,
          `{{${service}}}`,
        ),
      ]),
    ],
  };
}

/** Replica lag, and where reads go. */
function replicasDashboard({
  roEntries,
  replicas,
  lagTolerance,
  pools,
  services,
}: DashboardContext): DashboardSpec {
  return {
    uid: "pgpooling-replicas",
    title: "Pooling tier: replicas",
    description: "Replica lag on the nodes and as the services see it, and where reads go.",
    variables: [],
    rows: [
      {
        title: "Lag",
        panels: [
          ts(
            "Replica lag",
            "s",
            [
              q(
                `max by (${node}) (${POSTGRES_METRICS.replicationLag}{${node}=~"${replicas}"})`,
                `{{${node}}}`,
              ),
            ],
            {
              ...(Number.isFinite(lagTolerance) ? { thresholds: [[lagTolerance, "red"]] } : {}),
              description:
                "Red above the smallest lag tolerance of the services that read from replicas.",
            },
          ),
          ts("Replica lag seen by the services", "s", [
            q(
              `max by (${service}, target) (${METRIC_NAMES.replicaLag})`,
              `{{${service}}} {{target}}`,
            ),
          ]),
        ],
      },
      {
        title: "Reads",
        panels: [
          ts("Reads routed per second", "ops", [
            q(
              `sum by (${service}, target) (rate(${METRIC_NAMES.reads}[${RATE}]))`,
              `{{${service}}} → {{target}}`,
            ),
          ]),
          ts("Active server connections of the ro pools", "short", [
            q(
              `sum by (database) (${PGBOUNCER_METRICS.serverActive}{database=~"${roEntries}"})`,
              "{{database}}",
            ),
          ]),
        ],
      },
    ],
  };
}
