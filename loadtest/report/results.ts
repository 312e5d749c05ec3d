import { compareText, formatCount, formatMeasure, formatNumber, formatQuantity } from "./format.js";
import { FAIL, PASS } from "./markdown.js";
import type { RunRecord } from "./types.js";

/**
 * The results the docs quote, from committed run records (docs/results/*.json): a run's record
 * without its per-tick series, which only the charts need. The tables in docs/results.md are
 * generated from these files between markers, and a test regenerates them, so a number in the
 * docs is always one a run measured, never one copied by hand.
 */
export type ResultRecord = Pick<RunRecord, "meta" | "services" | "comparisons" | "drill" | "notes">;

/** The part of a run record the docs keep: everything but the series. */
export function resultRecord(run: RunRecord): ResultRecord {
  const { meta, services, comparisons, drill, notes } = run;
  return { meta, services, comparisons, ...(drill ? { drill } : {}), notes };
}

/** The file a record is kept in: one per drill, one per load-test shape. */
export function resultFileName(r: ResultRecord): string {
  return r.drill
    ? `drill-${r.drill.name}.json`
    : `loadtest-${r.meta.mode}-${r.meta.clients}-clients.json`;
}

const row = (cells: readonly string[]) => `| ${cells.join(" | ")} |`;
const table = (head: readonly string[], rows: readonly string[][]) =>
  [row(head), row(head.map(() => "---")), ...rows.map(row)].join("\n");

const totals = (r: ResultRecord) => ({
  transactions: r.services.reduce((n, s) => n + s.transactions, 0),
  errors: r.services.reduce((n, s) => n + s.errors, 0),
  tps: r.services.reduce((n, s) => n + s.tps, 0),
});

/** Where and when a record was made: the command, the lines it ran on, the date. */
function provenance(r: ResultRecord): string {
  const m = r.meta;
  return (
    `\`${m.command}\` on ${m.startedAt.slice(0, 10)}: PgBouncer ${m.pgbouncerVersion}, ` +
    `PostgreSQL ${m.postgresVersion.split(" ")[0]}, ${m.machine.cpus} cores, ` +
    `${formatCount(m.clients)} clients for ${m.durationSeconds} s`
  );
}

/** One row per service, then the total, and the run's same-run ratios. */
export function loadTable(r: ResultRecord): string {
  const services = [...r.services].sort((a, b) => compareText(a.service, b.service));
  const t = totals(r);
  const body = table(
    ["service", "transaction shape", "clients", "tx/s", "p50 ms", "p99 ms", "errors"],
    [
      ...services.map((s) => [
        s.service,
        s.shape,
        formatCount(s.clients),
        formatMeasure(s.tps),
        formatMeasure(s.p50Ms),
        formatMeasure(s.p99Ms),
        formatCount(s.errors),
      ]),
      [
        "**total**",
        "",
        formatCount(r.meta.clients),
        formatMeasure(t.tps),
        "",
        "",
        formatCount(t.errors),
      ],
    ],
  );
  const ratios = r.comparisons.map(
    (c) =>
      `- ${c.name}: **${formatQuantity(c.ratio, c.unit)}** (${c.numerator.label} ` +
      `${formatMeasure(c.numerator.value)} vs ${c.denominator.label} ${formatMeasure(c.denominator.value)}` +
      `${c.goal === undefined ? "" : `; goal ≥ ${formatMeasure(c.goal)}`})`,
  );
  return [provenance(r) + ".", "", body, ...(ratios.length ? ["", ...ratios] : [])].join("\n");
}

/** One row per drill: the fault, caller-visible errors of all calls, every SLO, the verdict. */
export function drillTable(records: readonly ResultRecord[]): string {
  const drills = records
    .filter((r): r is ResultRecord & Required<Pick<ResultRecord, "drill">> => !!r.drill)
    .sort((a, b) => compareText(a.drill.name, b.drill.name));
  return table(
    ["drill", "fault", "errors / calls", "SLOs (measured, limit)", "result", "run"],
    drills.map((r) => {
      const t = totals(r);
      const slos = r.drill.slos.map(
        (s) =>
          `${s.name}: ${formatQuantity(s.measured, s.unit)} (${s.comparison === "atMost" ? "≤" : "≥"} ${formatNumber(s.limit)})`,
      );
      return [
        `\`${r.drill.name}\``,
        r.drill.description,
        `${formatCount(t.errors)} / ${formatCount(t.transactions + t.errors)}`,
        slos.join("; "),
        r.drill.pass ? PASS : FAIL,
        `${r.meta.startedAt.slice(0, 10)}, PgBouncer ${r.meta.pgbouncerVersion}`,
      ];
    }),
  );
}

const BEGIN = (name: string) =>
  `<!-- results:${name} (generated from docs/results: npm run results) -->`;
const END = (name: string) => `<!-- /results:${name} -->`;

/** The generated sections of a document, by name. */
export function generatedSections(records: readonly ResultRecord[]): Record<string, string> {
  const sections: Record<string, string> = { drills: drillTable(records) };
  for (const r of records.filter((r) => !r.drill)) {
    sections[resultFileName(r).replace(/\.json$/, "")] = loadTable(r);
  }
  return sections;
}

/**
 * The document with every marked section replaced by its generated text. A marker naming a
 * section there is no record for is an error naming it: a table must not silently go stale.
 */
export function fillSections(doc: string, sections: Readonly<Record<string, string>>): string {
  return doc.replace(
    /<!-- results:([a-z0-9-]+) [^>]*-->\n[\s\S]*?<!-- \/results:\1 -->/g,
    (_, name: string) => {
      const text = sections[name];
      if (text === undefined)
        throw new Error(`docs: section "${name}" has no record in docs/results/`);
      return `${BEGIN(name)}\n\n${text}\n\n${END(name)}`;
    },
  );
}
