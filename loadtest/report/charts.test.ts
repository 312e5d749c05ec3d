import { beforeAll, describe, expect, test } from "vitest";
import { AXIS_TITLES, chartSpecs, renderCharts, type RenderedChart } from "./charts.js";
import { poolSeries } from "./series.js";
import { FIXTURE_TICKS, syntheticRunRecord } from "./__fixtures__/run-record.js";
import { checkWellFormedXml } from "./__fixtures__/xml.js";

/** Occurrences of one vega mark in an SVG: each line series is one `<path>` with this role. */
const marks = (svg: string, role: "line mark" | "rule mark" | "bar") =>
  svg.split(`aria-roledescription="${role}"`).length - 1;
const byFile = (charts: RenderedChart[]) => new Map(charts.map((c) => [c.file, c.svg]));

describe("checkWellFormedXml (the test's own parser)", () => {
  test.each([
    ["<svg><g></svg></g>", "</svg> closes <g>"],
    ["<svg><g></svg>", "</svg> closes <g>"],
    ["<svg><g/>", "unclosed <svg>"],
    ['<svg a="1" a="2"/>', "repeats an attribute"],
    ["<svg a=1/>", "malformed tag"],
    ["<svg>fish & chips</svg>", "bare &"],
    ["<svg/><svg/>", "second root"],
  ])("refuses %s", (xml, message) => {
    expect(() => checkWellFormedXml(xml)).toThrow(message);
  });

  test("accepts and lists the elements of a well-formed document", () => {
    expect(
      checkWellFormedXml('<svg a="x &amp; y"><g><path d="M0"/></g><text>a &lt; b</text></svg>'),
    ).toEqual(["svg", "g", "path", "text"]);
  });
});

describe("renderCharts", () => {
  const record = syntheticRunRecord();
  let charts: Map<string, string>;
  beforeAll(async () => {
    charts = byFile(await renderCharts(record));
  });

  test("draws throughput, latency, pools, errors and memory, in that order", () => {
    expect([...charts.keys()]).toEqual([
      "throughput.svg",
      "latency.svg",
      "pools.svg",
      "errors.svg",
      "memory.svg",
    ]);
  });

  test("every SVG is well-formed XML with one <svg> root", () => {
    for (const [file, svg] of charts) {
      const elements = checkWellFormedXml(svg);
      expect(elements[0], file).toBe("svg");
      expect(elements.filter((e) => e === "path").length, file).toBeGreaterThan(0);
    }
  });

  // GIVEN the fixture (1 tps series, 3 percentiles, 21 pools × 2 metrics, 3 processes): 21 pools
  // are 7 services' rw entries and their ro entries on each of 2 replicas
  // THEN each chart has exactly one line per series and its axis titles with units.
  test.each([
    ["throughput.svg", 1, [AXIS_TITLES.time, AXIS_TITLES.tps]],
    ["latency.svg", 3, [AXIS_TITLES.time, AXIS_TITLES.latency]],
    ["pools.svg", 21 * 2, [AXIS_TITLES.time, AXIS_TITLES.clWaiting, AXIS_TITLES.svActive]],
    ["memory.svg", 3, [AXIS_TITLES.time, AXIS_TITLES.rss]],
  ] as const)("%s: %i line paths and its axis titles", (file, lines, titles) => {
    const svg = charts.get(file)!;
    expect(marks(svg, "line mark")).toBe(lines);
    for (const title of titles) expect(svg).toContain(`>${title}</text>`);
  });

  test("the pools chart sums hosts: 21 pools, one value per pool and tick", () => {
    const { clWaiting } = poolSeries(record);
    expect(new Set(clWaiting.map((r) => r.series)).size).toBe(21);
    expect(clWaiting).toHaveLength(21 * FIXTURE_TICKS);
    const sample = record.pools.filter((p) => p.t === 21 && p.pool === "orders");
    expect(sample).toHaveLength(2);
    expect(clWaiting.find((r) => r.t === 21 && r.series === "orders")?.value).toBe(
      sample[0]!.clWaiting + sample[1]!.clWaiting,
    );
  });

  test("errors: one bar per tick plus one per error code and service", () => {
    const svg = charts.get("errors.svg")!;
    expect(marks(svg, "bar")).toBe(FIXTURE_TICKS + record.errors.length);
    for (const title of [AXIS_TITLES.errorsPerTick, AXIS_TITLES.errorCount, AXIS_TITLES.errorCode])
      expect(svg).toContain(`>${title}</text>`);
    for (const e of record.errors) expect(svg).toContain(`>${e.code}</text>`);
  });

  test("the drill's fault and heal are vertical rules on every time panel, labelled", () => {
    const panels = {
      "throughput.svg": 1,
      "latency.svg": 1,
      "pools.svg": 2,
      "errors.svg": 1,
      "memory.svg": 1,
    };
    for (const [file, count] of Object.entries(panels)) {
      const svg = charts.get(file)!;
      expect(marks(svg, "rule mark"), file).toBe(2 * count);
      expect(svg, file).toContain(`>fault: ${record.drill!.name}</text>`);
      expect(svg, file).toContain(">healed</text>");
    }
  });

  test("two renders of the same record are byte-identical, with no ids or timestamps inside", async () => {
    const again = byFile(await renderCharts(syntheticRunRecord()));
    for (const [file, svg] of charts) {
      expect(again.get(file), file).toBe(svg);
      expect(svg, file).not.toMatch(/\bid="/);
      expect(svg, file).not.toMatch(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/);
    }
  });
});

describe("chartSpecs", () => {
  test("no memory chart without memory samples, no rules without a drill", async () => {
    const record = syntheticRunRecord();
    record.memory = [];
    delete record.drill;
    const charts = byFile(await renderCharts(record));
    expect([...charts.keys()]).toEqual([
      "throughput.svg",
      "latency.svg",
      "pools.svg",
      "errors.svg",
    ]);
    for (const [file, svg] of charts) expect(marks(svg, "rule mark"), file).toBe(0);
  });

  test("no error breakdown when there are no grouped errors, no pool chart without SHOW POOLS", () => {
    const record = syntheticRunRecord();
    record.errors = [];
    record.pools = [];
    const files = chartSpecs(record).map((c) => c.file);
    expect(files).not.toContain("pools.svg");
    const errors = chartSpecs(record).find((c) => c.file === "errors.svg")!;
    expect("vconcat" in errors.spec && errors.spec.vconcat).toHaveLength(1);
  });

  test("every time panel shares one x domain: the run's duration", () => {
    const record = syntheticRunRecord();
    const domains = JSON.stringify(chartSpecs(record).map((c) => c.spec)).match(
      /"domain":\[[^\]]*\]/g,
    );
    expect(new Set(domains)).toEqual(new Set([`"domain":[0,${FIXTURE_TICKS}]`]));
  });
});
