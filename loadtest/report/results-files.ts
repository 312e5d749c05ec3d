import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { format } from "prettier";
import { REPO_ROOT } from "../../platform/config.js";
import { fillSections, generatedSections, type ResultRecord } from "./results.js";

/** Where the committed run records live, and the document generated from them. */
export const RESULTS_DIR = join(REPO_ROOT, "docs", "results");
export const RESULTS_DOC = join(REPO_ROOT, "docs", "results.md");

/** Every committed record, in file-name order. */
export async function committedResults(): Promise<ResultRecord[]> {
  const names = (await readdir(RESULTS_DIR)).filter((n) => n.endsWith(".json")).sort();
  return Promise.all(
    names.map(
      async (n) => JSON.parse(await readFile(join(RESULTS_DIR, n), "utf8")) as ResultRecord,
    ),
  );
}

/**
 * docs/results.md as it must read: its generated sections filled from the committed records, and
 * formatted as `prettier --check` wants it.
 */
export async function regeneratedResultsDoc(): Promise<string> {
  const doc = await readFile(RESULTS_DOC, "utf8");
  const filled = fillSections(doc, generatedSections(await committedResults()));
  return format(filled, { parser: "markdown", filepath: RESULTS_DOC });
}
