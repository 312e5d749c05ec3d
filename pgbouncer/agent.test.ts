import { execFile } from "node:child_process";
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, test } from "vitest";
import { loadStack } from "../platform/config.js";
import { rawStack, withField } from "../platform/fixtures.js";
import { buildPlan } from "../platform/plan.js";
import { validateStackConfig } from "../platform/validate.js";
import {
  AGENT_ENV,
  AGENT_REVISION,
  applyDocument,
  applyScript,
  renderAgentEnv,
  renderFirstBoot,
} from "./agent.js";
import {
  DELIVERED_FILES,
  deliveredFiles,
  hostFileTargets,
  withheldFileTargets,
  type DeliveredFiles,
} from "./delivered-files.js";
import { fixtureVerifiers } from "./fixtures.js";
import { PRODUCTION_LAYOUT } from "./layout.js";
import { renderHostFiles, userlistEntries } from "./render.js";
import { RenderError } from "./sanitize.js";
import { firstBootSecrets, SECRET_FILES } from "./secret-files.js";
import { tlsFileTargets } from "./tls-files.js";

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
/** The same stack with client TLS off: no TLS pair. */
const off = buildPlan(
  validateStackConfig(withField(rawStack("prod"), "pgbouncer.tls.client", "disable")),
);
/** Every file the apply script installs, the TLS pair the fleet's CA issued included. */
const targets = hostFileTargets(plan);
const TLS_PAIR = { "pgbouncer.crt": "certificate 1\n", "pgbouncer.key": "private key 1\n" };
const files: DeliveredFiles & typeof TLS_PAIR = {
  ...deliveredFiles(
    plan,
    renderHostFiles({
      plan,
      host: plan.hosts[0]!,
      upstreams: { primary: "primary.db.internal", replicas: ["r1", "r2"], port: 5432 },
      layout: PRODUCTION_LAYOUT,
      users: userlistEntries(plan, fixtureVerifiers(plan)),
    }),
  ),
  ...TLS_PAIR,
};

const STUBS: Record<string, string> = {
  aws: 'echo "aws $*" >> "$CALLS"; case "$1 $2" in "ssm get-parameters"*) cat "$PARAMS" ;; esac',
  systemctl:
    'echo "systemctl $*" >> "$CALLS"; if [ "$1" = restart ] && [ -n "${FAIL_RESTART:-}" ]; then exit 1; fi',
  "apt-get": 'echo "apt-get $*" >> "$CALLS"',
  "cloud-init": "echo i-0123456789abcdef0",
  "dpkg-query": 'echo "${INSTALLED:-1.26.1-1.pgdg120+1}"',
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
/** The apply script for `action`, on a host with `onHost`, Parameter Store holding `stored`. */
function apply(
  action: string,
  onHost: Record<string, string>,
  stored: Record<string, string>,
  env: Record<string, string> = {},
  /** Shell run in the scratch root before the script: what an earlier revision left there. */
  before = "",
): Promise<Run> {
  // what SSM does with the document's parameters before running the script
  const script = (root: string) =>
    before.replaceAll("$ROOT", root) +
    applyScript(plan, root)
      .join("\n")
      .replace("{{ action }}", action)
      .replace("{{ revision }}", "a".repeat(64));
  return runOnHost(script, onHost, stored, env);
}

/** A host script run by /bin/sh in a scratch root with the stubs, Parameter Store holding `stored`. */
async function runOnHost(
  script: (root: string) => string,
  onHost: Record<string, string>,
  stored: Record<string, string>,
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
    const path = root + targets[name]!.path;
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, text);
  }
  const params = join(root, "parameters.json");
  const Parameters = Object.entries(stored).map(([name, Value]) => ({
    Name: `${agent.parameterPath}/${name}`,
    Value,
  }));
  await writeFile(params, JSON.stringify({ Parameters }));
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
    stdout = (await exec("/bin/sh", ["-c", script(root)], options)).stdout;
  } catch (e) {
    code = (e as { code: number }).code;
    stdout = (e as { stdout: string }).stdout;
  }
  const lines = (await readFile(calls, "utf8")).split("\n").filter(Boolean);
  return { code, stdout, root, calls: lines.map((l) => l.replace(/ --region .*/, "")) };
}

/** The first boot's fetch of the withheld files, run in a scratch root. */
const firstBoot = (root: string) =>
  [
    `. ${root}${AGENT_ENV}`,
    'log() { echo "first-boot: $*"; }',
    ...firstBootSecrets(withheldFileTargets(plan), root),
  ].join("\n");

const changedIni = {
  ...files,
  "pgbouncer.ini": files["pgbouncer.ini"].replace(
    /^max_client_conn = \d+$/m,
    "max_client_conn = 9000",
  ),
};

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
      "systemctl enable pgbouncer.service",
      "systemctl restart pgbouncer.service",
      "aws elbv2 register-targets",
      "aws elbv2 wait target-in-service",
    ]);
  });

  // GIVEN a host whose earlier revision ran two processes WHEN a one-process revision is rolled
  // THEN process 2's unit is stopped, disabled and removed: no process keeps an old config.
  test("rolling-restart to fewer processes removes the units of the ones gone", async () => {
    const stale = "/etc/systemd/system/pgbouncer-2.service";
    const run = await apply(
      "rolling-restart",
      files,
      files,
      {},
      `mkdir -p $ROOT/etc/systemd/system && echo old > $ROOT${stale}\n`,
    );
    expect(run.code).toBe(0);
    expect(run.calls).toContain("systemctl disable --now pgbouncer-2.service");
    expect(run.calls.indexOf("systemctl disable --now pgbouncer-2.service")).toBeLessThan(
      run.calls.indexOf("systemctl restart pgbouncer.service"),
    );
    await expect(stat(run.root + stale)).rejects.toThrow(/ENOENT/);
    expect(run.stdout).toContain("removing pgbouncer-2.service: not in revision");
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
    const run = await apply("rolling-restart", files, partial);
    expect(run.code).not.toBe(0);
    expect(run.stdout).toContain("userlist.txt is missing under /pg-pooling/prod/pgbouncer-1");
    // the host never left the load balancer
    expect(run.calls).toEqual(["aws ssm get-parameters-by-path"]);
  });

  // GIVEN a host serving the fleet CA's certificate WHEN a new certificate and key are stored and
  // the rollout says reload THEN both are installed with their modes and PgBouncer reloads: no
  // drain, no restart, the same path as a userlist change.
  test("a rotated certificate and key are installed (key 0600) and RELOADed, no drain", async () => {
    const rotated = { ...files, "pgbouncer.crt": "certificate 2\n", "pgbouncer.key": "key 2\n" };
    const run = await apply("reload", files, rotated);
    expect(run.code).toBe(0);
    expect(run.calls).toEqual([
      "aws ssm get-parameters-by-path",
      "systemctl reload pgbouncer.service",
    ]);
    const tls = tlsFileTargets(plan)!;
    expect(await readFile(run.root + tls["pgbouncer.key"].path, "utf8")).toBe("key 2\n");
    expect((await stat(run.root + tls["pgbouncer.key"].path)).mode & 0o777).toBe(0o600);
    expect((await stat(run.root + tls["pgbouncer.crt"].path)).mode & 0o777).toBe(0o644);
    expect(run.stdout).toContain(" pgbouncer.crt pgbouncer.key");
  });

  test("a TLS file missing from Parameter Store stops before anything is applied", async () => {
    const { "pgbouncer.key": _missing, ...partial } = files;
    const run = await apply("reload", files, partial);
    expect(run.code).not.toBe(0);
    expect(run.stdout).toContain("pgbouncer.key is missing under /pg-pooling/prod/pgbouncer-1");
    expect(run.calls).toEqual(["aws ssm get-parameters-by-path"]);
  });

  test("an unknown action is refused", async () => {
    expect((await apply("restart-everything", files, files)).code).toBe(2);
  });
});

describe("the SSM document and the host scripts", () => {
  test("the document only accepts the three actions and a SHA-256 revision", () => {
    const doc = applyDocument(plan) as {
      parameters: Record<string, { allowedValues?: string[]; allowedPattern?: string }>;
    };
    expect(doc.parameters.action!.allowedValues).toEqual(["none", "reload", "rolling-restart"]);
    expect(doc.parameters.revision!.allowedPattern).toBe("^[0-9a-f]{64}$");
  });

  test("both scripts are valid sh", async () => {
    for (const script of [applyScript(plan).join("\n"), renderFirstBoot(plan)]) {
      await expect(exec("/bin/sh", ["-n", "-c", script])).resolves.toBeDefined();
    }
  });

  test("the TLS pair goes where the ini names it: key 0600 and the certificate, owned by PgBouncer's user", () => {
    const ini = files["pgbouncer.ini"];
    const named = (key: string) => new RegExp(`^${key} = (.*)$`, "m").exec(ini)![1]!;
    expect(tlsFileTargets(plan)).toEqual({
      "pgbouncer.crt": { path: named("client_tls_cert_file"), mode: "0644", owner: "postgres" },
      "pgbouncer.key": { path: named("client_tls_key_file"), mode: "0600", owner: "postgres" },
    });
    // no client TLS, no pair
    expect(tlsFileTargets(off)).toBeUndefined();
  });

  // GIVEN client TLS on or off WHEN the first boot's fetch is rendered THEN it always fetches the
  // userlist (0600, PgBouncer's user, at auth_file) and the TLS pair only with client TLS; the
  // ones stored encrypted are the verifiers and the key.
  test("the withheld files: the userlist always, the TLS pair with client TLS; the secret ones", () => {
    const userlist = { path: PRODUCTION_LAYOUT.authFile, mode: "0600", owner: "postgres" };
    expect(DELIVERED_FILES["userlist.txt"]).toEqual(userlist);
    expect(withheldFileTargets(plan)).toEqual({
      "userlist.txt": userlist,
      ...tlsFileTargets(plan),
    });
    expect(withheldFileTargets(off)).toEqual({ "userlist.txt": userlist });
    expect(firstBootSecrets(withheldFileTargets(off)).join("\n")).toContain(
      '--with-decryption --names "$PARAMETER_PATH/userlist.txt" --output json',
    );
    expect(SECRET_FILES).toEqual(["userlist.txt", "pgbouncer.key"]);
  });

  // GIVEN a new host WHEN it first boots THEN it makes no certificate of its own and its
  // user-data brought no secret: it fetches the userlist and the pair the fleet's CA issued from
  // its Parameter Store path in one call, decrypted there, and installs them 0600 (the
  // certificate 0644) before PgBouncer starts.
  test("first boot fetches the userlist and the fleet CA's pair from Parameter Store, generates no certificate", async () => {
    const boot = renderFirstBoot(plan);
    expect(boot).not.toMatch(/openssl|req -x509|-newkey/);
    expect(boot).toContain(
      'aws ssm get-parameters --region "$REGION" --with-decryption --names "$PARAMETER_PATH/userlist.txt" "$PARAMETER_PATH/pgbouncer.crt" "$PARAMETER_PATH/pgbouncer.key"',
    );
    expect(boot.match(/get-parameters/g)).toHaveLength(1);
    // and before PgBouncer starts
    const install = boot.indexOf(`"$stage/userlist.txt" ${PRODUCTION_LAYOUT.authFile}`);
    expect(install).toBeGreaterThan(boot.indexOf("get-parameters"));
    expect(install).toBeLessThan(boot.indexOf("systemctl restart"));

    const tls = tlsFileTargets(plan)!;
    const userlist = DELIVERED_FILES["userlist.txt"].path;
    const stored = { "userlist.txt": files["userlist.txt"], ...TLS_PAIR };
    const run = await runOnHost(firstBoot, {}, stored);
    expect(run.code).toBe(0);
    expect(run.calls).toEqual(["aws ssm get-parameters"]);
    expect(await readFile(run.root + userlist, "utf8")).toBe(files["userlist.txt"]);
    expect((await stat(run.root + userlist)).mode & 0o777).toBe(0o600);
    expect(await readFile(run.root + tls["pgbouncer.crt"].path, "utf8")).toBe(
      TLS_PAIR["pgbouncer.crt"],
    );
    expect(await readFile(run.root + tls["pgbouncer.key"].path, "utf8")).toBe(
      TLS_PAIR["pgbouncer.key"],
    );
    expect((await stat(run.root + tls["pgbouncer.key"].path)).mode & 0o777).toBe(0o600);
    expect((await stat(run.root + tls["pgbouncer.crt"].path)).mode & 0o777).toBe(0o644);
  });

  test.each(["userlist.txt", "pgbouncer.key", "pgbouncer.crt"] as const)(
    "first boot without %s in Parameter Store stops before installing anything, naming it and the path",
    async (name) => {
      const { [name]: _missing, ...partial } = {
        "userlist.txt": files["userlist.txt"],
        ...TLS_PAIR,
      };
      const run = await runOnHost(firstBoot, {}, partial);
      expect(run.code).not.toBe(0);
      expect(run.stdout).toContain(
        `${name} is missing under /pg-pooling/prod/pgbouncer-1: not starting PgBouncer`,
      );
      for (const target of Object.values(withheldFileTargets(plan))) {
        await expect(stat(run.root + target.path)).rejects.toThrow(/ENOENT/);
      }
    },
  );

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
