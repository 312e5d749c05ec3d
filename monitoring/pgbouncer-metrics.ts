import { metricSpec } from "./catalogue.js";
import {
  CONFIG_METRICS,
  LIST_METRICS,
  metricName,
  SECTIONS,
  UP_METRIC,
  VERSION_METRIC,
  type SectionMapping,
} from "./pgbouncer-columns.js";

/**
 * PgBouncer's admin console as Prometheus text, under pgbouncer_exporter's names, labels and units.
 * The local stack serves this because Debian's exporter crashes on PgBouncer 1.18; production runs
 * the real exporter. Pure: SHOW results in, exposition text out.
 */

/** One admin console row; node-postgres gives int columns as numbers and bigint ones as strings. */
export type Row = Record<string, string | number | null>;

export interface ShowResults {
  version: string;
  config: Row[];
  databases: Row[];
  pools: Row[];
  stats: Row[];
  lists: Row[];
}

/** The commands to run, in order, one per ShowResults field. */
export const SHOW_COMMANDS = {
  version: "SHOW VERSION",
  config: "SHOW CONFIG",
  databases: "SHOW DATABASES",
  pools: "SHOW POOLS",
  stats: "SHOW STATS",
  lists: "SHOW LISTS",
} as const satisfies Record<keyof ShowResults, string>;

interface Sample {
  name: string;
  labels: [string, string][];
  value: number;
}

const SECTION_ROWS: Record<SectionMapping["section"], keyof ShowResults> = {
  databases: "databases",
  pools: "pools",
  stats_totals: "stats",
};

/** A numeric column, or an error naming the command, the row and what it got. */
function numberOf(command: string, row: Row, column: string): number {
  const raw = row[column];
  if (raw === null) return NaN;
  const value = typeof raw === "number" ? raw : Number(raw);
  if (typeof raw === "string" && (raw.trim() === "" || Number.isNaN(value))) {
    throw new Error(`${command} column ${column} must be numeric, got ${JSON.stringify(raw)}`);
  }
  return value;
}

const labelText = (v: string | number | null | undefined) =>
  v === null || v === undefined ? "" : String(v);

function sectionSamples(show: ShowResults): Sample[] {
  return SECTIONS.flatMap((section) => {
    const command = SHOW_COMMANDS[SECTION_ROWS[section.section]];
    return (show[SECTION_ROWS[section.section]] as Row[]).flatMap((row) => {
      const labels = section.labels.map((l): [string, string] => [l, labelText(row[l])]);
      return section.metrics.flatMap((m) => {
        const column = m.columns.find((c) => c in row);
        if (column === undefined) return [];
        return [
          {
            name: metricName(section, m),
            labels,
            value: numberOf(command, row, column) * m.factor,
          },
        ];
      });
    });
  });
}

function keyedSamples(
  rows: Row[],
  keyColumn: string,
  valueColumn: string,
  table: Readonly<Record<string, { name: string }>>,
  command: string,
): Sample[] {
  return rows.flatMap((row) => {
    const metric = table[labelText(row[keyColumn])];
    return metric
      ? [{ name: metric.name, labels: [], value: numberOf(command, row, valueColumn) }]
      : [];
  });
}

/** `\`, `"` and newlines escaped, as the text format requires for label values. */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

function sampleLine(s: Sample): string {
  const labels = [...s.labels].sort(([a], [b]) => a.localeCompare(b));
  const text = labels.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(",");
  return `${s.name}${text ? `{${text}}` : ""} ${formatValue(s.value)}`;
}

/** Prometheus text format 0.0.4: families sorted by name, samples sorted within a family. */
export function pgbouncerExposition(show: ShowResults): string {
  const samples: Sample[] = [
    { name: UP_METRIC, labels: [], value: 1 },
    { name: VERSION_METRIC.name, labels: [[VERSION_METRIC.label, show.version]], value: 1 },
    ...sectionSamples(show),
    ...keyedSamples(show.lists, "list", "items", LIST_METRICS, SHOW_COMMANDS.lists),
    ...keyedSamples(show.config, "key", "value", CONFIG_METRICS, SHOW_COMMANDS.config),
  ];
  const families = new Map<string, string[]>();
  for (const s of samples) {
    const lines = families.get(s.name) ?? [];
    lines.push(sampleLine(s));
    families.set(s.name, lines);
  }
  const out: string[] = [];
  for (const name of [...families.keys()].sort()) {
    const spec = metricSpec(name);
    out.push(`# HELP ${name} ${spec.help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")}`);
    out.push(`# TYPE ${name} ${spec.type}`);
    out.push(...families.get(name)!.sort());
  }
  return out.join("\n") + "\n";
}

/** What `pgbouncer_up 0` looks like: the server answers this when PgBouncer cannot be reached. */
export function pgbouncerDownExposition(): string {
  const spec = metricSpec(UP_METRIC);
  return `# HELP ${UP_METRIC} ${spec.help}\n# TYPE ${UP_METRIC} ${spec.type}\n${UP_METRIC} 0\n`;
}

/** SHOW VERSION's single cell: `PgBouncer 1.18.0`. */
export function versionText(rows: Row[]): string {
  const v = rows[0]?.version;
  if (typeof v !== "string")
    throw new Error(`SHOW VERSION must return a version text, got ${JSON.stringify(v)}`);
  return v;
}
