import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, test } from "vitest";
import { stringify } from "yaml";
import { REPO_ROOT } from "../../platform/config.js";
import { rawStack, withField } from "../../platform/fixtures.js";

/** `npm run check` as a user and CI run it: the report, the exit code. */
const scratch = await mkdtemp(join(tmpdir(), "pg-pooling-check-"));
afterAll(() => rm(scratch, { recursive: true, force: true }));

async function check(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(
      join(REPO_ROOT, "node_modules/.bin/tsx"),
      [join(REPO_ROOT, "cli/check.ts"), ...args],
      { cwd: REPO_ROOT },
    );
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

describe("npm run check", () => {
  // local runs two processes per host: each runs the host's ini, and the budget counts both
  test.each(["dev", "prod", "local"])(
    "--stack %s passes, with the budget per node",
    async (stack) => {
      const { code, stdout } = await check(["--stack", stack]);
      expect(code).toBe(0);
      expect(stdout).toMatch(/^ {2}primary +\d+ /m);
      expect(stdout).toMatch(/^ {2}PASS {2}pooling-connection-budget +mandatory$/m);
      expect(stdout).toMatch(
        /^ {2}SKIP {2}pooling-no-world-ingress +mandatory needs the stack's resources/m,
      );
      expect(stdout).toMatch(/^passed: no mandatory violation$/m);
    },
  );

  test("an over-budget config: exit 1, each node's overrun naming every service's share", async () => {
    const file = join(scratch, "over.yaml");
    await writeFile(file, stringify(withField(rawStack("prod"), "database.maxConnections", 180)));
    const { code, stdout } = await check(["--config", file]);
    expect(code).toBe(1);
    expect(stdout).toMatch(/^ {2}FAIL {2}pooling-connection-budget +mandatory 3 violations$/m);
    expect(stdout).toContain(
      "- node primary: max_connections = 180 (rendered parameter group) leaves primary 149 usable connections (max_connections 180 − superuser 3 − replication 5 − exporters 3 − admin 20) but its pools need 273: accounts 3×5=15, catalog 3×10=30, identity 3×10=30, notifications 3×29=87, orders 3×17=51, payments 3×14=42, reporting 3×6=18",
    );
    for (const service of [
      "accounts",
      "catalog",
      "identity",
      "notifications",
      "orders",
      "payments",
      "reporting",
    ])
      for (const replica of ["replica1", "replica2"])
        expect(stdout).toMatch(new RegExp(`\\b${service}_ro_${replica} 3×\\d+=\\d+`));
    expect(stdout).toMatch(/^FAILED: 3 mandatory violations$/m);
  });

  test("--format markdown: the budget table and the rules, for the job summary", async () => {
    const { code, stdout } = await check(["--stack", "prod", "--format", "markdown"]);
    expect(code).toBe(0);
    expect(stdout).toContain(
      "| node | max_conn | superuser | replication | exporters | admin | usable | pools need | free |",
    );
    expect(stdout).toMatch(/^\| primary \| 1000 \| 3 \| 5 \| 3 \| 20 \| 969 \| \d+ \| \d+ \|$/m);
    expect(stdout).toContain("| pooling-pool-mode | mandatory | ✅ passed |");
  });

  test("--format json for machines; bad usage and invalid configs exit 2", async () => {
    const json = JSON.parse((await check(["--stack", "dev", "--format", "json"])).stdout);
    expect(json.mandatoryViolations).toBe(0);
    expect(json.rules).toHaveLength(11);
    expect((await check(["--stack", "dev", "--format", "yaml"])).code).toBe(2);
    const bad = join(scratch, "bad.yaml");
    await writeFile(bad, stringify(withField(rawStack("prod"), "database.port", -5432)));
    const { code, stderr } = await check(["--config", bad]);
    expect(code).toBe(2);
    expect(stderr).toContain("database.port must be ≥ 1024, got -5432");
  });
});
