import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, expect, test } from "vitest";
import { stringify } from "yaml";
import { REPO_ROOT } from "../../platform/config.js";
import { rawStack, withField } from "../../platform/fixtures.js";
import { mockStack } from "./pulumi-mocks.js";

// GIVEN a prod config with three mistakes WHEN `pulumi up` runs the program THEN it stops before
// the first resource, listing the same problems, with the same field paths, as `npm run plan`.
const scratch = await mkdtemp(join(tmpdir(), "pg-pooling-invalid-"));
afterAll(() => rm(scratch, { recursive: true, force: true }));

let raw = withField(rawStack("prod"), "database.port", -5432);
raw = withField(raw, "services.orders.peakTps", 0);
raw = withField(raw, "network.vpcCidr", "10.40.1.0/16");

const problems = (text: string) =>
  text
    .split("\n")
    .filter((l) => l.startsWith("  - "))
    .sort();

test("an invalid config fails before any resource, with npm run plan's field-path errors", async () => {
  const mocked = await mockStack("prod", { raw });
  let error: Error | undefined;
  try {
    await import("../../index.js");
  } catch (e) {
    error = e as Error;
  }
  await mocked.settle();
  expect(error?.message).toMatch(/^stack prod is invalid \(3 problems\):/);
  expect(mocked.resources).toEqual([]);

  const file = join(scratch, "bad.yaml");
  await writeFile(file, stringify(raw));
  const cli = await promisify(execFile)(
    join(REPO_ROOT, "node_modules/.bin/tsx"),
    [join(REPO_ROOT, "cli/plan.ts"), "--config", file],
    { cwd: REPO_ROOT },
  ).catch((e: { stderr: string }) => e);
  const fromPlan = problems(cli.stderr);
  expect(fromPlan).toHaveLength(3);
  expect(problems(error!.message)).toEqual(fromPlan);
  expect(fromPlan).toContain("  - database.port must be ≥ 1024, got -5432");
});
