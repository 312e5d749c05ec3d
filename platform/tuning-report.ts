import { formatProblem } from "./errors.js";
import type { ServicePatterns } from "./query-patterns.js";
import { table } from "./report.js";
import { planChanges, type TuneResult } from "./tuning.js";

/** npm run tune's text: per service declared / observed / proposed, then what the plan changes. */
export function formatTune(r: TuneResult, label: string, windowLabel: string): string {
  const out: string[] = [
    `Tuning ${label} from the last ${windowLabel} of PgBouncer's counters`,
    "",
  ];
  const show = (x: number) => (Number.isInteger(x) ? String(x) : x.toFixed(x < 1 ? 2 : 1));
  for (const [service, verdicts] of Object.entries(r.verdicts)) {
    out.push(`${service}`);
    out.push(
      table(
        ["field", "declared", "observed", "proposed", "rule"],
        verdicts.map((v) => [
          v.field,
          show(v.declared),
          show(v.observed),
          v.changed ? show(v.proposed) : "keep",
          v.rule,
        ]),
      ),
    );
    const o = r.observed[service]!;
    const lagTolerance = r.proposed.services[service]!.maxReplicaLagSeconds;
    out.push(
      `  also seen: p95 ${show(o.p95Tps)} tx/s, longest wait for a server ${show(o.maxWaitSeconds)} s, ` +
        `replica lag up to ${show(o.maxReplicaLagSeconds)} s (tolerated: ${lagTolerance} s${o.maxReplicaLagSeconds > lagTolerance ? "; reads went to the primary while beyond it" : ""})`,
    );
    out.push("");
  }
  for (const [service, why] of Object.entries(r.idle))
    out.push(`${service}: not judged, its declarations kept: ${why}`, "");
  const changed = Object.values(r.verdicts).some((vs) => vs.some((v) => v.changed));
  if (!changed) {
    out.push("Every declaration stands: no change proposed.");
    return out.join("\n") + "\n";
  }
  if ("refused" in r.outcome) {
    out.push("The proposal is refused: its plan does not fit.");
    for (const p of r.outcome.refused) out.push(`  - ${formatProblem(p)}`);
    out.push(`  ${r.outcome.grow}`);
    return out.join("\n") + "\n";
  }
  const changes = planChanges(r.current, r.outcome.plan);
  out.push("What the proposal changes in the plan");
  out.push(
    changes.length > 0
      ? table(
          ["what", "now", "proposed"],
          changes.map((c) => [c.what, c.from, c.to]),
        )
      : "  nothing: the pools, budgets and host limits come out the same",
  );
  return out.join("\n") + "\n";
}

/** The query patterns: per service its top statements, then every finding. */
export function formatPatterns(
  patterns: Record<string, ServicePatterns>,
  since: Record<string, string>,
): string {
  const out = [
    "",
    `Query patterns from pg_stat_statements (counting since ${Object.entries(since)
      .map(([node, at]) => `${node} ${at}`)
      .join(", ")})`,
  ];
  const clip = (q: string) => (q.length > 70 ? `${q.slice(0, 67)}...` : q).replace(/\s+/g, " ");
  for (const [service, p] of Object.entries(patterns)) {
    out.push("", `${service}`);
    out.push(
      p.top.length > 0
        ? table(
            ["statement", "calls", "total ms", "share"],
            p.top.map((t) => [
              clip(t.query),
              t.calls,
              t.totalMs.toFixed(0),
              `${Math.round(t.share * 100)} %`,
            ]),
          )
        : "  no statements recorded",
    );
    for (const f of p.findings)
      out.push(
        `  finding: ${f.feature} ${f.kind}${f.query ? ` (${f.calls} calls: ${clip(f.query)})` : ""}: ${f.risk}`,
      );
  }
  return out.join("\n") + "\n";
}
