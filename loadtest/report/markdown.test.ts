import { describe, expect, test } from "vitest";
import { chartSpecs } from "./charts.js";
import { renderMarkdown } from "./markdown.js";
import type { RunRecord } from "./types.js";
import { syntheticRunRecord } from "./__fixtures__/run-record.js";

const render = (record: RunRecord) => renderMarkdown(record, chartSpecs(record));
const lines = (markdown: string) => markdown.split("\n");

describe("renderMarkdown", () => {
  const record = syntheticRunRecord();
  const markdown = render(record);

  test("the header names the command, the machine and the versions", () => {
    expect(markdown).toContain(
      "- **Command:** `npm run loadtest -- --drill primary-failover --duration 60s`",
    );
    expect(markdown).toContain("- **Machine:** 8 × AMD EPYC 7B13, 31.3 GiB, Node v22.23.3");
    expect(markdown).toContain(
      `- **Versions:** PgBouncer ${record.meta.pgbouncerVersion}, Postgres 17.6`,
    );
  });

  test("a machine fact or version the harness could not learn reads unknown", () => {
    const vague = syntheticRunRecord();
    Object.assign(vague.meta, { pgbouncerVersion: "", postgresVersion: "" });
    vague.meta.machine.cpuModel = "";
    const text = render(vague);
    expect(text).toContain("- **Machine:** 8 × unknown, 31.3 GiB, Node v22.23.3");
    expect(text).toContain("- **Versions:** PgBouncer unknown, Postgres unknown");
  });

  test("one summary row per service with its numbers, and a total row", () => {
    const orders = record.services.find((s) => s.service === "orders")!;
    expect(lines(markdown)).toContain(
      `| orders | ${orders.shape} | ${orders.clients} | 22,971 | 383 | 3.00 | 11.0 | 27.0 | 31 |`,
    );
    const clients = record.services.reduce((n, s) => n + s.clients, 0);
    expect(lines(markdown)).toContain(
      `| total | — | ${clients.toLocaleString("en-US")} | 156,597 | 2,610 | — | — | — | 44 |`,
    );
  });

  test("comparisons show the ratio, the goal and PASS/FAIL; no goal, no verdict", () => {
    expect(lines(markdown)).toEqual(
      expect.arrayContaining([
        "| pooled vs direct throughput | pooled tps: 2,412 | direct tps: 1,608 | 1.50× | ≥ 1.20× | PASS |",
        "| harness vs pgbench | harness tps: 2,412 | pgbench tps: 3,400 | 0.71× | ≥ 0.80× | FAIL |",
        "| p99 latency pooled vs direct | pooled p99 ms: 14.7 | direct p99 ms: 21 | 0.70× | — | — |",
      ]),
    );
  });

  test("the drill's SLOs read PASS with measured value and bound", () => {
    expect(markdown).toContain("## Drill: primary-failover — PASS");
    expect(markdown).toContain("Fault injected at 20 s, healed at 28 s.");
    expect(lines(markdown)).toEqual(
      expect.arrayContaining([
        "| caller-visible errors | 44 errors | ≤ 100 errors | PASS |",
        "| time to recover | 8 s | ≤ 30 s | PASS |",
        "| acknowledged writes present | 100% | ≥ 100% | PASS |",
        "| duplicates | 0 rows | ≤ 0 rows | PASS |",
      ]),
    );
    // The drill passed but a comparison missed its goal: the headline says so.
    expect(markdown).toContain(
      "**Verdict: FAIL (drill SLOs 4 of 4 met; comparison goals 1 of 2 met)**",
    );
  });

  test("a missed SLO reads FAIL in its row, the drill heading and the verdict", () => {
    const failed = syntheticRunRecord();
    Object.assign(failed.drill!.slos[1]!, { measured: 45, pass: false });
    failed.drill!.pass = false;
    failed.comparisons = failed.comparisons.filter((c) => c.name !== "harness vs pgbench");
    const text = render(failed);
    expect(lines(text)).toContain("| time to recover | 45 s | ≤ 30 s | FAIL |");
    expect(text).toContain("## Drill: primary-failover — FAIL");
    expect(text).toContain(
      "**Verdict: FAIL (drill SLOs 3 of 4 met; comparison goals 1 of 1 met)**",
    );
  });

  test("errors are listed most frequent first", () => {
    const rows = lines(markdown).filter((l) =>
      /^\| (orders|payments|identity) \| [0-9A-Z]/.test(l),
    );
    expect(rows).toEqual([
      "| orders | 57P01 | terminating connection due to administrator command | 31 | 20.0 |",
      "| payments | 08006 | connection failure during failover | 9 | 20.5 |",
      "| identity | TimeoutError | query\\_wait\\_timeout | 4 | 21.0 |",
    ]);
  });

  test("charts are linked relatively, in report order, and notes are listed", () => {
    const links = markdown.match(/!\[[^\]]*\]\([^)]*\)/g);
    expect(links).toEqual([
      "![Throughput](throughput.svg)",
      "![Latency percentiles](latency.svg)",
      "![PgBouncer pools (SHOW POOLS)](pools.svg)",
      "![Errors](errors.svg)",
      "![Memory per process](memory.svg)",
    ]);
    for (const note of record.notes) expect(lines(markdown)).toContain(`- ${note}`);
  });

  test("text from the record cannot add table columns, HTML or lines", () => {
    const hostile = syntheticRunRecord();
    hostile.errors[0]!.message = "bad | worse <script>x</script>\nsecond line";
    const row = lines(render(hostile)).find((l) => l.startsWith("| orders | 57P01"))!;
    expect(row).toBe(
      "| orders | 57P01 | bad \\| worse \\<script\\>x\\</script\\> second line | 31 | 20.0 |",
    );
    expect(row.split(/(?<!\\)\|/).length - 2).toBe(5);
  });

  test("a plain run has no drill section, and says when there is nothing to judge", () => {
    const plain = syntheticRunRecord();
    delete plain.drill;
    plain.comparisons = [];
    plain.errors = [];
    const text = render(plain);
    expect(text).toContain("# Load test report: pooled run");
    expect(text).not.toContain("## Drill");
    expect(text).not.toContain("## Comparisons");
    expect(text).toContain("**Verdict: no SLO or goal to judge in this run**");
    expect(text).toContain("No caller-visible errors.");
  });

  test("the same record renders the same text, ending in one newline", () => {
    expect(render(syntheticRunRecord())).toBe(markdown);
    expect(markdown.endsWith("\n") && !markdown.endsWith("\n\n")).toBe(true);
  });
});
