import { stringify } from "yaml";
import { EXPORTERS, pgbouncerExporterPort } from "../platform/exporters.js";
import type { Plan } from "../platform/plan.js";
import { generatedHeader } from "../pgbouncer/header.js";
import { processNumbers } from "../pgbouncer/layout.js";
import { RenderError } from "../pgbouncer/sanitize.js";
import { hostExporterPorts, postgresExporterPlacement } from "./exporter-units.js";
import { SCRAPE_JOBS, TARGET_LABELS } from "./labels.js";

/**
 * Prometheus scrape jobs from the plan and the addresses of the targets. The targets are a
 * parameter: the cloud passes the PgBouncer hosts' private addresses (cloudScrapeTargets), the
 * local stack its loopback addresses. Every target carries the labels of labels.ts, so the alert
 * rules and dashboards see the same series wherever they run.
 */

/**
 * node_exporter's job. Not in labels.ts's SCRAPE_JOBS: those pair each job with the target labels
 * of the catalogued metrics it serves (promql.ts), and no catalogued metric comes from this job.
 * ExporterDown selects on it through `up`.
 */
export const NODE_JOB = "node";

export interface ScrapeTargets {
  /** One per PgBouncer process: `host` is the plan's host name, `process` counts from 1. */
  pgbouncer: readonly { host: string; process: number; address: string }[];
  /** One per Postgres node of the plan (`primary`, `replica1`, …). */
  postgres: readonly { node: string; address: string }[];
  /** One per PgBouncer host. */
  node: readonly { host: string; address: string }[];
  /**
   * The services' resilience metrics at fixed addresses. Empty in Kubernetes, where a PodMonitor
   * finds them (servicesPodMonitorSpec): no job is written then.
   */
  services: readonly { service: string; address: string }[];
}

export interface StaticConfig {
  targets: string[];
  labels: Record<string, string>;
}

export interface ScrapeJob {
  job_name: string;
  scrape_interval: string;
  scrape_timeout: string;
  metrics_path: string;
  static_configs?: StaticConfig[];
}

/** `host:port`, nothing that could open another YAML key or target. */
function address(field: string, value: string): string {
  if (!/^[A-Za-z0-9.-]+:[0-9]{1,5}$/.test(value)) {
    throw new RenderError(field, value, "must be host:port (letters, digits, . and -)");
  }
  return value;
}

/** A label value: one line, no control characters. */
function labelValue(field: string, value: string): string {
  if (!/^[A-Za-z0-9._-]+$/.test(value)) {
    throw new RenderError(field, value, "must contain only letters, digits and . _ -");
  }
  return value;
}

export function scrapeJobs(plan: Plan, targets: ScrapeTargets): ScrapeJob[] {
  const interval = plan.config.monitoring.scrapeIntervalSeconds;
  // A scrape must end before the next starts; 10s is Prometheus's own default ceiling.
  const base = {
    scrape_interval: `${interval}s`,
    scrape_timeout: `${Math.min(interval, 10)}s`,
    metrics_path: "/metrics",
  };
  const single = (field: string, addr: string, labels: Record<string, string>): StaticConfig => ({
    targets: [address(`${field}.address`, addr)],
    labels: Object.fromEntries(
      Object.entries(labels).map(([k, v]) => [k, labelValue(`${field}.${k}`, v)]),
    ),
  });
  const nodes = new Set(plan.budget.map((b) => b.node));
  for (const [i, t] of targets.postgres.entries()) {
    if (!nodes.has(t.node)) {
      throw new RenderError(
        `targets.postgres[${i}].node`,
        t.node,
        `must be one of ${[...nodes].join(", ")}`,
      );
    }
  }
  const jobs: ScrapeJob[] = [
    {
      job_name: SCRAPE_JOBS.pgbouncer,
      ...base,
      static_configs: targets.pgbouncer.map((t, i) =>
        single(`targets.pgbouncer[${i}]`, t.address, {
          [TARGET_LABELS.host]: t.host,
          [TARGET_LABELS.process]: String(t.process),
        }),
      ),
    },
    {
      job_name: SCRAPE_JOBS.postgres,
      ...base,
      static_configs: targets.postgres.map((t, i) =>
        single(`targets.postgres[${i}]`, t.address, { [TARGET_LABELS.node]: t.node }),
      ),
    },
    {
      job_name: NODE_JOB,
      ...base,
      static_configs: targets.node.map((t, i) =>
        single(`targets.node[${i}]`, t.address, { [TARGET_LABELS.host]: t.host }),
      ),
    },
  ];
  // In Kubernetes the services are found by a PodMonitor instead (servicesPodMonitorSpec).
  if (targets.services.length > 0) {
    jobs.push({
      job_name: SCRAPE_JOBS.services,
      ...base,
      static_configs: targets.services.map((t, i) => ({
        targets: [address(`targets.services[${i}].address`, t.address)],
        labels: {},
      })),
    });
  }
  return jobs;
}

/**
 * The services' pods in Kubernetes, as a PodMonitor spec (monitoring.coreos.com/v1): pods labelled
 * `app.kubernetes.io/name` = a service of the plan, container port named `metrics`. The job label
 * is forced to the services' job, so the alert rules select the same series as on the local stack.
 * The library labels its own series with `service`.
 */
export function servicesPodMonitorSpec(plan: Plan): Record<string, unknown> {
  const interval = plan.config.monitoring.scrapeIntervalSeconds;
  return {
    selector: {
      matchExpressions: [
        {
          key: "app.kubernetes.io/name",
          operator: "In",
          values: plan.services.map((s) => s.name),
        },
      ],
    },
    namespaceSelector: { any: true },
    podMetricsEndpoints: [
      {
        port: "metrics",
        path: "/metrics",
        interval: `${interval}s`,
        relabelings: [{ targetLabel: "job", replacement: SCRAPE_JOBS.services, action: "replace" }],
      },
    ],
  };
}

/**
 * The targets of a cloud stack: each PgBouncer host's private address (plan order) serves its
 * pgbouncer_exporter and node_exporter, and the postgres_exporters where exporter-units.ts put
 * them. The services are left to the PodMonitor.
 */
export function cloudScrapeTargets(plan: Plan, hostAddresses: readonly string[]): ScrapeTargets {
  if (hostAddresses.length !== plan.hosts.length) {
    throw new RenderError(
      "hostAddresses",
      hostAddresses.join(","),
      `must hold one address per PgBouncer host (${plan.hosts.length})`,
    );
  }
  const ip = new Map(plan.hosts.map((h, i) => [h.name, hostAddresses[i]!]));
  return {
    pgbouncer: plan.hosts.flatMap((h) =>
      processNumbers(h).map((k) => ({
        host: h.name,
        process: k,
        address: `${ip.get(h.name)}:${pgbouncerExporterPort(k)}`,
      })),
    ),
    postgres: postgresExporterPlacement(plan).map((p) => ({
      node: p.node,
      address: `${ip.get(p.host)}:${p.port}`,
    })),
    node: plan.hosts.map((h) => ({
      host: h.name,
      address: `${ip.get(h.name)}:${EXPORTERS.node.port}`,
    })),
    services: [],
  };
}

/** One security-group ingress rule: Prometheus's range `cidr` admitted to `port` over TCP. */
export interface ScrapeIngress {
  cidr: string;
  port: number;
}

/**
 * What the PgBouncer hosts' security group must admit for the cloud scrape jobs above to reach
 * their targets: every exporter port of the hosts (exporter-units.ts) from every range of
 * `monitoring.scrapeFrom`, nothing else. By range, then port.
 */
export function scrapeIngress(plan: Plan): ScrapeIngress[] {
  const ports = hostExporterPorts(plan);
  return plan.config.monitoring.scrapeFrom.flatMap((cidr) => ports.map((port) => ({ cidr, port })));
}

/** The jobs as a YAML list: kube-prometheus-stack's `additionalScrapeConfigs` format. */
export function renderScrapeConfigs(jobs: readonly ScrapeJob[]): string {
  return (
    generatedHeader("#", "pg-pooling scrape configs (additionalScrapeConfigs)") +
    stringify(jobs, { lineWidth: 0 })
  );
}

/** A whole prometheus.yml: the jobs, the rule files, the plan's interval. */
export function renderPrometheusConfig(
  plan: Plan,
  jobs: readonly ScrapeJob[],
  ruleFiles: readonly string[],
): string {
  const interval = `${plan.config.monitoring.scrapeIntervalSeconds}s`;
  const doc = {
    global: { scrape_interval: interval, evaluation_interval: interval },
    rule_files: [...ruleFiles],
    scrape_configs: jobs,
  };
  return generatedHeader("#", "prometheus.yml") + stringify(doc, { lineWidth: 0 });
}
