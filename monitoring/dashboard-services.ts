import { BREAKER_STATE_VALUE, METRIC_NAMES } from "../resilience/metrics.js";
import { serviceEntriesPattern } from "../platform/plan.js";
import type { DashboardContext } from "./dashboard-context.js";
import { q, RATE, ts, type DashboardSpec } from "./dashboard-model.js";
import { TARGET_LABELS } from "./labels.js";
import { PGBOUNCER_METRICS } from "./pgbouncer-columns.js";

const { host, service } = TARGET_LABELS;

/** One service's pools on every host. */
export function servicePoolsDashboard({
  pools,
  services,
  mine,
  waitPanel,
}: DashboardContext): DashboardSpec {
  return {
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
}

/** The resilience library in the services, per service. */
export function resilienceDashboard({ services }: DashboardContext): DashboardSpec {
  const all = `${service}=~"$service"`;
  return {
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
}
