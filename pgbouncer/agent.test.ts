import { execFile } from "node:child_process";
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, test } from "vitest";
import { loadStack } from "../platform/config.js";
import { buildPlan } from "../platform/plan.js";
import {
  AGENT_ENV,
  AGENT_REVISION,
  applyDocument,
  applyScript,
  DELIVERED_FILES,
  deliveredFiles,
  renderAgentEnv,
  renderFirstBoot,
  type DeliveredFiles,
} from "./agent.js";
import { fixtureVerifiers } from "./fixtures.js";
import { PRODUCTION_LAYOUT } from "./layout.js";
import { SYSTEMD_RELOAD } from "./logrotate.js";
import { renderHostFiles, userlistEntries } from "./render.js";
import { RenderError } from "./sanitize.js";

/**
 * The apply script is run for real by /bin/sh in a scratch root, with the commands that touch
 * AWS or the service manager (aws, systemctl, apt-get, cloud-init, dpkg-query) replaced by stubs
 * that record their calls, so the order of drain → install → restart → rejoin is what is tested.
 */
const exec = promisify(execFile);
const scratch = await mkdtemp(join(tmpdir(), "pg-pooling-agent-"));
afterAll(() => rm(scratch, { recursive: true, force: true }));

const plan = buildPlan(loadStack("prod"));
const agent = {
  host: "pgbouncer-1",
  region: "eu-west-1",
  parameterPath: "/pg-pooling/prod/pgbouncer-1",
  targetGroupArn: "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/tg/0123abcd",
};
const files = deliveredFiles(
  plan,
  renderHostFiles({
    plan,
    host: plan.hosts[0]!,
    upstreams: { primary: "primary.db.internal", replicas: ["r1", "r2"], port: 5432 },
    layout: PRODUCTION_LAYOUT,
    users: userlistEntries(plan, fixtureVerifiers(plan)),
    reloadCommand: SYSTEMD_RELOAD,
  }),
);

const STUBS: Record<string, string> = {
  aws: 'echo "aws $*" >> "$CALLS"; if [ "$1 $2" = "ssm get-parameters-by-path" ]; then cat "$PARAMS"; fi',
  systemctl:
    'echo "systemctl $*" >> "$CALLS"; if [ "$1" = restart ] && [ -n "${FAIL_RESTART:-}" ]; then exit 1; fi',
  "apt-get": 'echo "apt-get $*" >> "$CALLS"',
  "cloud-init": "echo i-0123456789abcdef0",
  "dpkg-query": 'echo "${INSTALLED:-1.25.2-1.pgdg120+1}"',
  // the real install, minus the ownership (the scratch run need not be root)
  install:
    'while [ $# -gt 2 ]; do case "$1" in -m) mode=$2; shift 2 ;; -o|-g) shift 2 ;; *) shift ;; esac; done; mkdir -p "$(dirname "$2")"; cp "$1" "$2"; chmod "$mode" "$2"',
};

interface Run {
  code: number;
  calls: string[];
  stdout: string;
  root: string;
}

let runs = 0;
async function apply(
  action: string,
  onHost: Partial<DeliveredFiles>,
  stored: DeliveredFiles,
  env: Record<string, string> = {},
): Promise<Run> {
  const root = join(scratch, `run-${++runs}`);
  const bin = join(root, "bin");
  await mkdir(bin, { recursive: true });
  for (const [name, body] of Object.entries(STUBS)) {
    await writeFile(join(bin, name), `#!/bin/sh\n${body}\n`);
    await chmod(join(bin, name), 0o755);
  }
  await mkdir(dirname(root + AGENT_ENV), { recursive: true });
  await writeFile(root + AGENT_ENV, renderAgentEnv(plan, agent));
  for (const [name, text] of Object.entries(onHost)) {
    const path = root + DELIVERED_FILES[name as keyof DeliveredFiles].path;
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, text);
  }
  const params = join(root, "parameters.json");
  const Parameters = Object.entries(stored).map(([name, Value]) => ({
    Name: `${agent.parameterPath}/${name}`,
    Value,
  }));
  await writeFile(params, JSON.stringify({ Parameters }));
  // what SSM does with the document's parameters before running the script
  const script = applyScript(root)
    .join("\n")
    .replace("{{ action }}", action)
    .replace("{{ revision }}", "a".repeat(64));
  const calls = join(root, "calls");
  await writeFile(calls, "");
  const options = {
    env: {
      ...process.env,
      ...env,
      PATH: `${bin}:${process.env.PATH}`,
      CALLS: calls,
      PARAMS: params,
    },
  };
  let code = 0;
  let stdout = "";
  try {
    stdout = (await exec("/bin/sh", ["-c", script], options)).stdout;
  } catch (e) {
    code = (e as { code: number }).code;
    stdout = (e as { stdout: string }).stdout;
  }
  const lines = (await readFile(calls, "utf8")).split("\n").filter(Boolean);
  return { code, stdout, root, calls: lines.map((l) => l.replace(/ --region .*/, "")) };
}

const changedIni = { ...files, "pgbouncer.ini": files["pgbouncer.ini"].replace("= 779", "= 900") };

describe("the SSM apply script, run by /bin/sh", () => {
  test("reload: installs the changed files atomically with their modes, then RELOAD, no drain", async () => {
    const rotated = {
      ...changedIni,
      "userlist.txt": files["userlist.txt"].replace('"accounts"', '"acc"'),
    };
    const run = await apply("reload", files, rotated);
    expect(run.code).toBe(0);
    expect(run.calls).toEqual([
      "aws ssm get-parameters-by-path",
      "systemctl reload pgbouncer.service",
    ]);
    const ini = run.root + DELIVERED_FILES["pgbouncer.ini"].path;
    expect(await readFile(ini, "utf8")).toBe(rotated["pgbouncer.ini"]);
    expect((await stat(ini)).mode & 0o777).toBe(0o640);
    expect((await stat(run.root + DELIVERED_FILES["userlist.txt"].path)).mode & 0o777).toBe(0o600);
    expect(await readFile(run.root + AGENT_REVISION, "utf8")).toBe("a".repeat(64) + "\n");
    expect(run.stdout).toContain("reloading PgBouncer for revision");
    expect(run.stdout).toContain(" pgbouncer.ini userlist.txt");
  });

  test("rolling-restart: leave the load balancer, restart, rejoin and wait until in service", async () => {
    const run = await apply("rolling-restart", files, changedIni);
    expect(run.code).toBe(0);
    // fetched first, so a missing file stops the run before the host leaves the load balancer
    expect(run.calls).toEqual([
      "aws ssm get-parameters-by-path",
      "aws elbv2 deregister-targets",
      "aws elbv2 wait target-deregistered",
      "systemctl daemon-reload",
      "systemctl restart pgbouncer.service",
      "aws elbv2 register-targets",
      "aws elbv2 wait target-in-service",
    ]);
  });

  test("rolling-restart to a new pinned release installs it before the restart", async () => {
    const run = await apply("rolling-restart", files, files, { INSTALLED: "1.25.1-1.pgdg120+1" });
    expect(run.code).toBe(0);
    const install = run.calls.findIndex((c) => c.startsWith("apt-get install"));
    expect(install).toBeGreaterThan(0);
    expect(run.calls[install]).toContain("--force-confold pgbouncer");
    expect(install).toBeLessThan(run.calls.indexOf("systemctl restart pgbouncer.service"));
  });

  test("a failed restart exits non-zero and puts the host back if PgBouncer still serves", async () => {
    const run = await apply("rolling-restart", files, changedIni, { FAIL_RESTART: "1" });
    expect(run.code).not.toBe(0);
    expect(run.calls.at(-1)).toBe("aws elbv2 register-targets");
  });

  test("a file missing from Parameter Store stops before anything is applied", async () => {
    const { "userlist.txt": _missing, ...partial } = files;
    const run = await apply("rolling-restart", files, partial as DeliveredFiles);
    expect(run.code).not.toBe(0);
    expect(run.stdout).toContain("userlist.txt is missing under /pg-pooling/prod/pgbouncer-1");
    // the host never left the load balancer
    expect(run.calls).toEqual(["aws ssm get-parameters-by-path"]);
  });

  test("an unknown action is refused", async () => {
    expect((await apply("restart-everything", files, files)).code).toBe(2);
  });
});

describe("the SSM document and the host scripts", () => {
  test("the document only accepts the three actions and a SHA-256 revision", () => {
    const doc = applyDocument() as {
      parameters: Record<string, { allowedValues?: string[]; allowedPattern?: string }>;
    };
    expect(doc.parameters.action!.allowedValues).toEqual(["none", "reload", "rolling-restart"]);
    expect(doc.parameters.revision!.allowedPattern).toBe("^[0-9a-f]{64}$");
  });

  test("both scripts are valid sh", async () => {
    for (const script of [applyScript().join("\n"), renderFirstBoot(plan)]) {
      await expect(exec("/bin/sh", ["-n", "-c", script])).resolves.toBeDefined();
    }
  });

  test("first boot makes exactly the TLS files the ini names", () => {
    const boot = renderFirstBoot(plan);
    for (const key of ["client_tls_key_file", "client_tls_cert_file", "server_tls_ca_file"]) {
      const path = new RegExp(`^${key} = (.*)$`, "m").exec(files["pgbouncer.ini"])![1]!;
      expect(boot).toContain(path);
    }
    expect(boot).toContain("truststore.pki.rds.amazonaws.com/$REGION/$REGION-bundle.pem");
  });

  test.each([
    ["host", "pgbouncer-1\nREGION=evil"],
    ["region", "eu-west-1; rm -rf /"],
    ["targetGroupArn", "arn with spaces"],
  ])("agent.%s with shell text is refused, naming the field", (field, value) => {
    expect(() => renderAgentEnv(plan, { ...agent, [field]: value })).toThrow(RenderError);
    expect(() => renderAgentEnv(plan, { ...agent, [field]: value })).toThrow(/^agent\.[A-Z_]+ /);
  });
});
