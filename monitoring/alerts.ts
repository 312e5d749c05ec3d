import { stringify } from "yaml";
import type { Plan } from "../platform/plan.js";
import { generatedHeader } from "../pgbouncer/header.js";
import type { AlertRuleSpec, Rule, RuleGroup } from "./alert-model.js";
import { availabilityRules, hostRules, poolRules, postgresRules } from "./alert-rules.js";

export {
  ALERT_NAMES,
  ALERT_SHARES,
  runbookUrl,
  type AlertName,
  type AlertProbe,
  type AlertRuleSpec,
  type Rule,
  type RuleGroup,
  type Severity,
} from "./alert-model.js";

/**
 * Prometheus alert rules generated from the plan (see alert-rules.ts for each rule and why its
 * threshold is what it is). Groups evaluate at the scrape interval; every rule holds for the
 * plan's alertForSeconds before it fires.
 */

/** Every rule with its probe, in a fixed order. */
export function alertRuleSpecs(plan: Plan): AlertRuleSpec[] {
  return [...poolRules(plan), ...hostRules(plan), ...postgresRules(plan), ...availabilityRules()];
}

export function alertRuleGroups(plan: Plan): RuleGroup[] {
  const { alertForSeconds, scrapeIntervalSeconds } = plan.config.monitoring;
  const groups = new Map<string, Rule[]>();
  for (const s of alertRuleSpecs(plan)) {
    const rules = groups.get(s.group) ?? [];
    rules.push({
      alert: s.alert,
      expr: s.expr,
      for: `${alertForSeconds}s`,
      labels: s.labels,
      annotations: s.annotations,
    });
    groups.set(s.group, rules);
  }
  return [...groups].map(([name, rules]) => ({
    name,
    interval: `${scrapeIntervalSeconds}s`,
    rules,
  }));
}

/** The rule file Prometheus loads: groups in a fixed order, generated header first. */
export function renderAlertRules(plan: Plan): string {
  return (
    generatedHeader("#", `Prometheus alert rules of the pooling tier (${plan.environment})`) +
    stringify({ groups: alertRuleGroups(plan) }, { lineWidth: 0 })
  );
}
