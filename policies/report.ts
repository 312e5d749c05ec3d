import type { NodeBudget } from "../platform/budget.js";
import type { Plan } from "../platform/plan.js";
import { BUDGET_HEAD, budgetRow, table } from "../platform/report.js";
import { assessBudget } from "./budget.js";
import { unknownLines, type RuleResult } from "./rules.js";
import type { Facts } from "./types.js";

/** The outcome of the rules on one set of facts, for people (text, markdown) or machines. */
export interface CheckReport {
  label: string;
  plan: Plan;
  facts: Facts;
  results: RuleResult[];
  budgets: NodeBudget[];
  mandatoryViolations: number;
  advisoryViolations: number;
}

export function checkReport(facts: Facts, plan: Plan, results: RuleResult[]): CheckReport {
  const count = (level: string) =>
    results
      .filter((r) => r.enforcementLevel === level)
      .reduce((n, r) => n + r.violations.length, 0);
  return {
    label: facts.label,
    plan,
    facts,
    results,
    budgets: assessBudget(facts, plan).budgets.map((b) => b.budget),
    mandatoryViolations: count("mandatory"),
    advisoryViolations: count("advisory"),
  };
}

function headline(r: CheckReport): string {
  const p = r.plan;
  const hosts = new Set(r.facts.hosts.map((h) => h.host)).size;
  return (
    `Policy check of ${r.label} (${p.environment}): PgBouncer ${p.pgbouncerVersion.join(".")} on ${hosts} host${hosts === 1 ? "" : "s"}, ` +
    `primary + ${r.facts.nodes.filter((n) => n.role === "replica").length} replica(s)`
  );
}

function verdict(r: CheckReport): string {
  const m = r.mandatoryViolations;
  const a = r.advisoryViolations;
  return m > 0
    ? `FAILED: ${m} mandatory violation${m === 1 ? "" : "s"}${a ? `, ${a} advisory` : ""}`
    : `passed: no mandatory violation${a ? `, ${a} advisory` : ""}`;
}

const STATUS = { passed: "PASS", violated: "FAIL", skipped: "SKIP" } as const;

export function formatText(r: CheckReport): string {
  const out = [headline(r), `Checked: ${sourceText(r.facts)}`, ""];
  out.push(
    "Connection budget per Postgres node (pools need = Σ hosts' max_db_connections of the entries reaching it)",
  );
  out.push(table(BUDGET_HEAD, r.budgets.map(budgetRow)), "");
  out.push("Rules");
  for (const res of r.results) {
    const extra =
      res.status === "violated"
        ? `${res.violations.length} violation${res.violations.length === 1 ? "" : "s"}`
        : (res.skipped ?? "");
    out.push(
      `  ${STATUS[res.status]}  ${res.rule.name.padEnd(30)} ${res.enforcementLevel.padEnd(9)} ${extra}`.trimEnd(),
    );
    for (const v of res.violations) out.push(`        - ${v.message}`);
  }
  const unknown = unknownLines(r.facts);
  if (unknown.length)
    out.push("", "Not checked (unknown until apply):", ...unknown.map((u) => `  - ${u}`));
  out.push("", verdict(r));
  return out.join("\n") + "\n";
}

const md = (text: string) => text.replace(/\|/g, "\\|");

export function formatMarkdown(r: CheckReport): string {
  const out = [`### ${md(headline(r))}`, "", `Checked: ${md(sourceText(r.facts))}`, ""];
  out.push(
    "| " + BUDGET_HEAD.join(" | ") + " |",
    "|" + BUDGET_HEAD.map(() => " ---").join(" |") + " |",
  );
  for (const b of r.budgets) out.push("| " + budgetRow(b).join(" | ") + " |");
  out.push("", "| rule | level | result |", "| --- | --- | --- |");
  for (const res of r.results) {
    const result =
      res.status === "violated"
        ? res.violations.map((v) => `❌ ${md(v.message)}`).join("<br>")
        : res.status === "passed"
          ? "✅ passed"
          : `⏭️ ${md(res.skipped ?? "skipped")}`;
    out.push(`| ${res.rule.name} | ${res.enforcementLevel} | ${result} |`);
  }
  out.push("", `**${verdict(r)}**`);
  return out.join("\n") + "\n";
}

export function formatJson(r: CheckReport): string {
  return (
    JSON.stringify(
      {
        label: r.label,
        environment: r.plan.environment,
        budget: r.budgets,
        rules: r.results.map((res) => ({
          name: res.rule.name,
          enforcementLevel: res.enforcementLevel,
          status: res.status,
          ...(res.skipped ? { skipped: res.skipped } : {}),
          violations: res.violations.map((v) => ({ resource: v.ref, message: v.message })),
        })),
        mandatoryViolations: r.mandatoryViolations,
        advisoryViolations: r.advisoryViolations,
      },
      null,
      2,
    ) + "\n"
  );
}

function sourceText(facts: Facts): string {
  return facts.scope === "artifacts"
    ? "the plan and the files rendered for each host (pgbouncer.ini, pgbouncer.service, userlist.txt" +
        (facts.hosts.some((h) => h.source === "user-data") ? ", user-data" : "") +
        "), the RDS parameter group the program would create"
    : "the stack's resources (user-data, Parameter Store, RDS, security groups, every input)";
}
