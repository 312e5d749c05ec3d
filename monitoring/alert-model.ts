import { RenderError } from "../pgbouncer/sanitize.js";
import { TARGET_LABELS } from "./labels.js";

/**
 * The shape of the generated alert rules: names, severities, the shares that turn plan numbers
 * into thresholds, and the probe each rule carries (the input series that cross its threshold and
 * a value just short of it), so that the promtool unit tests come from the same facts as the rules.
 */

/** The shares that turn plan numbers into thresholds, in one place. */
export const ALERT_SHARES = {
  /** Active server connections of a pool, as a share of its pool_size. */
  poolSaturation: 0.9,
  /** Oldest waiting client, as a share of query_wait_timeout (when clients start failing). */
  maxWaitOfQueryWait: 0.5,
  /** Client connections of a process, as a share of its max_client_conn. */
  clientConnections: 0.9,
  /** Connections of the services' roles on a node, as a share of the node's usable budget. */
  connectionBudget: 0.9,
} as const;

export const ALERT_NAMES = [
  "PgBouncerPoolSaturated",
  "PgBouncerClientsWaiting",
  "PgBouncerMaxWaitHigh",
  "PgBouncerClientConnectionsHigh",
  "PostgresConnectionBudgetHigh",
  "PostgresReplicaLagHigh",
  "ExporterDown",
  "PgBouncerDown",
  "PostgresDown",
  "ClientBreakerOpen",
] as const;
export type AlertName = (typeof ALERT_NAMES)[number];
export type Severity = "critical" | "warning";

export interface Rule {
  alert: AlertName;
  expr: string;
  for: string;
  labels: Record<string, string>;
  annotations: { summary: string; description: string; runbook_url: string };
}

export interface RuleGroup {
  name: string;
  interval: string;
  rules: Rule[];
}

/** One input series that decides a rule, with the values on either side of its threshold. */
export interface AlertProbe {
  metric: string;
  labels: Record<string, string>;
  fire: number;
  quiet: number;
  /** The labels of the firing alert that come from the series (after aggregation). */
  alertLabels: Record<string, string>;
}

export interface AlertRuleSpec extends Omit<Rule, "for"> {
  group: string;
  probe: AlertProbe;
}

/** The repo-relative runbook link of an alert: docs/runbooks.md has a heading per alert name. */
export function runbookUrl(alert: AlertName): string {
  return `docs/runbooks.md#${alert.toLowerCase()}`;
}

/** A value placed inside a PromQL string or regex: plain names only, nothing that ends the string. */
export function promValue(field: string, value: string): string {
  if (!/^[A-Za-z0-9_.:-]+$/.test(value))
    throw new RenderError(field, value, "must contain only letters, digits and _ . : -");
  return value;
}
export const anyOf = (field: string, values: readonly string[]) =>
  values.map((v) => promValue(field, v)).join("|");

export const { host, process: proc, node, service } = TARGET_LABELS;
export const round = (n: number) => Math.round(n * 1000) / 1000;

export function spec(
  alert: AlertName,
  severity: Severity,
  group: string,
  expr: string,
  text: { summary: string; description: string },
  probe: AlertProbe,
  labels: Record<string, string> = {},
): AlertRuleSpec {
  return {
    alert,
    group,
    expr,
    labels: { severity, ...labels },
    annotations: { ...text, runbook_url: runbookUrl(alert) },
    probe,
  };
}
