import { PGBOUNCER_METRICS } from "./pgbouncer-columns.js";
import { serviceEntriesPattern, type Plan } from "../platform/plan.js";
import { replicaTolerance } from "../replicas/tolerance.js";
import { BREAKER_STATE_VALUE, METRIC_NAMES } from "../resilience/metrics.js";
import { ALERT_SHARES } from "./alert-model.js";
import { POSTGRES_METRICS } from "./catalogue.js";
import { q, RATE, stat, ts, type DashboardSpec } from "./dashboard-model.js";
import { TARGET_LABELS } from "./labels.js";

/**
 * What the four dashboards show, from the plan: entry, role and node names, and thresholds that
 * are the alert rules' (same shares, same plan numbers).
 */

const { host, node, service } = TARGET_LABELS;

/** The four dashboards of the pooling tier. Entry and role names come from the plan. */
export function dashboardSpecs(plan: Plan): DashboardSpec[] {
  const entries = plan.entries.map((e) => e.name).join("|");
  const roEntries = plan.entries
    .filter((e) => e.role === "ro")
    .map((e) => e.name)
    .join("|");
  const roles = plan.services.map((s) => s.name).join("|");
  const replicas = plan.budget
    .filter((b) => b.role === "replica")
    .map((b) => b.node)
    .join("|");
  const queryWait = plan.config.pgbouncer.timeouts.queryWaitSeconds;
  const lagTolerance = replicaTolerance(plan)?.seconds ?? Infinity;
  const pools = `database=~"${entries}"`;
  const services = plan.services.map((s) => s.name);
  // the service's rw entry and its entry on each replica, whatever the number of replicas
  const mine = `database=~"${serviceEntriesPattern("$service")}"`;
  const budgets = plan.budget.map((b) => `${b.node} ${b.usable}`).join(", ");
  const waitPanel = (by: string, selector: string) =>
    ts(
      "Longest client wait",
      "s",
      [
        q(
          `max by (${by}) (${PGBOUNCER_METRICS.clientMaxWait}{${selector}})`,
          `{{${by.split(", ").pop()}}}`,
        ),
      ],
      {
        thresholds: [
          [queryWait * ALERT_SHARES.maxWaitOfQueryWait, "orange"],
          [queryWait, "red"],
        ],
        description: `PgBouncer disconnects a client that waits query_wait_timeout (${queryWait}s).`,
      },
    );

  const fleet: DashboardSpec = {
    uid: "pgpooling-fleet",
    title: "Pooling tier: fleet overview",
    description: "Every PgBouncer host and Postgres node of the pooling tier.",
    variables: [],
    rows: [
      {
        title: "Health",
        panels: [
          stat("PgBouncer processes up", `sum(${PGBOUNCER_METRICS.up})`),
          stat("Postgres nodes up", "sum(pg_up)"),
          stat("Alerts firing", 'count(ALERTS{alertstate="firing"}) or vector(0)', {
            thresholds: [[1, "red"]],
          }),
        ],
      },
      {
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
      },
      {
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
            q(
              `sum by (${host}) (${PGBOUNCER_METRICS.serverActive}{${pools}})`,
              `{{${host}}} active`,
            ),
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
      },
      {
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
      },
    ],
  };

  const perService: DashboardSpec = {
    uid: "pgpooling-service-pools",
    title: "Pooling tier: service pools",
    description:
      "One service's rw and ro pools on every PgBouncer process, and its app-side queue.",
    variables: [{ name: "service", label: "Service", values: services, includeAll: false }],
    rows: [
      {
        title: "Pools of $service",
        panels: [
          ts("Active server connections and pool_size", "short", [
            q(
              `sum by (${host}, process, database) (${PGBOUNCER_METRICS.serverActive}{${mine}})`,
              "{{database}} {{host}}/{{process}}",
            ),
            q(
              `max by (name) (${PGBOUNCER_METRICS.poolSize}{name=~"${serviceEntriesPattern("$service")}"})`,
              "{{name}} pool_size",
            ),
          ]),
          ts("Clients active and waiting", "short", [
            q(
              `sum by (database) (${PGBOUNCER_METRICS.clientActive}{${mine}})`,
              "{{database}} active",
            ),
            q(
              `sum by (database) (${PGBOUNCER_METRICS.clientWaiting}{${mine}})`,
              "{{database}} waiting",
            ),
          ]),
          waitPanel("database", mine),
          ts("Transactions per second", "ops", [
            q(
              `sum by (database) (rate(${PGBOUNCER_METRICS.transactions}{${mine}}[${RATE}]))`,
              "{{database}}",
            ),
          ]),
        ],
      },
      {
        title: "App side of $service",
        panels: [
          ts("Callers queued for a connection", "short", [
            q(
              `sum by (target) (${METRIC_NAMES.bulkheadQueued}{${service}="$service"})`,
              "{{target}}",
            ),
          ]),
          ts("Calls rejected by the bulkhead per second", "ops", [
            q(
              `sum by (target) (rate(${METRIC_NAMES.bulkheadRejections}{${service}="$service"}[${RATE}]))`,
              "{{target}}",
            ),
          ]),
        ],
      },
    ],
  };

  const replicaDashboard: DashboardSpec = {
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

  const all = `${service}=~"$service"`;
  const resilience: DashboardSpec = {
    uid: "pgpooling-resilience",
    title: "Pooling tier: client resilience",
    description: "The resilience library in the services: retries, circuit breakers, fallbacks.",
    variables: [{ name: "service", label: "Service", values: services, includeAll: true }],
    rows: [
      {
        title: "Resilience",
        panels: [
          ts("Retries per second by class", "ops", [
            q(
              `sum by (${service}, class) (rate(${METRIC_NAMES.retries}{${all}}[${RATE}]))`,
              `{{${service}}} {{class}}`,
            ),
          ]),
          ts(
            "Circuit breaker state",
            "none",
            [
              q(
                `max by (${service}, target) (${METRIC_NAMES.breakerState}{${all}})`,
                `{{${service}}} {{target}}`,
              ),
            ],
            {
              valueText: Object.fromEntries(
                Object.entries(BREAKER_STATE_VALUE).map(([k, v]) => [String(v), k]),
              ),
              thresholds: [[BREAKER_STATE_VALUE.open, "red"]],
            },
          ),
          ts("Fallbacks per second", "ops", [
            q(
              `sum by (${service}, operation) (rate(${METRIC_NAMES.fallbacks}{${all}}[${RATE}]))`,
              `{{${service}}} {{operation}}`,
            ),
          ]),
          ts("Statement attempts per second by outcome", "ops", [
            q(
              `sum by (${service}, outcome) (rate(${METRIC_NAMES.attempts}{${all}}[${RATE}]))`,
              `{{${service}}} {{outcome}}`,
            ),
          ]),
        ],
      },
    ],
  };
  return [fleet, perService, replicaDashboard, resilience];
}
