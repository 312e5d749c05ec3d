import { execFile } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { stringify } from "yaml";
import { afterAll, describe, expect, test } from "vitest";
import { REPO_ROOT } from "../../platform/config.js";
import { rawStack, withField } from "../../platform/fixtures.js";

/** The CLIs as a user runs them: exit codes, output, and no stack trace on bad input. */
const exec = promisify(execFile);
const scratch = await mkdtemp(join(tmpdir(), "pg-pooling-cli-"));
afterAll(() => rm(scratch, { recursive: true, force: true }));

async function cli(
  script: string,
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(
      join(REPO_ROOT, "node_modules/.bin/tsx"),
      [join(REPO_ROOT, "cli", script), ...args],
      { cwd: REPO_ROOT },
    );
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

describe("npm run plan", () => {
  test("--stack prod prints the budget per node, pools per host and pool modes with reasons", async () => {
    const { code, stdout } = await cli("plan.ts", ["--stack", "prod"]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/PgBouncer 1\.26\.\d on 3 hosts, .* 1\d{3} clients at peak/);
    expect(stdout).toMatch(/^ {2}primary +1000 /m);
    expect(stdout).toMatch(/^ {2}replica2 /m);
    expect(stdout).toMatch(/notifications +session +LISTEN\/NOTIFY/);
    expect(stdout).toMatch(/max_client_conn/);
  });

  test("--config with an invalid file: exit 2, every problem with its path and value, no stack trace", async () => {
    let raw = withField(rawStack("local"), "database.port", -5432);
    raw = withField(raw, "services.orders.peakTps", 0);
    raw = withField(raw, "pgbouncer.endpoint", "x\ny");
    const file = join(scratch, "bad.yaml");
    await writeFile(file, stringify(raw));
    const { code, stdout, stderr } = await cli("plan.ts", ["--config", file]);
    expect(code).toBe(2);
    expect(stdout).toBe("");
    expect(stderr).toContain(`error: ${file} is invalid (3 problems):`);
    expect(stderr).toContain("database.port must be ≥ 1024, got -5432");
    expect(stderr).toContain("services.orders.peakTps must be > 0, got 0");
    expect(stderr).toContain('pgbouncer.endpoint must be a hostname or address, got "x\\ny"');
    expect(stderr).not.toMatch(/^\s+at /m);
  });

  test("an unknown stack or argument is a usage error", async () => {
    expect((await cli("plan.ts", ["--stack", "staging"])).stderr).toMatch(/cannot be read/);
    expect((await cli("plan.ts", ["--verbose", "x"])).stderr).toMatch(
      /unknown argument "--verbose"/,
    );
  });
});

describe("npm run render", () => {
  test("--stack prod writes every artifact: each host's files for PgBouncer 1.26, the monitoring, the policy report; no secret in them", async () => {
    let out = join(scratch, "prod");
    const { code } = await cli("render.ts", ["--stack", "prod", "--out", out]);
    expect(code).toBe(0);
    expect((await readdir(out)).sort()).toEqual(["hosts", "monitoring", "policy-report.md"]);
    expect((await readdir(join(out, "monitoring"))).sort()).toEqual([
      "alert-rules.yaml",
      "alert-tests.yaml",
      "dashboards",
      "scrape-configs.yaml",
      "services-pod-monitor.yaml",
    ]);
    expect(await readFile(join(out, "policy-report.md"), "utf8")).toMatch(/stack prod/);
    out = join(out, "hosts");
    expect((await readdir(out)).sort()).toEqual(["pgbouncer-1", "pgbouncer-2", "pgbouncer-3"]);
    const ini = await readFile(join(out, "pgbouncer-1", "pgbouncer.ini"), "utf8");
    expect(ini).toMatch(/PgBouncer 1\.26\.\d, prod/);
    expect(ini).toMatch(/^max_prepared_statements = /m);
    const userlist = await readFile(join(out, "pgbouncer-1", "userlist.txt"), "utf8");
    expect(userlist).not.toMatch(/SCRAM-SHA-256\$\d+:/);
    expect(userlist).toMatch(/"orders" "SCRAM-SHA-256\$<redacted/);
    // each cloud host's user-data too, carrying the same files but the userlist, not even
    // redacted: the host's first boot fetches it from Parameter Store
    for (const host of ["pgbouncer-1", "pgbouncer-2", "pgbouncer-3"]) {
      const userData = await readFile(join(out, host, "user-data.yaml"), "utf8");
      expect(userData).toMatch(new RegExp(`^#cloud-config\n# user-data for ${host} `));
      expect(userData).not.toMatch(/SCRAM-SHA-256\$/);
      expect(userData).not.toMatch(/- path: \/etc\/pgbouncer\/userlist\.txt$/m);
      expect(userData).toContain('--names "$PARAMETER_PATH/userlist.txt"');
    }
  });
});
