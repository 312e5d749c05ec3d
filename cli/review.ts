import { stringify } from "yaml";
import { compareText } from "../loadtest/report/format.js";
import { renderLocalHost } from "../local/pgbouncer.js";
import { localUpstreams } from "../local/topology.js";
import { renderAlertRules } from "../monitoring/alerts.js";
import { renderAlertTests } from "../monitoring/alert-tests.js";
import { dashboards } from "../monitoring/dashboards.js";
import { LOCAL_ALERTS_FILE, localMonitoringFiles } from "../local/monitoring.js";
import {
  cloudScrapeTargets,
  renderScrapeConfigs,
  scrapeJobs,
  servicesPodMonitorSpec,
} from "../monitoring/scrape.js";
import { buildPlan, type Plan } from "../platform/plan.js";
import type { StackConfig } from "../platform/schema.js";
import { cloudReviewRender, reviewHosts, type StackRender } from "../pgbouncer/review.js";
import { factsFromReview } from "../policies/artifacts.js";
import { checkReport, formatMarkdown, type CheckReport } from "../policies/report.js";
import { runRules } from "../policies/rules.js";

/** One generated artifact: its path inside the review folder and its text. */
export interface ReviewFile {
  path: string;
  text: string;
}

/** Everything generated for one stack, for review, and what the policies say of it. */
export interface Review {
  plan: Plan;
  files: ReviewFile[];
  report: CheckReport;
}

/** The folder of the monitoring artifacts and the name of the rule file the alert tests load. */
const MONITORING = "monitoring";
const ALERT_RULES = "alert-rules.yaml";

/**
 * The one review render: for a stack, every generated artifact (each host's PgBouncer files and
 * user-data, the alert rules and their promtool tests, the scrape configs, the dashboards' JSON,
 * the policy report) as `npm run render` writes it, `npm run check` judges it and the tests read
 * it. Deterministic (same config → same bytes, paths sorted) and without a secret: verifiers are
 * redacted and addresses known only at deploy are named under the reserved `.invalid` domain, so
 * a pull request's diff of the folder shows exactly what it changes.
 */
export function reviewStack(config: StackConfig, label: string, stack?: string): Review {
  const plan = buildPlan(config, { enforceBudget: false });
  const render = stackRender(plan);
  const hosts = reviewHosts(plan, stack ?? plan.environment, render);
  const facts = factsFromReview(plan, label, hosts, render.upstreams);
  const report = checkReport(facts, plan, runRules(facts, plan));
  const files: ReviewFile[] = [
    ...hosts.flatMap(({ host, files, userData }) => [
      ...Object.entries(files).map(([name, text]) => ({ path: `hosts/${host}/${name}`, text })),
      ...(userData === undefined ? [] : [{ path: `hosts/${host}/user-data.yaml`, text: userData }]),
    ]),
    ...monitoringFiles(plan),
    { path: "policy-report.md", text: formatMarkdown(report) },
  ];
  files.sort((a, b) => compareText(a.path, b.path));
  return { plan, files, report };
}

/** The local stack renders its hosts with its own layout and node names; the cloud, for review. */
function stackRender(plan: Plan): StackRender {
  if (plan.environment !== "local") return cloudReviewRender(plan);
  return {
    hostFiles: (host) => renderLocalHost(plan, host, "redacted"),
    upstreams: localUpstreams(plan),
  };
}

/**
 * The cloud's scrape configuration: kube-prometheus-stack's additional scrape configs (the hosts'
 * private addresses are known only at deploy) and the services' PodMonitor.
 */
function cloudScrapeFiles(plan: Plan): [string, string][] {
  const addresses = plan.hosts.map((h) => `${h.name}.private-address.invalid`);
  return [
    [
      "scrape-configs.yaml",
      renderScrapeConfigs(scrapeJobs(plan, cloudScrapeTargets(plan, addresses))),
    ],
    ["services-pod-monitor.yaml", stringify(servicesPodMonitorSpec(plan), { lineWidth: 0 })],
  ];
}

/**
 * The monitoring a stack deploys: rules (and the promtool tests that prove them), how its
 * Prometheus finds the targets, and every dashboard.
 */
function monitoringFiles(plan: Plan): ReviewFile[] {
  const file = (name: string, text: string) => ({ path: `${MONITORING}/${name}`, text });
  // The local stack's Prometheus runs the very files `npm run local -- up` writes.
  const local = plan.environment === "local";
  const ruleFile = local ? LOCAL_ALERTS_FILE : ALERT_RULES;
  const deployed: [string, string][] = local
    ? Object.entries(localMonitoringFiles(plan))
    : [[ALERT_RULES, renderAlertRules(plan)], ...cloudScrapeFiles(plan)];
  return [
    ...deployed.map(([name, text]) => file(name, text)),
    file("alert-tests.yaml", renderAlertTests(plan, ruleFile)),
    ...dashboards(plan).map((d) =>
      file(`dashboards/${d.uid}.json`, JSON.stringify(d.json, null, 2) + "\n"),
    ),
  ];
}
