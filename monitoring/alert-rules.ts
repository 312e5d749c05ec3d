import { PGBOUNCER_METRICS } from "./pgbouncer-columns.js";
import { EXPORTERS } from "../platform/exporters.js";
import type { Plan, ServicePlan } from "../platform/plan.js";
import type { PoolEntry } from "../platform/pool-entry.js";
import { replicaTolerance } from "../replicas/tolerance.js";
import { BREAKER_STATE_VALUE, METRIC_NAMES } from "../resilience/metrics.js";
import {
  ALERT_SHARES,
  anyOf,
  host,
  node,
  proc,
  promValue,
  round,
  service,
  spec,
  type AlertName,
  type AlertProbe,
  type AlertRuleSpec,
} from "./alert-model.js";
import { POSTGRES_METRICS } from "./catalogue.js";
import { SCRAPE_JOBS } from "./labels.js";
import { NODE_JOB } from "./scrape.js";

/** The rules, by what they watch. Thresholds are plan numbers times ALERT_SHARES. */

const pgbouncerTarget = { [host]: "pgbouncer-1", [proc]: "1" };

/** Every entry's saturation, and every service's waiting clients, against the plan's sizes. */
export function poolRules(plan: Plan): AlertRuleSpec[] {
  const queryWait = plan.config.pgbouncer.timeouts.queryWaitSeconds;
  return [
    ...plan.entries.map(saturationRule),
    ...plan.services.flatMap((s) => waitRules(s, queryWait)),
  ];
}

/** An entry's pool nearly all active: its clients will soon wait. */
function saturationRule(e: PoolEntry): AlertRuleSpec {
  const db = promValue(`entries.${e.name}`, e.name);
  const active = Math.ceil(e.poolSize * ALERT_SHARES.poolSaturation);
  return spec(
    "PgBouncerPoolSaturated",
    "warning",
    "pgpooling-pgbouncer",
    `sum by (${host}, ${proc}, database) (${PGBOUNCER_METRICS.serverActive}{database="${db}"}) / ${e.poolSize} >= ${ALERT_SHARES.poolSaturation}`,
    {
      summary: `Pool ${db} is saturated on {{ $labels.${host} }} process {{ $labels.${proc} }}`,
      description: `${db} has at least ${ALERT_SHARES.poolSaturation * 100}% of its pool_size ${e.poolSize} server connections active (reserve ${e.reservePoolSize} opens after reserve_pool_timeout); clients will soon wait.`,
    },
    {
      metric: PGBOUNCER_METRICS.serverActive,
      labels: { ...pgbouncerTarget, database: db, user: e.service },
      fire: active,
      quiet: active - 1,
      alertLabels: { ...pgbouncerTarget, database: db },
    },
    { service: e.service, entry: db },
  );
}

/** A service's clients waiting, and waiting close to query_wait_timeout. */
function waitRules(s: ServicePlan, queryWait: number): AlertRuleSpec[] {
  const maxWait = round(queryWait * ALERT_SHARES.maxWaitOfQueryWait);
  const dbs = anyOf(
    `services.${s.name}`,
    s.entries.map((e) => e.name),
  );
  const series = { ...pgbouncerTarget, database: s.name, user: s.name };
  const alertLabels = { ...pgbouncerTarget, database: s.name };
  return [
    spec(
      "PgBouncerClientsWaiting",
      "warning",
      "pgpooling-pgbouncer",
      `sum by (${host}, ${proc}, database) (${PGBOUNCER_METRICS.clientWaiting}{database=~"${dbs}"}) > 0`,
      {
        summary: `Clients of ${s.name} wait for a server connection on {{ $labels.${host} }} process {{ $labels.${proc} }}`,
        description: `Clients of {{ $labels.database }} have been waiting for a server connection for the whole hold time; at ${queryWait}s (query_wait_timeout) PgBouncer disconnects them.`,
      },
      {
        metric: PGBOUNCER_METRICS.clientWaiting,
        labels: series,
        fire: 1,
        quiet: 0,
        alertLabels,
      },
      { service: s.name },
    ),
    spec(
      "PgBouncerMaxWaitHigh",
      "critical",
      "pgpooling-pgbouncer",
      `max by (${host}, ${proc}, database) (${PGBOUNCER_METRICS.clientMaxWait}{database=~"${dbs}"}) >= ${maxWait}`,
      {
        summary: `Clients of ${s.name} wait ${maxWait}s or more on {{ $labels.${host} }} process {{ $labels.${proc} }}`,
        description: `The oldest waiting client of {{ $labels.database }} has waited at least ${ALERT_SHARES.maxWaitOfQueryWait * 100}% of query_wait_timeout (${queryWait}s); clients are about to be disconnected.`,
      },
      {
        metric: PGBOUNCER_METRICS.clientMaxWait,
        labels: series,
        fire: Math.ceil(maxWait),
        quiet: Math.ceil(maxWait) - 1,
        alertLabels,
      },
      { service: s.name },
    ),
  ];
}

export function hostRules(plan: Plan): AlertRuleSpec[] {
  return plan.hosts.map((h) => {
    const name = promValue(`hosts.${h.index}`, h.name);
    const used = Math.ceil(h.maxClientConn * ALERT_SHARES.clientConnections);
    const target = { [host]: name, [proc]: "1" };
    return spec(
      "PgBouncerClientConnectionsHigh",
      "warning",
      "pgpooling-pgbouncer",
      `max by (${host}, ${proc}) (${PGBOUNCER_METRICS.usedClients}{${host}="${name}"}) / ${h.maxClientConn} >= ${ALERT_SHARES.clientConnections}`,
      {
        summary: `${name} process {{ $labels.${proc} }} is near max_client_conn`,
        description: `${name} holds at least ${ALERT_SHARES.clientConnections * 100}% of its max_client_conn ${h.maxClientConn} client connections (${h.clientsAtPeak} are planned at peak with one host lost); new clients will be refused.`,
      },
      {
        metric: PGBOUNCER_METRICS.usedClients,
        labels: target,
        fire: used,
        quiet: used - 1,
        alertLabels: target,
      },
      // The series carry it too; as a rule label it keeps the per-host rules apart.
      { [host]: name },
    );
  });
}

export function postgresRules(plan: Plan): AlertRuleSpec[] {
  const roles = anyOf(
    "services",
    plan.services.map((s) => s.name),
  );
  const budget = plan.budget.map((b) => {
    const nodeName = promValue(`budget.${b.node}`, b.node);
    const used = Math.ceil(b.usable * ALERT_SHARES.connectionBudget);
    return spec(
      "PostgresConnectionBudgetHigh",
      "warning",
      "pgpooling-postgres",
      `sum by (${node}) (${POSTGRES_METRICS.roleConnections}{${node}="${nodeName}", usename=~"${roles}"}) / ${b.usable} >= ${ALERT_SHARES.connectionBudget}`,
      {
        summary: `The services' connections on ${nodeName} near its budget`,
        description: `The services' roles hold at least ${ALERT_SHARES.connectionBudget * 100}% of the ${b.usable} connections ${nodeName} can give them (the plan's pools may open ${b.required}); beyond it admin and exporter connections are refused.`,
      },
      {
        metric: POSTGRES_METRICS.roleConnections,
        labels: { [node]: nodeName, usename: plan.services[0]!.name },
        fire: used,
        quiet: used - 1,
        alertLabels: { [node]: nodeName },
      },
      { [node]: nodeName },
    );
  });
  const tolerance = replicaTolerance(plan);
  if (!tolerance) return budget;
  const { seconds, strictest, replicas } = tolerance;
  const lag = spec(
    "PostgresReplicaLagHigh",
    "warning",
    "pgpooling-postgres",
    `max by (${node}) (${POSTGRES_METRICS.replicationLag}{${node}=~"${anyOf("replicas", replicas)}"}) > ${seconds}`,
    {
      summary: `Replica {{ $labels.${node} }} lags more than ${seconds}s`,
      description: `{{ $labels.${node} }} is behind the primary by more than ${seconds}s, the smallest lag tolerance of the services reading from replicas (${strictest.join(", ")}); their reads fall back to the primary.`,
    },
    {
      metric: POSTGRES_METRICS.replicationLag,
      labels: { [node]: replicas[0]! },
      fire: seconds + 1,
      quiet: seconds,
      alertLabels: { [node]: replicas[0]! },
    },
  );
  return [...budget, lag];
}

/**
 * The jobs ExporterDown watches: the exporters of the pooling tier. The services' job is left out:
 * on the local stack its slots are scraped whether or not a load run serves them (`up` is 0
 * between runs). The local stack has no node target: `up{job="node"}` has no series there, so
 * that job adds nothing to the rule locally.
 */
export const EXPORTER_JOBS = [SCRAPE_JOBS.pgbouncer, SCRAPE_JOBS.postgres, NODE_JOB] as const;

/** A down target of each exporter job, labelled as the scrape config labels it. */
function exporterDownProbes(): AlertProbe[] {
  const target = (job: string, port: number, labels: Record<string, string>) => {
    const series = { job, instance: `pgbouncer-1:${port}`, ...labels };
    return { metric: "up", labels: series, fire: 0, quiet: 1, alertLabels: series };
  };
  return [
    target(SCRAPE_JOBS.pgbouncer, EXPORTERS.pgbouncer.port, pgbouncerTarget),
    target(SCRAPE_JOBS.postgres, EXPORTERS.postgres.port, { [node]: "primary" }),
    target(NODE_JOB, EXPORTERS.node.port, { [host]: "pgbouncer-1" }),
  ];
}

/**
 * Probes beyond a rule's own, for rules that select several kinds of series: the promtool tests
 * (alert-tests.ts) make each fire, so dropping a job from ExporterDown's selector fails a test.
 */
export const EXTRA_PROBES: Partial<Record<AlertName, readonly AlertProbe[]>> = {
  ExporterDown: exporterDownProbes().slice(1),
};

export function availabilityRules(): AlertRuleSpec[] {
  return [
    spec(
      "ExporterDown",
      "warning",
      "pgpooling-availability",
      `max by (job, instance, ${host}, ${proc}, ${node}) (up{job=~"${EXPORTER_JOBS.join("|")}"}) == 0`,
      {
        summary: `Exporter {{ $labels.instance }} ({{ $labels.job }}) cannot be scraped`,
        description: `Prometheus cannot scrape {{ $labels.instance }}; its metrics, and the alerts that read them, are missing until it is back.`,
      },
      exporterDownProbes()[0]!,
    ),
    spec(
      "PgBouncerDown",
      "critical",
      "pgpooling-availability",
      `max by (${host}, ${proc}) (${PGBOUNCER_METRICS.up}) == 0`,
      {
        summary: `PgBouncer on {{ $labels.${host} }} process {{ $labels.${proc} }} does not answer`,
        description: `The exporter is up but cannot reach PgBouncer's admin console on {{ $labels.${host} }}; clients of this process are failing over to the other hosts.`,
      },
      {
        metric: PGBOUNCER_METRICS.up,
        labels: pgbouncerTarget,
        fire: 0,
        quiet: 1,
        alertLabels: pgbouncerTarget,
      },
    ),
    spec(
      "PostgresDown",
      "critical",
      "pgpooling-availability",
      `max by (${node}) (pg_up) == 0`,
      {
        summary: `Postgres {{ $labels.${node} }} does not answer`,
        description: `postgres_exporter is up but cannot connect to {{ $labels.${node} }}.`,
      },
      {
        metric: "pg_up",
        labels: { [node]: "primary" },
        fire: 0,
        quiet: 1,
        alertLabels: { [node]: "primary" },
      },
    ),
    spec(
      "ClientBreakerOpen",
      "critical",
      "pgpooling-clients",
      `max by (${service}, target) (${METRIC_NAMES.breakerState}) >= ${BREAKER_STATE_VALUE.open}`,
      {
        summary: `{{ $labels.${service} }}'s circuit breaker to {{ $labels.target }} is not closed`,
        description: `{{ $labels.${service} }} has stopped sending statements to {{ $labels.target }} (breaker open or half-open) for the whole hold time; its calls fail fast or use fallbacks.`,
      },
      {
        metric: METRIC_NAMES.breakerState,
        labels: { [service]: "orders", target: "primary" },
        fire: BREAKER_STATE_VALUE.open,
        quiet: BREAKER_STATE_VALUE.closed,
        alertLabels: { [service]: "orders", target: "primary" },
      },
    ),
  ];
}
