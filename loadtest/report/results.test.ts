import { readFile } from "node:fs/promises";
import { describe, expect, test } from "vitest";
import { syntheticRunRecord } from "./__fixtures__/run-record.js";
import { fillSections, generatedSections, resultFileName, resultRecord } from "./results.js";
import { committedResults, regeneratedResultsDoc, RESULTS_DOC } from "./results-files.js";

describe("the results the docs quote", () => {
  test("docs/results.md's tables are the ones the committed run records give", async () => {
    expect(await readFile(RESULTS_DOC, "utf8")).toBe(await regeneratedResultsDoc());
  });

  test("every committed drill record passed its SLOs, on the production line", async () => {
    const drills = (await committedResults()).filter((r) => r.drill);
    expect(drills.length).toBeGreaterThanOrEqual(8);
    for (const r of drills) {
      expect(r.drill!.pass, r.drill!.name).toBe(true);
      expect(r.meta.pgbouncerVersion, r.drill!.name).toMatch(/^1\.26\./);
    }
  });

  test("a kept record has no series, and its file is named by what it is", () => {
    const run = syntheticRunRecord();
    const kept = resultRecord(run);
    expect(Object.keys(kept).sort()).toEqual(
      ["comparisons", "meta", "notes", "services", ...(run.drill ? ["drill"] : [])].sort(),
    );
    expect(resultFileName(kept)).toMatch(
      /^(drill-[a-z-]+|loadtest-(pooled|direct)-\d+-clients)\.json$/,
    );
  });

  test("a marker naming a section without a record is an error naming it", () => {
    const doc = "<!-- results:nothing-here (generated) -->\nold\n<!-- /results:nothing-here -->\n";
    expect(() => fillSections(doc, generatedSections([]))).toThrow(/section "nothing-here"/);
  });
});
