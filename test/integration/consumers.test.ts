import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, test } from "vitest";
import { loadStack } from "../../platform/config.js";
import { buildPlan } from "../../platform/plan.js";
import { PRODUCTION_LAYOUT, reviewUpstreams } from "../../pgbouncer/layout.js";
import { rawStack, withField } from "../../platform/fixtures.js";
import { validateStackConfig } from "../../platform/validate.js";
import { renderHostFiles, userlistEntries } from "../../pgbouncer/render.js";
import { processPid, renderLocalHost } from "../../local/pgbouncer.js";
import { limitNofile } from "../../policies/ini.js";
import { localLayout } from "../../local/topology.js";
import { adminViaProcess, plan, secrets } from "./helpers.js";

/** Each generated file checked by the program that consumes it. */
const run = promisify(execFile);
const scratch = await mkdtemp(join(tmpdir(), "pg-pooling-consumers-"));
afterAll(() => rm(scratch, { recursive: true, force: true }));

const prod = buildPlan(loadStack("prod"));
const prodFiles = renderHostFiles({
  plan: prod,
  host: prod.hosts[0]!,
  // One address per replica: each replica has its own ro entries.
  upstreams: {
    primary: "primary.db.internal",
    replicas: Array.from(
      { length: prod.config.database.replicas },
      (_, i) => `replica${i + 1}.db.internal`,
    ),
    port: 5432,
  },
  layout: PRODUCTION_LAYOUT,
  users: userlistEntries(prod, "redacted"),
});

async function systemdVerify(
  unitText: string,
  name = "pgbouncer.service",
): Promise<{ ok: boolean; stderr: string }> {
  const dir = await mkdtemp(join(scratch, "unit-"));
  const file = join(dir, name);
  await writeFile(file, unitText);
  try {
    const { stderr } = await run("systemd-analyze", ["verify", file]);
    return { ok: stderr.trim() === "", stderr };
  } catch (e) {
    return { ok: false, stderr: (e as { stderr: string }).stderr };
  }
}

describe("systemd-analyze verify", () => {
  test("the production unit is clean", async () => {
    expect(await systemdVerify(prodFiles["pgbouncer.service"])).toEqual({ ok: true, stderr: "" });
  });
  test("a host of two processes: both production units are clean", async () => {
    const two = buildPlan(
      validateStackConfig(withField(rawStack("prod"), "pgbouncer.processesPerHost", 2)),
    );
    const files = renderHostFiles({
      plan: two,
      host: two.hosts[0]!,
      upstreams: reviewUpstreams("prod", two.config.database.replicas, 5432),
      layout: PRODUCTION_LAYOUT,
      users: userlistEntries(two, "redacted"),
    });
    for (const name of ["pgbouncer.service", "pgbouncer-2.service"])
      expect(await systemdVerify(files[name]!, name), name).toEqual({ ok: true, stderr: "" });
  });
  test("the local unit is clean", async () => {
    expect(
      await systemdVerify(renderLocalHost(plan, plan.hosts[0]!, "redacted")["pgbouncer.service"]),
    ).toEqual({ ok: true, stderr: "" });
  });
  test("and it does catch a broken unit (the check can fail)", async () => {
    const broken = prodFiles["pgbouncer.service"].replace(/^LimitNOFILE=.*$/m, "LimitNOFILE=lots");
    expect((await systemdVerify(broken)).stderr).toMatch(/Failed to parse resource value/);
  });
  // What PgBouncer itself reports it may open, against the limit the kernel holds it to.
  test.each(plan.hosts.map((h) => [h.name, h] as const))(
    "%s: the running process's open-files limit is the unit's and holds every socket it may open",
    async (_, host) => {
      const pid = await processPid(host, 1);
      const limits = await readFile(`/proc/${pid}/limits`, "utf8");
      const soft = Number(/^Max open files\s+(\d+)/m.exec(limits)![1]);
      const unit = renderLocalHost(plan, host, "redacted")["pgbouncer.service"];
      expect(soft).toBe(limitNofile(unit));
      const config = await adminViaProcess<{ key: string; value: string }>(host, 1, "SHOW CONFIG");
      const maxClients = Number(config.find((r) => r.key === "max_client_conn")!.value);
      const databases = await adminViaProcess<{ max_connections: number }>(
        host,
        1,
        "SHOW DATABASES",
      );
      const servers = databases.reduce((n, d) => n + Number(d.max_connections), 0);
      // its own: listeners, log, the admin connection asking, what it holds open now
      const own = (await readdir(`/proc/${pid}/fd`)).length;
      expect(soft).toBeGreaterThanOrEqual(maxClients + servers + own);
    },
  );
});

describe("logrotate", () => {
  test("the production config parses (logrotate --debug)", async () => {
    const file = join(scratch, "prod-logrotate.conf");
    await writeFile(file, prodFiles["logrotate.conf"], { mode: 0o644 });
    const { stderr } = await run("logrotate", [
      "--debug",
      "--state",
      join(scratch, "prod.state"),
      file,
    ]);
    expect(stderr).toMatch(/rotating pattern: \/var\/log\/pgbouncer\/pgbouncer\.log/);
    expect(stderr).not.toMatch(/error:/);
  });

  test("a real rotation on a running local host: PgBouncer reopens its log after the postrotate SIGHUP", async () => {
    const host = plan.hosts[0]!;
    const layout = localLayout(host);
    // logrotate wants its config owned by root and not group-writable: use a copy.
    const conf = join(scratch, "local-logrotate.conf");
    await writeFile(conf, await readFile(join(layout.logFile, "..", "logrotate.conf"), "utf8"), {
      mode: 0o644,
    });
    const { stderr } = await run("logrotate", [
      "--force",
      "--verbose",
      "--state",
      join(scratch, "local.state"),
      conf,
    ]);
    expect(stderr).not.toMatch(/error:/);
    // every process's log is rotated and reopened; a RELOAD is something each one logs
    for (let k = 1; k <= host.processes; k++) {
      const logFile = localLayout(host, undefined, k).logFile;
      expect(existsSync(`${logFile}.1`), logFile).toBe(true);
      await adminViaProcess(host, k, "RELOAD");
      await expect
        .poll(async () => (existsSync(logFile) ? readFile(logFile, "utf8") : ""), { timeout: 5000 })
        .toMatch(/RELOAD command issued/);
    }
  });
});

test("the secrets never reach rendered review files", () => {
  const review = Object.values(renderLocalHost(plan, plan.hosts[0]!, "redacted")).join("\n");
  for (const account of Object.values(secrets.accounts)) {
    expect(review).not.toContain(account.password);
    expect(review).not.toContain(account.verifier);
  }
});
