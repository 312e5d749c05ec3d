import { stringify } from "yaml";
import type { Plan } from "../platform/plan.js";
import type { AlertProbe, AlertRuleSpec } from "./alert-model.js";
import { EXTRA_PROBES } from "./alert-rules.js";
import { alertRuleSpecs } from "./alerts.js";

/**
 * A `promtool test rules` file generated from the rules' own probes: for every probe of every
 * rule (its own and any in EXTRA_PROBES), one case where it fires (held long enough, with the
 * expected labels and annotations), one where the input stays just short of the threshold, and
 * one where it crosses it but not for long enough.
 */

/** `{{ $labels.x }}` filled in as Prometheus would, for the expected annotations. */
export function expandLabels(template: string, labels: Record<string, string>): string {
  return template.replace(/\{\{ \$labels\.([a-zA-Z_][a-zA-Z0-9_]*) \}\}/g, (_, name: string) => {
    const value = labels[name];
    if (value === undefined)
      throw new Error(`annotation uses label ${name}, which the alert lacks`);
    return value;
  });
}

const seriesText = (metric: string, labels: Record<string, string>) =>
  `${metric}{${Object.entries(labels)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}="${v}"`)
    .join(", ")}}`;

export interface AlertCase {
  name: string;
  /** The rule, with `probe` the one this case feeds (for a rule with extra probes, one of those). */
  spec: AlertRuleSpec;
  value: number;
  evalSeconds: number;
  fires: boolean;
}

/** A rule's own probe, then its extra ones. */
export function probesOf(spec: AlertRuleSpec): AlertProbe[] {
  return [spec.probe, ...(EXTRA_PROBES[spec.alert] ?? [])];
}

/** The cases of every rule of the plan. */
export function alertCases(plan: Plan, specs = alertRuleSpecs(plan)): AlertCase[] {
  const { alertForSeconds: hold, scrapeIntervalSeconds: step } = plan.config.monitoring;
  const settled = hold + 3 * step;
  return specs.flatMap((rule, i) =>
    probesOf(rule).flatMap((probe) => {
      const spec = { ...rule, probe };
      const id = `#${i} ${spec.alert} ${JSON.stringify(probe.alertLabels)}`;
      const cases: AlertCase[] = [
        { name: `${id} fires`, spec, value: probe.fire, evalSeconds: settled, fires: true },
        { name: `${id} quiet below`, spec, value: probe.quiet, evalSeconds: settled, fires: false },
      ];
      if (hold > step) {
        cases.push({
          name: `${id} quiet before the hold time`,
          spec,
          value: probe.fire,
          evalSeconds: hold - step,
          fires: false,
        });
      }
      return cases;
    }),
  );
}

/** The test file for `promtool test rules`, reading the rule file at `ruleFile`. */
export function renderAlertTests(plan: Plan, ruleFile: string, cases = alertCases(plan)): string {
  const step = plan.config.monitoring.scrapeIntervalSeconds;
  const tests = cases.map((c) => {
    const samples = Math.ceil(c.evalSeconds / step) + 1;
    const labels = { ...c.spec.probe.alertLabels, ...c.spec.labels };
    return {
      name: c.name,
      interval: `${step}s`,
      input_series: [
        {
          series: seriesText(c.spec.probe.metric, c.spec.probe.labels),
          values: `${c.value}x${samples}`,
        },
      ],
      alert_rule_test: [
        {
          eval_time: `${c.evalSeconds}s`,
          alertname: c.spec.alert,
          exp_alerts: c.fires
            ? [
                {
                  exp_labels: labels,
                  exp_annotations: {
                    summary: expandLabels(c.spec.annotations.summary, labels),
                    description: expandLabels(c.spec.annotations.description, labels),
                    runbook_url: c.spec.annotations.runbook_url,
                  },
                },
              ]
            : [],
        },
      ],
    };
  });
  return stringify(
    { rule_files: [ruleFile], evaluation_interval: `${step}s`, tests },
    { lineWidth: 0 },
  );
}
