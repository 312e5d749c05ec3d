import { hasMetric, metricSpec, type MetricSpec } from "./catalogue.js";
import { IMPLICIT_LABELS, JOB_TARGET_LABELS, SCRAPE_LABELS } from "./labels.js";

/**
 * A small PromQL reader: enough to find every metric selector and every label an expression
 * names, so that each one can be checked against the catalogue. Not a parser: it does not check
 * operator precedence or types (promtool does that for rules).
 */

type TokenKind = "ident" | "string" | "number" | "punct" | "op" | "duration";
interface Token {
  kind: TokenKind;
  text: string;
  at: number;
}

const AGGREGATIONS = new Set([
  "sum",
  "min",
  "max",
  "avg",
  "count",
  "stddev",
  "stdvar",
  "topk",
  "bottomk",
  "quantile",
  "count_values",
  "group",
]);
const FUNCTIONS = new Set([
  "abs",
  "absent",
  "absent_over_time",
  "avg_over_time",
  "ceil",
  "changes",
  "clamp",
  "clamp_max",
  "clamp_min",
  "count_over_time",
  "delta",
  "deriv",
  "floor",
  "histogram_quantile",
  "idelta",
  "increase",
  "irate",
  "label_replace",
  "label_join",
  "last_over_time",
  "max_over_time",
  "min_over_time",
  "present_over_time",
  "quantile_over_time",
  "rate",
  "resets",
  "round",
  "scalar",
  "sort",
  "sort_desc",
  "sqrt",
  "sum_over_time",
  "time",
  "timestamp",
  "vector",
]);
const LABEL_LIST_KEYWORDS = new Set([
  "by",
  "without",
  "on",
  "ignoring",
  "group_left",
  "group_right",
]);
const KEYWORDS = new Set(["and", "or", "unless", "bool", "offset", "inf", "nan"]);

export function tokenize(expr: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < expr.length) {
    const c = expr[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (c === "#") {
      while (i < expr.length && expr[i] !== "\n") i++;
    } else if (c === '"' || c === "'" || c === "`") {
      let j = i + 1;
      while (j < expr.length && expr[j] !== c) j += expr[j] === "\\" && c !== "`" ? 2 : 1;
      if (j >= expr.length)
        throw new Error(`unterminated string at ${i} in ${JSON.stringify(expr)}`);
      tokens.push({ kind: "string", text: expr.slice(i + 1, j), at: i });
      i = j + 1;
    } else if (/[0-9.]/.test(c)) {
      const m = /^(?:\d+(?:ms|[smhdwy]))+|^(?:\d*\.?\d+(?:e[+-]?\d+)?)/i.exec(expr.slice(i))!;
      const kind = /[smhdwy]$/.test(m[0]) && !/e/i.test(m[0]) ? "duration" : "number";
      tokens.push({ kind, text: m[0], at: i });
      i += m[0].length || 1;
    } else if (/[A-Za-z_:]/.test(c)) {
      const m = /^[A-Za-z_:][A-Za-z0-9_:]*/.exec(expr.slice(i))!;
      tokens.push({ kind: "ident", text: m[0], at: i });
      i += m[0].length;
    } else if ("(){}[],".includes(c)) {
      tokens.push({ kind: "punct", text: c, at: i });
      i++;
    } else {
      const m = /^(==|!=|=~|!~|>=|<=|[-+*/%^<>=:@])/.exec(expr.slice(i));
      if (!m) throw new Error(`unexpected ${JSON.stringify(c)} at ${i} in ${JSON.stringify(expr)}`);
      tokens.push({ kind: "op", text: m[0], at: i });
      i += m[0].length;
    }
  }
  return tokens;
}

export interface Selector {
  metric: string;
  labels: string[];
}

export interface ExpressionParts {
  selectors: Selector[];
  /** Labels named in by/without/on/ignoring/group_left/group_right. */
  groupingLabels: string[];
  /** Identifiers called as functions that PromQL does not know. */
  unknownFunctions: string[];
}

/** Every selector and grouping label of an expression. */
export function expressionParts(expr: string): ExpressionParts {
  const tokens = tokenize(expr);
  const parts: ExpressionParts = { selectors: [], groupingLabels: [], unknownFunctions: [] };
  const at = (k: number) => tokens[k];
  let i = 0;
  const readLabelList = (): string[] => {
    const labels: string[] = [];
    i++; // "("
    while (i < tokens.length && at(i)!.text !== ")") {
      if (at(i)!.kind === "ident") labels.push(at(i)!.text);
      i++;
    }
    i++;
    return labels;
  };
  while (i < tokens.length) {
    const t = at(i)!;
    const next = at(i + 1);
    if (t.kind === "punct" && t.text === "[") {
      while (i < tokens.length && at(i)!.text !== "]") i++;
      i++;
    } else if (t.kind === "punct" && t.text === "{") {
      parts.selectors.push({ metric: "", labels: readMatchers() });
    } else if (t.kind !== "ident") {
      i++;
    } else if (LABEL_LIST_KEYWORDS.has(t.text) && next?.text === "(") {
      i++;
      parts.groupingLabels.push(...readLabelList());
    } else if (AGGREGATIONS.has(t.text) && LABEL_LIST_KEYWORDS.has(next?.text ?? "")) {
      i++; // `sum by (…) (…)`: the grouping comes before the argument
    } else if (next?.text === "(" && !KEYWORDS.has(t.text)) {
      if (!AGGREGATIONS.has(t.text) && !FUNCTIONS.has(t.text)) parts.unknownFunctions.push(t.text);
      i++;
    } else if (KEYWORDS.has(t.text.toLowerCase())) {
      i++;
    } else {
      i++;
      const labels = at(i)?.text === "{" ? readMatchers() : [];
      parts.selectors.push({ metric: t.text, labels });
    }
  }
  return parts;

  function readMatchers(): string[] {
    const labels: string[] = [];
    i++; // "{"
    while (i < tokens.length && at(i)!.text !== "}") {
      if (at(i)!.kind === "ident" && at(i + 1)?.kind === "op") labels.push(at(i)!.text);
      i++;
    }
    i++;
    return labels;
  }
}

/** The target labels Prometheus adds to a metric, by the job that scrapes its source. */
export function targetLabels(spec: MetricSpec): readonly string[] {
  switch (spec.source) {
    case "pgbouncer_exporter":
      return [...JOB_TARGET_LABELS.pgbouncer, ...SCRAPE_LABELS];
    case "postgres_exporter":
    case "postgres_exporter_queries":
      return [...JOB_TARGET_LABELS.postgres, ...SCRAPE_LABELS];
    case "resilience":
      return [...JOB_TARGET_LABELS.services, ...SCRAPE_LABELS];
    case "prometheus":
      return IMPLICIT_LABELS; // up and ALERTS carry the labels of every target
  }
}

/**
 * The labels of a metric as Prometheus stores them: a served label that collides with a target
 * label (pgbouncer_databases_*'s `host`, the Postgres host of the entry) is kept as `exported_host`
 * while `host` is the target's (honor_labels: false, the default), plus the target labels.
 */
export function storedLabels(spec: MetricSpec): string[] {
  const target = targetLabels(spec);
  return [...spec.labels.map((l) => (target.includes(l) ? `exported_${l}` : l)), ...target];
}

/** Problems of an expression against the catalogue; empty when every name and label is known. */
export function checkExpression(expr: string): string[] {
  let parts: ExpressionParts;
  try {
    parts = expressionParts(expr);
  } catch (e) {
    return [(e as Error).message];
  }
  const problems: string[] = [];
  const available = new Set<string>();
  if (parts.selectors.length === 0) problems.push(`selects no metric: ${expr}`);
  for (const s of parts.selectors) {
    if (s.metric === "") {
      problems.push(`selector without a metric name in ${expr}`);
      continue;
    }
    if (!hasMetric(s.metric)) {
      problems.push(`metric ${s.metric} is not in the catalogue`);
      continue;
    }
    const own = storedLabels(metricSpec(s.metric));
    own.forEach((l) => available.add(l));
    for (const label of s.labels) {
      if (!own.includes(label))
        problems.push(`${s.metric} has no label ${label} (it has ${own.join(", ")})`);
    }
  }
  for (const label of parts.groupingLabels) {
    if (!available.has(label))
      problems.push(`grouping label ${label} is on none of the selected metrics`);
  }
  for (const f of parts.unknownFunctions) problems.push(`unknown function ${f}`);
  return problems;
}
