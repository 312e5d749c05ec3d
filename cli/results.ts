import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { resultFileName, resultRecord } from "../loadtest/report/results.js";
import {
  regeneratedResultsDoc,
  RESULTS_DIR,
  RESULTS_DOC,
} from "../loadtest/report/results-files.js";
import type { RunRecord } from "../loadtest/report/types.js";
import { validateRunRecord } from "../loadtest/report/validate.js";
import { main, UsageError } from "./args.js";

/**
 * npm run results [-- <report folder> …]: keeps each given run (a folder `npm run loadtest` or
 * `npm run drill` wrote under reports/) in docs/results/, without its series, replacing the
 * record of the same drill or load shape; then regenerates docs/results.md's tables from every
 * kept record.
 */
await main(async () => {
  for (const folder of process.argv.slice(2)) {
    if (folder.startsWith("--")) throw new UsageError(`unknown argument ${JSON.stringify(folder)}`);
    const run = JSON.parse(await readFile(join(folder, "report.json"), "utf8")) as RunRecord;
    validateRunRecord(run);
    const record = resultRecord(run);
    const file = resultFileName(record);
    await writeFile(join(RESULTS_DIR, file), JSON.stringify(record, null, 2) + "\n");
    console.log(`kept ${folder} as docs/results/${file}`);
  }
  await writeFile(RESULTS_DOC, await regeneratedResultsDoc());
  console.log("docs/results.md regenerated");
});
