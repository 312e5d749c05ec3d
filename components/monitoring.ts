import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { alertRuleGroups } from "../monitoring/alerts.js";
import { dashboards } from "../monitoring/dashboards.js";
import {
  cloudScrapeTargets,
  renderScrapeConfigs,
  scrapeJobs,
  servicesPodMonitorSpec,
} from "../monitoring/scrape.js";
import type { Plan } from "../platform/plan.js";
import type { Parent } from "./steps.js";

/** The monitoring of a cloud stack in the cluster that runs the Prometheus operator and Grafana. */
export interface MonitoringArgs {
  /** The plan: rules, dashboards, interval and the monitoring settings come from it. @default none: required */
  plan: Plan;
  /**
   * Private addresses of the PgBouncer hosts, in plan order: they serve the pgbouncer, node and
   * postgres exporters (monitoring/exporter-units.ts). @default none: required
   */
  hostAddresses: pulumi.Input<string>[];
}

/** Key of the scrape configs in their Secret, as kube-prometheus-stack's values name it. */
export const SCRAPE_CONFIGS_KEY = "scrape-configs.yaml";

/**
 * What kube-prometheus-stack needs to watch the pooling tier, all in `monitoring.namespace` and
 * labelled with `monitoring.selectorLabels`:
 * - a Secret with the additional scrape configs (static targets outside the cluster, so no
 *   ServiceMonitor can describe them); the chart takes it through
 *   `prometheus.prometheusSpec.additionalScrapeConfigsSecret` {name, key} (stack outputs);
 * - a PodMonitor for the services' resilience metrics;
 * - a PrometheusRule with the plan's alert groups;
 * - one ConfigMap per dashboard, labelled for Grafana's dashboard sidecar.
 * Nothing here is secret: the scrape configs carry addresses, never credentials.
 */
export class Monitoring extends pulumi.ComponentResource {
  /** Name and key of the scrape-config Secret, for the chart's additionalScrapeConfigsSecret. */
  public readonly scrapeConfigsSecret: { name: pulumi.Output<string>; key: string };
  public readonly ruleName: pulumi.Output<string>;
  public readonly dashboardConfigMaps: pulumi.Output<string>[];

  constructor(name: string, args: MonitoringArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pooling:monitoring:Monitoring", name, {}, opts);
    const parent = { parent: this };
    const metadata = metadataOf(args.plan);

    const secret = scrapeConfigsSecret(name, args, metadata, parent);
    const rule = podMonitorAndRules(name, args.plan, metadata, parent);
    this.dashboardConfigMaps = dashboardConfigMaps(name, args.plan, metadata, parent);

    this.scrapeConfigsSecret = { name: secret.metadata.name, key: SCRAPE_CONFIGS_KEY };
    this.ruleName = rule.metadata.name;
    this.registerOutputs({
      scrapeConfigsSecret: this.scrapeConfigsSecret,
      ruleName: this.ruleName,
      dashboardConfigMaps: this.dashboardConfigMaps,
    });
  }
}

type Metadata = ReturnType<typeof metadataOf>;

/** The metadata of every object: a fixed name, the namespace, the selector labels. */
function metadataOf(plan: Plan) {
  const m = plan.config.monitoring;
  return (role: string, labels: Record<string, string> = {}) => ({
    // Fixed names: the chart's values name the Secret, operators look for the rest.
    name: `pg-pooling-${plan.environment}-${role}`,
    namespace: m.namespace,
    labels: { ...m.selectorLabels, "app.kubernetes.io/part-of": "pg-pooling", ...labels },
  });
}

/** The Secret holding the scrape configs of the hosts' exporters, at their private addresses. */
function scrapeConfigsSecret(
  name: string,
  args: MonitoringArgs,
  metadata: Metadata,
  parent: Parent,
): k8s.core.v1.Secret {
  const { plan } = args;
  const scrapeConfigs = pulumi
    .all(args.hostAddresses)
    .apply((ips) => renderScrapeConfigs(scrapeJobs(plan, cloudScrapeTargets(plan, ips))));
  return new k8s.core.v1.Secret(
    `${name}-scrape-configs`,
    {
      metadata: metadata("scrape-configs"),
      type: "Opaque",
      stringData: { [SCRAPE_CONFIGS_KEY]: scrapeConfigs },
    },
    parent,
  );
}

/** The services' PodMonitor and the PrometheusRule with the plan's alert groups (returned). */
function podMonitorAndRules(name: string, plan: Plan, metadata: Metadata, parent: Parent) {
  new k8s.apiextensions.CustomResource(
    `${name}-services`,
    {
      apiVersion: "monitoring.coreos.com/v1",
      kind: "PodMonitor",
      metadata: metadata("services"),
      spec: servicesPodMonitorSpec(plan),
    },
    parent,
  );
  return new k8s.apiextensions.CustomResource(
    `${name}-rules`,
    {
      apiVersion: "monitoring.coreos.com/v1",
      kind: "PrometheusRule",
      metadata: metadata("rules"),
      spec: { groups: alertRuleGroups(plan) },
    },
    parent,
  );
}

/** One ConfigMap per dashboard, labelled for Grafana's sidecar; returns their names. */
function dashboardConfigMaps(
  name: string,
  plan: Plan,
  metadata: Metadata,
  parent: Parent,
): pulumi.Output<string>[] {
  const m = plan.config.monitoring;
  return dashboards(plan).map((d) => {
    // A Kubernetes name: lowercase letters, digits and dashes, whatever Grafana's uid allows.
    const id = d.uid.toLowerCase().replace(/[^a-z0-9-]+/g, "-");
    return new k8s.core.v1.ConfigMap(
      `${name}-dashboard-${id}`,
      {
        metadata: metadata(`dashboard-${id}`, { [m.dashboardLabel]: "1" }),
        data: { [`${id}.json`]: JSON.stringify(d.json, null, 2) + "\n" },
      },
      parent,
    ).metadata.name;
  });
}
